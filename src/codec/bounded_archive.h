// A cereal input archive over a byte view that reads exactly what
// cereal::PortableBinaryOutputArchive writes, but treats the bytes as hostile:
// every declared size (string length, vector count) is checked against the
// bytes really left before cereal allocates for it, and a bool must be 0 or 1.
// cereal's own PortableBinaryInputArchive resizes to the declared size first,
// so a 4 GB length in a 100-byte record allocated 4 GB before failing.
//
// Throws cereal::Exception on malformed input (records.cpp turns it into a
// CorruptError). Only for the records of records.h: each element of every
// vector they hold takes at least one byte, which is what the size check
// relies on.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>

namespace callmonitor::codec {

class BoundedInputArchive : public cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision> {
public:
    // Reads the endianness byte PortableBinaryOutputArchive writes first.
    explicit BoundedInputArchive(std::string_view bytes)
        : cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision>(this),
          begin_(reinterpret_cast<const unsigned char*>(bytes.data())),
          p_(begin_),
          end_(begin_ + bytes.size()) {
        uint8_t streamLittleEndian = 0;
        loadBinary<1>(&streamLittleEndian, 1);
        if (streamLittleEndian > 1) throw cereal::Exception("bad endianness byte");
        swap_ = streamLittleEndian != uint8_t(cereal::portable_binary_detail::is_little_endian());
    }

    size_t remaining() const { return static_cast<size_t>(end_ - p_); }
    bool atEnd() const { return p_ == end_; }

    // Copies `size` bytes of elements of DataSize bytes each (byte-swapped
    // when the writer's byte order differs).
    template <size_t DataSize> void loadBinary(void* data, size_t size) {
        if (size > remaining()) {
            throw cereal::Exception("record needs " + std::to_string(size) + " more bytes at byte " +
                                    std::to_string(offset()) + ", but only " + std::to_string(remaining()) +
                                    " are left");
        }
        std::memcpy(data, p_, size);
        p_ += size;
        if (swap_ && DataSize > 1) {
            auto* b = static_cast<unsigned char*>(data);
            for (size_t i = 0; i + DataSize <= size; i += DataSize)
                cereal::portable_binary_detail::swap_bytes<DataSize>(b + i);
        }
    }

    // A declared element count: each element takes at least one byte.
    void checkCount(uint64_t n) const {
        if (n > remaining()) {
            throw cereal::Exception("declared size " + std::to_string(n) + " at byte " + std::to_string(offset()) +
                                    " exceeds the " + std::to_string(remaining()) + " bytes left");
        }
    }

private:
    size_t offset() const { return size_t(p_ - begin_); }

    const unsigned char* begin_;
    const unsigned char* p_;
    const unsigned char* end_;
    bool swap_ = false;
};

// Arithmetic values as the portable binary archive stores them; a bool byte
// other than 0/1 is rejected (loading it into a bool would be undefined).
template <class T>
std::enable_if_t<std::is_arithmetic<T>::value> CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, T& t) {
    if constexpr (std::is_same<T, bool>::value) {
        uint8_t b = 0;
        ar.template loadBinary<1>(&b, 1);
        if (b > 1) throw cereal::Exception("bool byte is neither 0 nor 1");
        t = b == 1;
    } else {
        ar.template loadBinary<sizeof(T)>(std::addressof(t), sizeof(t));
    }
}

template <class T> void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::NameValuePair<T>& t) {
    ar(t.value);
}

template <class T> void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::SizeTag<T>& t) {
    uint64_t n = 0;
    ar(n);
    ar.checkCount(n);
    t.size = static_cast<std::remove_reference_t<decltype(t.size)>>(n);
}

template <class T> void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::BinaryData<T>& bd) {
    using TT = std::remove_pointer_t<T>;
    ar.template loadBinary<sizeof(TT)>(bd.data, static_cast<size_t>(bd.size));
}

}  // namespace callmonitor::codec
