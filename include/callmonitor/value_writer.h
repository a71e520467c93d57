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
    void integer(int64_t v) { end(putInteger(begin(1 + detail::kMaxVarintBytes), v)); }
    // Magnitude as little-endian bytes (no leading zero bytes needed).
    void bigInteger(bool negative, const uint8_t* magnitudeLE, size_t n);
    void real(double v) { end(putReal(begin(9), v)); }
    void complex(double re, double im) { end(putComplex(begin(17), re, im)); }
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
    ByteBuffer* buffer() const { return buf_; }  // null: writing into a std::string
    void rewind(size_t mark) {
        if (buf_) buf_->resize(mark);
        else str_->resize(mark);
    }

    // The bytes of the small values, written at p (the caller has the room);
    // each returns where they end. Shared with ValueCursor.
    static char* putInteger(char* p, int64_t v) {  // 1 + kMaxVarintBytes at most
        *p++ = static_cast<char>(Tag::Int);
        return detail::putVarint(p, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
    }
    static char* putReal(char* p, double v) {  // 9
        *p = static_cast<char>(Tag::Float);
        putLE64(p + 1, v);
        return p + 9;
    }
    static char* putComplex(char* p, double re, double im) {  // 17
        *p = static_cast<char>(Tag::Complex);
        putLE64(p + 1, re);
        putLE64(p + 9, im);
        return p + 17;
    }
    static uint8_t tagByte(Tag t, bool memo) { return static_cast<uint8_t>(t) | (memo ? kMemoFlag : 0); }
    // tag | varint n (containers, Backref): 1 + kMaxVarintBytes at most.
    static char* putHeader(char* p, Tag t, uint64_t n, bool memo) {
        *p++ = static_cast<char>(tagByte(t, memo));
        return detail::putVarint(p, n);
    }
    // tag | varint n | n bytes: 1 + kMaxVarintBytes + s.size() at most.
    static char* putText(char* p, Tag t, bool memo, std::string_view s) {
        p = putHeader(p, t, s.size(), memo);
        detail::copyBytes(p, s.data(), s.size());
        return p + s.size();
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

    void tag(Tag t, bool memo = false) {
        char* p = begin(1);
        *p = static_cast<char>(tagByte(t, memo));
        end(p + 1);
    }
    // tag | varint n (containers, Backref).
    void container(Tag t, uint64_t n, bool memo) { end(putHeader(begin(1 + detail::kMaxVarintBytes), t, n, memo)); }
    // tag | varint n | n bytes, with one capacity check into a ByteBuffer.
    void text(Tag t, bool memo, std::string_view s) {
        if (__builtin_expect(buf_ != nullptr, 1)) {
            buf_->advanceTo(putText(buf_->space(1 + detail::kMaxVarintBytes + s.size()), t, memo, s));
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

// ValueWriter's small values (immediates, container headers, Backref) for a
// run of them with one capacity check: the constructor reserves `room` bytes
// at the end of `out` and the writes go there unchecked (the caller bounds
// what it writes by `room`); done() makes them part of `out`, which holds
// none of them before.
class ValueCursor {
public:
    ValueCursor(ByteBuffer& out, size_t room) : out_(out), p_(out.space(room)) {}

    void none() { *p_++ = static_cast<char>(Tag::None); }
    void boolean(bool v) { *p_++ = static_cast<char>(v ? Tag::True : Tag::False); }
    void integer(int64_t v) { p_ = ValueWriter::putInteger(p_, v); }
    void real(double v) { p_ = ValueWriter::putReal(p_, v); }
    void complex(double re, double im) { p_ = ValueWriter::putComplex(p_, re, im); }
    void str(std::string_view utf8) { p_ = ValueWriter::putText(p_, Tag::Str, false, utf8); }
    void bytes(std::string_view data) { p_ = ValueWriter::putText(p_, Tag::Bytes, false, data); }
    void beginList(uint64_t n, bool memo) { p_ = ValueWriter::putHeader(p_, Tag::List, n, memo); }
    void beginTuple(uint64_t n, bool memo) { p_ = ValueWriter::putHeader(p_, Tag::Tuple, n, memo); }
    void beginDict(uint64_t n, bool memo) { p_ = ValueWriter::putHeader(p_, Tag::Dict, n, memo); }
    void backref(uint64_t memoIndex) { p_ = ValueWriter::putHeader(p_, Tag::Backref, memoIndex, false); }

    // Offsets into `out` as ValueWriter's, counting what is written here.
    size_t size() const { return static_cast<size_t>(p_ - out_.data()); }
    void rewind(size_t mark) { p_ = out_.data() + mark; }
    void done() { out_.advanceTo(p_); }

private:
    ByteBuffer& out_;
    char* p_;
};

}  // namespace callmonitor
