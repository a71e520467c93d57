// The cereal metadata records (records.h) fed hostile bytes: declared sizes
// beyond the record, bad bools, every truncation. Each must give a
// CorruptError without allocating for the declared size.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "allocation_probe.h"
#include "callmonitor/errors.h"
#include "callmonitor/records.h"

using namespace callmonitor;
using cmtest::AllocationProbe;

namespace {

constexpr uint64_t k4GiB = uint64_t(1) << 32;

// Overwrites the 8-byte little-endian size cereal writes just before `marker`.
std::string withSizeBefore(std::string bytes, const std::string& marker, uint64_t size) {
    size_t at = bytes.find(marker);
    if (at == std::string::npos || at < 8) throw std::logic_error("marker not in record");
    for (int i = 0; i < 8; ++i) bytes[at - 8 + i] = static_cast<char>((size >> (8 * i)) & 0xFF);
    return bytes;
}

FunctionInfo sampleFunction() {
    FunctionInfo f;
    f.module = "MODULE_MARKER";
    f.qualname = "f";
    f.name = "f";
    f.parameters.resize(2);
    f.parameters[0].name = "PARAM_MARKER";
    f.returnAnnotation = "RET_MARKER";
    return f;
}

// Decoding `bytes` throws CorruptError and allocates less than 1 MiB on the way.
template <class Decode> void expectRefusedWithoutAllocating(Decode decode, const std::string& bytes) {
    AllocationProbe probe;
    EXPECT_THROW(decode(bytes), CorruptError);
    EXPECT_LT(probe.largest(), size_t(1) << 20);
}

}  // namespace

TEST(RecordsHostile, GivenA4GiBStringLengthInASmallFunctionRecordThenCorruptErrorWithoutAllocating) {
    std::string bytes = withSizeBefore(encodeFunctionInfo(sampleFunction()), "MODULE_MARKER", k4GiB);
    ASSERT_LT(bytes.size(), 200u);
    expectRefusedWithoutAllocating(decodeFunctionInfo, bytes);
    try {
        decodeFunctionInfo(bytes);
    } catch (const CorruptError& e) {
        EXPECT_NE(std::string(e.what()).find("declared size 4294967296"), std::string::npos) << e.what();
    }
}

TEST(RecordsHostile, GivenAHugeParameterCountThenCorruptErrorWithoutAllocating) {
    // The vector's size comes right before the first parameter's name size.
    std::string good = encodeFunctionInfo(sampleFunction());
    size_t name = good.find("PARAM_MARKER");
    ASSERT_NE(name, std::string::npos);
    // name size (8) and the Parameter class version (4) precede the name; the count precedes those.
    std::string bytes = good;
    const size_t countAt = name - 8 - 4 - 8;
    for (int i = 0; i < 8; ++i) bytes[countAt + i] = static_cast<char>(((uint64_t(1) << 59) >> (8 * i)) & 0xFF);
    expectRefusedWithoutAllocating(decodeFunctionInfo, bytes);
}

TEST(RecordsHostile, GivenAHugeThreadNameLengthThenCorruptErrorWithoutAllocating) {
    ThreadInfo t;
    t.name = "THREAD_MARKER";
    expectRefusedWithoutAllocating(decodeThreadInfo, withSizeBefore(encodeThreadInfo(t), "THREAD_MARKER", UINT64_MAX));
}

TEST(RecordsHostile, GivenAHugeArgvCountInTheWriterRecordThenCorruptErrorWithoutAllocating) {
    WriterInfo w;
    w.argv = {"ARGV_MARKER"};
    // argv's count precedes the first argument's own size.
    std::string good = encodeWriterInfo(w);
    size_t arg = good.find("ARGV_MARKER");
    ASSERT_NE(arg, std::string::npos);
    std::string bytes = good;
    for (int i = 0; i < 8; ++i) bytes[arg - 16 + i] = static_cast<char>((k4GiB >> (8 * i)) & 0xFF);
    expectRefusedWithoutAllocating(decodeWriterInfo, bytes);
}

TEST(RecordsHostile, GivenABoolByteOtherThanZeroOrOneThenCorruptError) {
    FunctionInfo f = sampleFunction();
    f.signatureKnown = true;
    std::string bytes = encodeFunctionInfo(f);
    // signatureKnown is the byte just before the parameter count.
    size_t name = bytes.find("PARAM_MARKER");
    const size_t boolAt = name - 8 - 4 - 8 - 1;
    ASSERT_EQ(bytes[boolAt], '\x01');
    bytes[boolAt] = '\x02';
    EXPECT_THROW(decodeFunctionInfo(bytes), CorruptError);
}

TEST(RecordsHostile, GivenABadEndiannessByteThenCorruptError) {
    std::string bytes = encodeCaptureStats(CaptureStats{1, 2, 3, 4});
    bytes[0] = '\x07';
    EXPECT_THROW(decodeCaptureStats(bytes), CorruptError);
}

TEST(RecordsHostile, GivenARecordWrittenBigEndianThenItIsReadBack) {
    // PortableBinary's first byte names the writer's byte order; a big-endian
    // writer's record swaps every number.
    ThreadInfo t;
    t.ident = 0x0102030405060708ull;
    std::string little = encodeThreadInfo(t);
    // endian(1) version(4) index(4) ident(8) nativeId(8) size(8) name(0)
    std::string big = little;
    big[0] = '\x00';
    auto swap = [&](size_t at, size_t n) {
        for (size_t i = 0; i < n / 2; ++i) std::swap(big[at + i], big[at + n - 1 - i]);
    };
    swap(1, 4);
    swap(5, 4);
    swap(9, 8);
    swap(17, 8);
    swap(25, 8);
    ThreadInfo back = decodeThreadInfo(big);
    EXPECT_EQ(back.ident, t.ident);
    EXPECT_EQ(back.name, "");
}

TEST(RecordsHostile, GivenEveryTruncationOfEveryRecordKindThenCorruptError) {
    WriterInfo w;
    w.host = "h";
    w.argv = {"a", "b"};
    ThreadInfo t;
    t.name = "worker";
    const std::string records[] = {encodeFunctionInfo(sampleFunction()), encodeThreadInfo(t), encodeWriterInfo(w),
                                   encodeCaptureStats(CaptureStats{})};
    for (size_t n = 0; n < records[0].size(); ++n) EXPECT_THROW(decodeFunctionInfo(records[0].substr(0, n)), CorruptError);
    for (size_t n = 0; n < records[1].size(); ++n) EXPECT_THROW(decodeThreadInfo(records[1].substr(0, n)), CorruptError);
    for (size_t n = 0; n < records[2].size(); ++n) EXPECT_THROW(decodeWriterInfo(records[2].substr(0, n)), CorruptError);
    for (size_t n = 0; n < records[3].size(); ++n) EXPECT_THROW(decodeCaptureStats(records[3].substr(0, n)), CorruptError);
}
