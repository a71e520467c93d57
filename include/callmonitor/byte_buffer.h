// A growable byte buffer whose appends are inline and check the capacity
// once: the capture stage's per-thread record scratch (the call's entry and
// outcome are written into one, value by value, then handed to the Writer as
// a string_view). std::string would do, but under C++17 each of its appends
// is an out-of-line libstdc++ call of 30-40 instructions, and a small call
// makes about twenty of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace callmonitor {

namespace detail {
// The most bytes an unsigned LEB128 varint of 64 bits takes.
inline constexpr size_t kMaxVarintBytes = 10;
// Writes v as an unsigned LEB128 varint at p (room for kMaxVarintBytes);
// returns the end. The one varint encoder (codec/varint.h uses it too).
inline char* putVarint(char* p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = static_cast<char>((v & 0x7F) | 0x80);
        v >>= 7;
    }
    *p++ = static_cast<char>(v);
    return p;
}
// Copies n bytes (no overlap): a short run (a tail, a short str, an
// outcome: most appends of the capture path) inline, without memcpy's call.
inline void copyBytes(char* dst, const char* src, size_t n) {
    if (__builtin_expect(n <= 16, 1)) {
        if (n >= 8) {  // two 8-byte moves, overlapping when n < 16
            uint64_t a, b;
            std::memcpy(&a, src, 8);
            std::memcpy(&b, src + n - 8, 8);
            std::memcpy(dst, &a, 8);
            std::memcpy(dst + n - 8, &b, 8);
        } else if (n >= 4) {
            uint32_t a, b;
            std::memcpy(&a, src, 4);
            std::memcpy(&b, src + n - 4, 4);
            std::memcpy(dst, &a, 4);
            std::memcpy(dst + n - 4, &b, 4);
        } else {
            for (size_t i = 0; i < n; ++i) dst[i] = src[i];
        }
        return;
    }
    std::memcpy(dst, src, n);
}
}  // namespace detail

class ByteBuffer {
public:
    ByteBuffer() = default;
    ~ByteBuffer();
    ByteBuffer(ByteBuffer&& other) noexcept { swap(other); }
    ByteBuffer& operator=(ByteBuffer&& other) noexcept {
        ByteBuffer(std::move(other)).swap(*this);
        return *this;
    }
    ByteBuffer(const ByteBuffer&) = delete;
    ByteBuffer& operator=(const ByteBuffer&) = delete;

    void swap(ByteBuffer& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
    }

    char* data() { return data_; }
    const char* data() const { return data_; }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }
    std::string_view view() const { return {data_, size_}; }
    operator std::string_view() const { return view(); }  // NOLINT: handed to Writer::submit*

    void clear() { size_ = 0; }
    // Shrinking drops the bytes past n (rewinding to a mark); growing appends
    // zero bytes.
    void resize(size_t n) {
        if (n > size_) std::memset(space(n - size_), 0, n - size_);
        size_ = n;
    }

    // The append protocol: space(n) returns where up to n more bytes go
    // (growing the buffer when needed: the one capacity check), the caller
    // writes them, then advanceTo(end of what it wrote). Pointers into the
    // buffer are valid until the next space().
    char* space(size_t n) {
        if (__builtin_expect(capacity_ - size_ < n, 0)) grow(n);
        return data_ + size_;
    }
    void advanceTo(char* end) { size_ = static_cast<size_t>(end - data_); }

    void push_back(char c) {
        *space(1) = c;
        ++size_;
    }
    // `bytes` must not point into this buffer (growing moves it).
    void append(const char* bytes, size_t n) {
        char* p = space(n);
        if (n) std::memcpy(p, bytes, n);
        size_ += n;
    }
    void append(std::string_view bytes) { append(bytes.data(), bytes.size()); }
    void appendVarint(uint64_t v) { advanceTo(detail::putVarint(space(detail::kMaxVarintBytes), v)); }

private:
    // Makes room for n more bytes (at least doubling). Throws std::bad_alloc.
    void grow(size_t n);

    char* data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

}  // namespace callmonitor
