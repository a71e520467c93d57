// The ndarray handler, C++ side: a stored Array value as xt::xarray<T>.
#pragma once

#include <complex>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "callmonitor/errors.h"
#include "callmonitor/value.h"

namespace callmonitor {

// numpy kind and item size that a C++ element type corresponds to.
template <class T> struct DtypeOf;
#define CALLMONITOR_DTYPE(T, K) \
    template <> struct DtypeOf<T> { static constexpr char kind = K; static constexpr size_t size = sizeof(T); };
CALLMONITOR_DTYPE(bool, 'b')
CALLMONITOR_DTYPE(int8_t, 'i')
CALLMONITOR_DTYPE(int16_t, 'i')
CALLMONITOR_DTYPE(int32_t, 'i')
CALLMONITOR_DTYPE(int64_t, 'i')
CALLMONITOR_DTYPE(uint8_t, 'u')
CALLMONITOR_DTYPE(uint16_t, 'u')
CALLMONITOR_DTYPE(uint32_t, 'u')
CALLMONITOR_DTYPE(uint64_t, 'u')
CALLMONITOR_DTYPE(float, 'f')
CALLMONITOR_DTYPE(double, 'f')
CALLMONITOR_DTYPE(std::complex<float>, 'c')
CALLMONITOR_DTYPE(std::complex<double>, 'c')
#undef CALLMONITOR_DTYPE

// Byte-swaps one element in place (for arrays stored in the other byte order).
void swapElementBytes(uint8_t* p, size_t itemSize, bool complexPairs);
bool hostIsLittleEndian();

// Copies an Array value into an xt::xarray<T> (row-major), converting byte
// order. Throws TypeMismatchError naming both dtypes when T does not match.
template <class T>
xt::xarray<T> toXarray(const Value& v) {
    if (v.tag != Tag::Array)
        throw TypeMismatchError("value is not an array (tag " + std::to_string(int(v.tag)) + ")");
    if (v.dtype.kind != DtypeOf<T>::kind || v.dtype.itemSize != DtypeOf<T>::size)
        throw TypeMismatchError("array has dtype " + v.name + ", which is not the requested C++ type (kind '" +
                                std::string(1, DtypeOf<T>::kind) + "', " + std::to_string(DtypeOf<T>::size) +
                                " bytes)");
    std::vector<size_t> shape(v.shape.begin(), v.shape.end());
    size_t n = 1;
    for (size_t s : shape) n *= s;
    if (n * sizeof(T) != v.bytes.size())
        throw TypeMismatchError("array of dtype " + v.name + " holds " + std::to_string(v.bytes.size()) +
                                " bytes, which does not match its shape");
    // A plain buffer, not std::vector<T>: vector<bool> has no data().
    std::unique_ptr<T[]> elems(new T[n ? n : 1]);
    if constexpr (std::is_same_v<T, bool>) {
        for (size_t i = 0; i < n; ++i) elems[i] = v.bytes[i] != 0;  // any nonzero byte is True
    } else if (n) {
        std::memcpy(elems.get(), v.bytes.data(), n * sizeof(T));
    }
    bool swapped = (v.dtype.byteOrder == '>' && hostIsLittleEndian()) ||
                   (v.dtype.byteOrder == '<' && !hostIsLittleEndian());
    if (swapped && sizeof(T) > 1)
        for (size_t i = 0; i < n; ++i)
            swapElementBytes(reinterpret_cast<uint8_t*>(&elems[i]), sizeof(T), DtypeOf<T>::kind == 'c');
    if (v.order == 'F') {
        auto src = xt::adapt<xt::layout_type::column_major>(elems.get(), n, xt::no_ownership(), shape);
        return xt::xarray<T>(src);
    }
    auto src = xt::adapt<xt::layout_type::row_major>(elems.get(), n, xt::no_ownership(), shape);
    return xt::xarray<T>(src);
}

}  // namespace callmonitor
