// Appends encoded values to a byte buffer (see value_format.h for the bytes).
// The writer does not check nesting: a caller that announces a container of n
// items must write exactly n values (2n for Dict) after it.
//
// Two targets: a ByteBuffer (the capture hot path: each value is one inline
// capacity check and raw stores) or a std::string (tools, tests, cold paths:
// each value goes through std::string::append). Either way every value is in
// the target as soon as its call returns.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "callmonitor/byte_buffer.h"
#include "callmonitor/value_format.h"

namespace callmonitor {

struct ArrayHeader {
    std::string_view dtype;        // numpy dtype.str
    char order = 'C';              // 'C' or 'F'
    std::vector<uint64_t> shape;
};

class ValueWriter {
public:
    explicit ValueWriter(ByteBuffer& out) : buf_(&out) {}
    explicit ValueWriter(std::string& out) : str_(&out) {}

    void none() { tag(Tag::None); }
    void boolean(bool v) { tag(v ? Tag::True : Tag::False); }
    void integer(int64_t v) {
        char* p = begin(1 + detail::kMaxVarintBytes);
        *p++ = static_cast<char>(Tag::Int);
        end(detail::putVarint(p, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)));
    }
    // Magnitude as little-endian bytes (no leading zero bytes needed).
    void bigInteger(bool negative, const uint8_t* magnitudeLE, size_t n);
    void real(double v) {
        char* p = begin(9);
        *p = static_cast<char>(Tag::Float);
        putLE64(p + 1, v);
        end(p + 9);
    }
    void complex(double re, double im) {
        char* p = begin(17);
        *p = static_cast<char>(Tag::Complex);
        putLE64(p + 1, re);
        putLE64(p + 9, im);
        end(p + 17);
    }
    void str(std::string_view utf8) { text(Tag::Str, false, utf8); }
    void bytes(std::string_view data) { text(Tag::Bytes, false, data); }
    void byteArray(std::string_view data, bool memo) { text(Tag::ByteArray, memo, data); }

    void beginList(uint64_t n, bool memo) { container(Tag::List, n, memo); }
    void beginTuple(uint64_t n, bool memo) { container(Tag::Tuple, n, memo); }
    void beginDict(uint64_t n, bool memo) { container(Tag::Dict, n, memo); }
    void beginSet(uint64_t n, bool memo) { container(Tag::Set, n, memo); }
    void beginFrozenSet(uint64_t n, bool memo) { container(Tag::FrozenSet, n, memo); }

    // Array with its element bytes inline. `data` holds nbytes bytes in `order`.
    void arrayInline(const ArrayHeader& h, const void* data, size_t nbytes, bool memo);
    // Array whose bytes are stored apart, as payload slot `blobIndex` of this call.
    void arrayBlob(const ArrayHeader& h, uint32_t blobIndex, uint64_t nbytes, bool memo);
    // Starts an inline array and returns where its nbytes bytes must be
    // written (the caller fills them, e.g. with a strided copy, before the
    // next value is written).
    uint8_t* arrayInlineReserve(const ArrayHeader& h, size_t nbytes, bool memo);

    // A str/bytes/bytearray (kind) whose bytes are payload slot `slot`.
    void payloadBytes(Tag kind, uint32_t slot, uint64_t nbytes, bool memo);

    void numpyScalar(std::string_view dtype, const void* data, size_t n);
    // A value of a built-in handler's kind (e.g. "pandas.DataFrame"). Must be
    // followed by exactly one value: its state (docs/handlers.md).
    void beginBuiltin(std::string_view kind, bool memo);
    void handler(std::string_view name, std::string_view payload);
    void pickle(std::string_view typeName, std::string_view payload);
    void opaque(std::string_view typeName, std::string_view repr, std::string_view reason);
    void backref(uint64_t memoIndex) { container(Tag::Backref, memoIndex, false); }
    // Must be followed by exactly one value: the handler's state.
    void beginLegacy(std::string_view handlerName, std::string_view directory);
    // An object by its class and state: must be followed by exactly one
    // value, the state laid out as `form` says (value_format.h).
    void beginObject(std::string_view module, std::string_view qualname, ObjectForm form, bool memo);
    // A function, class or module by its qualified name.
    void reference(RefKind kind, std::string_view module, std::string_view qualname);

    // Bytes in the target so far (its whole size, not only this writer's):
    // a mark to rewind to when a value turns out to need another encoding.
    size_t size() const { return buf_ ? buf_->size() : str_->size(); }
    void rewind(size_t mark) {
        if (buf_) buf_->resize(mark);
        else str_->resize(mark);
    }

private:
    // Bounded appends: begin(n) returns room for n <= kScratch bytes, end()
    // takes where the written bytes end. For a ByteBuffer that is its own
    // storage; for a std::string, scratch_ appended in end().
    static constexpr size_t kScratch = 32;
    char* begin(size_t n) {
        if (__builtin_expect(buf_ != nullptr, 1)) return buf_->space(n);
        return scratch_;
    }
    void end(char* p) {
        if (__builtin_expect(buf_ != nullptr, 1)) buf_->advanceTo(p);
        else str_->append(scratch_, static_cast<size_t>(p - scratch_));
    }
    // Unbounded bytes (text, payloads), after a begin/end header.
    void raw(const void* data, size_t n);

    static uint8_t tagByte(Tag t, bool memo) { return static_cast<uint8_t>(t) | (memo ? kMemoFlag : 0); }
    void tag(Tag t, bool memo = false) {
        char* p = begin(1);
        *p = static_cast<char>(tagByte(t, memo));
        end(p + 1);
    }
    // tag | varint n (containers, Backref).
    void container(Tag t, uint64_t n, bool memo) {
        char* p = begin(1 + detail::kMaxVarintBytes);
        *p++ = static_cast<char>(tagByte(t, memo));
        end(detail::putVarint(p, n));
    }
    // tag | varint n | n bytes, with one capacity check into a ByteBuffer.
    void text(Tag t, bool memo, std::string_view s) {
        if (__builtin_expect(buf_ != nullptr, 1)) {
            char* p = buf_->space(1 + detail::kMaxVarintBytes + s.size());
            *p++ = static_cast<char>(tagByte(t, memo));
            p = detail::putVarint(p, s.size());
            detail::copyBytes(p, s.data(), s.size());
            buf_->advanceTo(p + s.size());
            return;
        }
        container(t, s.size(), memo);
        raw(s.data(), s.size());
    }
    // varint n | n bytes (a str field inside a value).
    void field(std::string_view s) {
        end(detail::putVarint(begin(detail::kMaxVarintBytes), s.size()));
        raw(s.data(), s.size());
    }
    static void putLE64(char* p, double v) {
        uint64_t bits;
        std::memcpy(&bits, &v, 8);
        for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
    }
    void arrayHeader(const ArrayHeader& h, bool memo);

    ByteBuffer* buf_ = nullptr;
    std::string* str_ = nullptr;
    char scratch_[kScratch];
};

}  // namespace callmonitor
