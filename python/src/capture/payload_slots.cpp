#include "capture/payload_slots.h"

#include <cstring>
#include <new>

namespace callmonitor::py {

int64_t addPayload(const PayloadTarget& target, PyObject* obj, const void* current, uint64_t n, uint8_t** fill) {
    std::vector<Payload>& slots = *target.payloads;
    const int64_t slot = static_cast<int64_t>(slots.size());
    *fill = nullptr;
    if (const InputSlots* in = target.sameAs; in && current) {
        for (size_t k = 0; k < in->objects.size(); ++k) {
            if (in->objects[k] == obj && in->sizes[k] == n && in->bytes[k] &&
                std::memcmp(in->bytes[k], current, n) == 0) {
                slots.push_back(Payload::sameAs(static_cast<int32_t>(k)));
                return slot;
            }
        }
    }
    uint8_t* data = new (std::nothrow) uint8_t[n ? n : 1];
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    Payload p;
    p.data.reset(data);
    p.size = n;
    slots.push_back(std::move(p));
    if (target.sources) {
        target.sources->objects.push_back(obj);
        target.sources->bytes.push_back(nullptr);  // set once the copy is known to stay alive
        target.sources->sizes.push_back(n);
    }
    *fill = data;
    return slot;
}

}  // namespace callmonitor::py
