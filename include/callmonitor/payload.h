// Payloads: bytes of a call stored apart from its record (large arrays,
// large bytes/str, inputs and results alike), content-addressed and stored
// once per database. The record names them by slot (value_format.h: Array
// storage 1 and PayloadBytes); the writer maps slots to content hashes.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace callmonitor {

// Which half of a call a payload slot belongs to: slots are numbered from 0
// separately for the inputs and for the result.
enum class Section : uint8_t { Inputs = 0, Result = 1 };

// One payload slot's bytes, handed to the Writer with the record that names
// it. The copy is taken on the caller's thread (the object may change once
// the call runs); hashing and compression happen on the writer thread. The
// buffer is shared, so the capture stage can keep an input's copy alive
// until the call's outcome and compare a returned value against it (a
// result equal to input slot k becomes sameAs(k): no second copy, no second
// hash).
struct Payload {
    std::shared_ptr<uint8_t[]> data;  // the copy of the bytes
    uint64_t size = 0;
    // Result slots only: the same bytes as input slot k of the same call
    // (e.g. an argument returned), so no data: it is stored once.
    int32_t sameAsInput = -1;

    Payload() = default;
    Payload(std::unique_ptr<uint8_t[]> bytes, uint64_t n) : data(std::move(bytes)), size(n) {}
    static Payload copyOf(const void* bytes, uint64_t n) {
        Payload p;
        p.data.reset(new uint8_t[n ? n : 1]);
        if (n) std::memcpy(p.data.get(), bytes, n);
        p.size = n;
        return p;
    }
    static Payload sameAs(int32_t inputSlot) {
        Payload p;
        p.sameAsInput = inputSlot;
        return p;
    }
    std::string_view view() const { return {reinterpret_cast<const char*>(data.get()), size}; }
};

// Compression of payloads, chosen per database (WriterOptions), applied on
// the writer thread. Each stored payload names its own codec, so a reader
// needs no option.
enum class Compression : uint8_t { None = 0, Zstd = 1 };

}  // namespace callmonitor
