// Unsigned LEB128 varints and zigzag mapping, shared by every encoder and parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "callmonitor/byte_buffer.h"  // detail::putVarint, the one encoder

namespace callmonitor {

inline void appendVarint(std::string& out, uint64_t v) {
    if (v < 0x80) {  // most counts, lengths and small ints: one byte
        out.push_back(static_cast<char>(v));
        return;
    }
    char buf[detail::kMaxVarintBytes];
    out.append(buf, static_cast<size_t>(detail::putVarint(buf, v) - buf));
}

// Reads a varint from [*p, end). Returns false (and leaves *p unchanged) on
// truncation or a varint longer than 10 bytes / overflowing 64 bits.
inline bool readVarint(const uint8_t*& p, const uint8_t* end, uint64_t& out) {
    uint64_t v = 0;
    const uint8_t* q = p;
    for (int shift = 0; shift < 64; shift += 7) {
        if (q >= end) return false;
        uint8_t b = *q++;
        if (shift == 63 && (b & 0x7E)) return false;
        v |= static_cast<uint64_t>(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            out = v;
            p = q;
            return true;
        }
    }
    return false;
}

inline uint64_t zigzag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t unzigzag(uint64_t v) {
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

}  // namespace callmonitor
