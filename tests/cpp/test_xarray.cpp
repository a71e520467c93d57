// The ndarray handler's C++ side: Array values as xt::xarray<T>.
#include <complex>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "callmonitor/value.h"
#include "callmonitor/value_writer.h"
#include "ndarray/xarray.h"
#include "value_test_util.h"

using namespace callmonitor;
using namespace cmtest;

namespace {
// Bytes of xs with each element's bytes reversed (the other byte order).
template <class T>
std::string swappedBytes(const std::vector<T>& xs) {
    std::string b = rawBytes(xs);
    for (size_t i = 0; i < b.size(); i += sizeof(T)) std::reverse(b.begin() + i, b.begin() + i + sizeof(T));
    return b;
}
std::string native(const char* rest) { return std::string(hostIsLittleEndian() ? "<" : ">") + rest; }
std::string foreign(const char* rest) { return std::string(hostIsLittleEndian() ? ">" : "<") + rest; }
}  // namespace

TEST(Xarray, HostEndiannessMatchesMemoryLayout) {
    uint32_t one = 1;
    unsigned char first;
    std::memcpy(&first, &one, 1);
    EXPECT_EQ(hostIsLittleEndian(), first == 1);
}

TEST(Xarray, SwapElementBytesReversesWholeItemOrEachComplexHalf) {
    uint8_t a[4] = {1, 2, 3, 4};
    swapElementBytes(a, 4, false);
    EXPECT_EQ(std::vector<uint8_t>(a, a + 4), (std::vector<uint8_t>{4, 3, 2, 1}));
    uint8_t c[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    swapElementBytes(c, 8, true);
    EXPECT_EQ(std::vector<uint8_t>(c, c + 8), (std::vector<uint8_t>{4, 3, 2, 1, 8, 7, 6, 5}));
}

TEST(Xarray, RowMajorArrayKeepsShapeAndElements) {
    auto v = mkArray(native("f8"), {2, 3}, rawBytes(std::vector<double>{1, 2, 3, 4, 5, 6}));
    xt::xarray<double> a = toXarray<double>(*v);
    ASSERT_EQ(a.dimension(), 2u);
    EXPECT_EQ(a.shape()[0], 2u);
    EXPECT_EQ(a.shape()[1], 3u);
    EXPECT_EQ(a(0, 2), 3.0);
    EXPECT_EQ(a(1, 0), 4.0);
}

TEST(Xarray, FortranArrayIsReadColumnMajor) {
    // [[1, 2, 3], [4, 5, 6]] stored in F order.
    auto v = mkArray(native("i4"), {2, 3}, rawBytes(std::vector<int32_t>{1, 4, 2, 5, 3, 6}), 'F');
    xt::xarray<int32_t> a = toXarray<int32_t>(*v);
    EXPECT_EQ(a(0, 0), 1);
    EXPECT_EQ(a(0, 1), 2);
    EXPECT_EQ(a(0, 2), 3);
    EXPECT_EQ(a(1, 0), 4);
    EXPECT_EQ(a(1, 2), 6);
}

TEST(Xarray, ForeignByteOrderIsConverted) {
    auto v = mkArray(foreign("i4"), {3}, swappedBytes(std::vector<int32_t>{1, -2, 70000}));
    xt::xarray<int32_t> a = toXarray<int32_t>(*v);
    EXPECT_EQ(a(0), 1);
    EXPECT_EQ(a(1), -2);
    EXPECT_EQ(a(2), 70000);
    auto d = mkArray(foreign("f8"), {2, 1}, swappedBytes(std::vector<double>{2.5, -1e300}), 'F');
    xt::xarray<double> b = toXarray<double>(*d);
    EXPECT_EQ(b(0, 0), 2.5);
    EXPECT_EQ(b(1, 0), -1e300);
}

TEST(Xarray, ForeignByteOrderComplexSwapsEachPart) {
    std::vector<double> parts{1.5, -2.0, 3.0, 4.25};
    auto v = mkArray(foreign("c16"), {2}, swappedBytes(parts));
    auto a = toXarray<std::complex<double>>(*v);
    EXPECT_EQ(a(0), std::complex<double>(1.5, -2.0));
    EXPECT_EQ(a(1), std::complex<double>(3.0, 4.25));
}

TEST(Xarray, ZeroDimensionalArrayHoldsOneElement) {
    auto v = mkArray(native("f8"), {}, rawBytes(std::vector<double>{7.5}));
    xt::xarray<double> a = toXarray<double>(*v);
    EXPECT_EQ(a.dimension(), 0u);
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(a(), 7.5);
}

TEST(Xarray, EmptyArrayKeepsItsShape) {
    auto v = mkArray(native("f8"), {0, 3}, "");
    xt::xarray<double> a = toXarray<double>(*v);
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(a.shape()[1], 3u);
}

TEST(Xarray, BoolArrayConverts) {
    auto v = mkArray("|b1", {3}, std::string("\x01\x00\x01", 3));
    xt::xarray<bool> a = toXarray<bool>(*v);
    EXPECT_TRUE(a(0));
    EXPECT_FALSE(a(1));
    EXPECT_TRUE(a(2));
}

TEST(Xarray, DecodedBlobArrayConverts) {
    std::vector<float> xs{1, 2, 3, 4};
    std::string blob = rawBytes(xs);
    std::string out;
    ValueWriter w(out);
    w.arrayBlob(ArrayHeader{native("f4"), 'C', {2, 2}}, 0, blob.size(), false);
    auto v = decodeValue(out, [&](uint32_t) { return std::string_view(blob); });
    xt::xarray<float> a = toXarray<float>(*v);
    EXPECT_EQ(a(1, 1), 4.0f);
}

TEST(Xarray, WrongElementTypeThrowsTypeMismatchNamingTheDtype) {
    auto v = mkArray(native("i4"), {1}, rawBytes(std::vector<int32_t>{1}));
    try {
        toXarray<double>(*v);
        FAIL() << "no error";
    } catch (const TypeMismatchError& e) {
        EXPECT_NE(std::string(e.what()).find(native("i4")), std::string::npos);
    }
    EXPECT_THROW(toXarray<int64_t>(*v), TypeMismatchError);
    EXPECT_THROW(toXarray<uint32_t>(*v), TypeMismatchError);
    EXPECT_THROW(toXarray<int32_t>(*mkInt(1)), TypeMismatchError);
}

TEST(Xarray, BytesNotMatchingTheShapeThrowInsteadOfOverreading) {
    auto v = mkArray(native("f8"), {4}, std::string(8, '\0'));  // hand-built, inconsistent
    EXPECT_THROW(toXarray<double>(*v), TypeMismatchError);
}
