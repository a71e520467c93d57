#include "capture/payload_slots.h"

#include <atomic>
#include <cstring>
#include <new>

namespace callmonitor::py {
namespace {
std::atomic<uint64_t> g_copied{0}, g_sameAsInput{0};
}  // namespace

PayloadSlotCounts payloadSlotCounts() {
    return {g_copied.load(std::memory_order_relaxed), g_sameAsInput.load(std::memory_order_relaxed)};
}

int64_t addPayload(const PayloadTarget& target, PyObject* obj, const void* current, uint64_t n, uint8_t** fill) {
    std::vector<Payload>& slots = *target.payloads;
    const int64_t slot = static_cast<int64_t>(slots.size());
    *fill = nullptr;
    if (const InputSlots* in = target.sameAs; in && current) {
        for (size_t k = 0; k < in->objects.size(); ++k) {
            if (in->objects[k] == obj && in->sizes[k] == n && in->bytes[k] &&
                std::memcmp(in->bytes[k], current, n) == 0) {
                slots.push_back(Payload::sameAs(static_cast<int32_t>(k)));
                g_sameAsInput.fetch_add(1, std::memory_order_relaxed);
                return slot;
            }
        }
    }
    Payload p;
    try {
        p.data.reset(new uint8_t[n ? n : 1]);  // shared: the interceptor keeps input copies alive to the outcome
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
        return -1;
    }
    uint8_t* data = p.data.get();
    p.size = n;
    slots.push_back(std::move(p));
    g_copied.fetch_add(1, std::memory_order_relaxed);
    if (target.sources) {
        target.sources->objects.push_back(obj);
        target.sources->bytes.push_back(nullptr);  // set once the copy is known to stay alive
        target.sources->sizes.push_back(n);
    }
    *fill = data;
    return slot;
}

}  // namespace callmonitor::py
