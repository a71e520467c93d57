// Payload slots of the call being recorded: where the bytes of its large
// values (arrays, str, bytes) go, and how a result repeats an input.
#pragma once

#include <Python.h>

#include <cstdint>
#include <vector>

#include "callmonitor/payload.h"

namespace callmonitor::py {

// Values with more bytes than this are payloads (when the section takes
// payloads); smaller ones stay inline in the record.
inline constexpr size_t kInlineValueBytes = 512;

// The input slots of a call, as its result sees them: a result value that is
// the same object as input slot k and still has the bytes captured for it
// becomes Payload::sameAs(k), so an argument returned is stored once.
struct InputSlots {
    std::vector<PyObject*> objects;     // slot -> the object captured (compared, never dereferenced)
    std::vector<const uint8_t*> bytes;  // slot -> its captured copy, alive until the outcome; null: not kept
    std::vector<uint64_t> sizes;
    void clear() {
        objects.clear();
        bytes.clear();
        sizes.clear();
    }
};

struct PayloadTarget {
    std::vector<Payload>* payloads = nullptr;  // null: values stay inline
    InputSlots* sources = nullptr;             // inputs: records each slot's object and size
    const InputSlots* sameAs = nullptr;        // the result: the inputs it may repeat
};

// Adds the next slot for the `n` bytes of `obj`. When it repeats an input
// slot (same object, same size, `current` bytes equal to that slot's copy;
// pass current = null when the bytes are not contiguous) the slot is
// Payload::sameAs(k) and *fill is null. Otherwise *fill is an owned buffer of
// n bytes the caller fills. Returns the slot, or -1 with MemoryError set.
int64_t addPayload(const PayloadTarget& target, PyObject* obj, const void* current, uint64_t n, uint8_t** fill);

// Slots made by addPayload in this process: copies taken, and result slots
// that repeat an input (no copy). Test support (_core._payload_slot_counts).
struct PayloadSlotCounts {
    uint64_t copied = 0;
    uint64_t sameAsInput = 0;
};
PayloadSlotCounts payloadSlotCounts();

}  // namespace callmonitor::py
