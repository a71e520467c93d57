// The value codec (ValueWriter -> ValueParser/decodeValue), call records and
// the cereal metadata records, including hostile input.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "callmonitor/call_record.h"
#include "callmonitor/dtype.h"
#include "callmonitor/errors.h"
#include "callmonitor/records.h"
#include "callmonitor/value.h"
#include "callmonitor/value_parser.h"
#include "callmonitor/value_writer.h"
#include "codec/keys.h"
#include "codec/varint.h"
#include "value_test_util.h"

using namespace callmonitor;
using namespace cmtest;

namespace {

ValuePtr roundTrip(const ValuePtr& v) { return decodeValue(encode(*v)); }

void expectRoundTrip(const ValuePtr& v) {
    ValuePtr back = roundTrip(v);
    EXPECT_TRUE(graphsEqual(v, back));
}

std::string bytesOf(std::initializer_list<int> xs) {
    std::string s;
    for (int x : xs) s.push_back(static_cast<char>(x));
    return s;
}

std::string varint(uint64_t v) {
    std::string s;
    appendVarint(s, v);
    return s;
}

}  // namespace

// --- scalars -------------------------------------------------------------------

TEST(CodecRoundTrip, NoneAndBooleansKeepTheirTags) {
    expectRoundTrip(mk(Tag::None));
    auto t = roundTrip(mkBool(true));
    EXPECT_EQ(t->tag, Tag::True);
    EXPECT_TRUE(t->boolean);
    auto f = roundTrip(mkBool(false));
    EXPECT_EQ(f->tag, Tag::False);
    EXPECT_FALSE(f->boolean);
}

TEST(CodecRoundTrip, IntsAtInt64EdgesAreExact) {
    for (int64_t i : {int64_t(0), int64_t(1), int64_t(-1), int64_t(63), int64_t(64), int64_t(-64), int64_t(-65),
                      int64_t(1) << 62, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::min() + 1}) {
        auto back = roundTrip(mkInt(i));
        ASSERT_EQ(back->tag, Tag::Int);
        EXPECT_EQ(back->integer, i);
    }
}

TEST(CodecRoundTrip, BigIntKeepsSignAndMagnitude) {
    auto v = mk(Tag::BigInt);
    v->negative = true;
    v->bytes = bytesOf({0, 0, 0, 0, 0, 0, 0, 0, 1});  // -(2**64)
    expectRoundTrip(v);
    auto back = roundTrip(v);
    EXPECT_EQ(back->toText(), "-18446744073709551616");
}

TEST(CodecRoundTrip, BigIntWriterDropsLeadingZeroBytes) {
    std::string out;
    ValueWriter w(out);
    uint8_t mag[] = {5, 0, 0};
    w.bigInteger(false, mag, 3);
    auto v = decodeValue(out);
    EXPECT_EQ(v->bytes, std::string(1, '\x05'));
}

TEST(CodecRoundTrip, FloatsAreBitExactIncludingNanPayloadAndNegativeZero) {
    uint64_t payloadNanBits = 0x7FF8000000012345ull;
    double payloadNan;
    std::memcpy(&payloadNan, &payloadNanBits, 8);
    for (double d : {0.0, -0.0, 1.0, -2.5, std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::quiet_NaN(),
                     payloadNan, std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max()}) {
        auto back = roundTrip(mkFloat(d));
        ASSERT_EQ(back->tag, Tag::Float);
        EXPECT_TRUE(sameBits(back->real, d)) << d;
    }
}

TEST(CodecRoundTrip, ComplexKeepsBothParts) {
    auto v = mk(Tag::Complex);
    v->real = -0.0;
    v->imag = std::numeric_limits<double>::infinity();
    expectRoundTrip(v);
}

TEST(CodecRoundTrip, StrKeepsNonAsciiAndSurrogateBytes) {
    expectRoundTrip(mkStr(""));
    expectRoundTrip(mkStr("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
    expectRoundTrip(mkStr("lone surrogate \xed\xa0\x80 and NUL \0 inside", Tag::Str));
    std::string withNul("a\0b", 3);
    auto back = roundTrip(mkStr(withNul));
    EXPECT_EQ(back->bytes, withNul);
}

TEST(CodecRoundTrip, BytesAndByteArrayKeepEveryByte) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    expectRoundTrip(mkStr(all, Tag::Bytes));
    expectRoundTrip(mkStr(all, Tag::ByteArray));
    expectRoundTrip(mkStr("", Tag::ByteArray));
}

TEST(CodecRoundTrip, EveryContainerKindEmptyAndFull) {
    for (Tag t : {Tag::List, Tag::Tuple, Tag::Set, Tag::FrozenSet}) {
        expectRoundTrip(mkSeq(t, {}));
        expectRoundTrip(mkSeq(t, {mkInt(1), mkStr("two"), mk(Tag::None)}));
    }
    expectRoundTrip(mkDict({}));
    expectRoundTrip(mkDict({{mkStr("b"), mkInt(2)}, {mkStr("a"), mkInt(1)}, {mkInt(3), mkSeq(Tag::Tuple, {})}}));
}

TEST(CodecRoundTrip, DictKeepsInsertionOrder) {
    auto back = roundTrip(mkDict({{mkStr("z"), mkInt(1)}, {mkStr("a"), mkInt(2)}}));
    ASSERT_EQ(back->pairs.size(), 2u);
    EXPECT_EQ(back->pairs[0].first->bytes, "z");
    EXPECT_EQ(back->pairs[1].first->bytes, "a");
}

TEST(CodecRoundTrip, NestedContainers) {
    auto v = mkSeq(Tag::List, {mkSeq(Tag::Tuple, {mkDict({{mkStr("k"), mkSeq(Tag::Set, {mkInt(1)})}})}),
                               mkSeq(Tag::FrozenSet, {mkSeq(Tag::List, {})})});
    expectRoundTrip(v);
}

// --- sharing -------------------------------------------------------------------

TEST(CodecSharing, ObjectPassedTwiceDecodesToOneNode) {
    auto shared = mkSeq(Tag::List, {mkInt(1)});
    auto v = mkSeq(Tag::Tuple, {shared, shared});
    std::string bytes = encode(*v);
    EXPECT_NE(bytes.find(static_cast<char>(static_cast<uint8_t>(Tag::Backref))), std::string::npos);
    auto back = decodeValue(bytes);
    ASSERT_EQ(back->items.size(), 2u);
    EXPECT_EQ(back->items[0].get(), back->items[1].get());
}

TEST(CodecSharing, SelfContainingListDecodesToACycle) {
    auto l = mkSeq(Tag::List, {mkInt(1)});
    l->items.push_back(l);
    auto back = roundTrip(l);
    ASSERT_EQ(back->items.size(), 2u);
    EXPECT_EQ(back->items[1].get(), back.get());
    EXPECT_EQ(back->toText(), "[1, [...]]");
    breakCycles(l);
    breakCycles(back);
}

TEST(CodecSharing, DictContainingItselfAsValueDecodesToACycle) {
    auto d = mkDict({});
    d->pairs.emplace_back(mkStr("self"), d);
    auto back = roundTrip(d);
    EXPECT_EQ(back->pairs.at(0).second.get(), back.get());
    EXPECT_EQ(back->toText(), "{'self': {...}}");
    breakCycles(d);
    breakCycles(back);
}

TEST(CodecSharing, SharedArrayAndByteArrayStayShared) {
    auto a = mkArray("<i4", {2}, rawBytes(std::vector<int32_t>{1, 2}));
    auto b = mkStr("xy", Tag::ByteArray);
    auto back = roundTrip(mkSeq(Tag::List, {a, b, a, b}));
    EXPECT_EQ(back->items[0].get(), back->items[2].get());
    EXPECT_EQ(back->items[1].get(), back->items[3].get());
}

TEST(CodecSharing, BackrefToAnIndexNotYetAssignedIsRejected) {
    std::string out;
    ValueWriter w(out);
    w.beginList(2, true);  // memo 0
    w.backref(0);
    w.backref(1);          // nothing has index 1
    EXPECT_THROW(decodeValue(out), DecodeError);
    EXPECT_THROW(decodeValue(bytesOf({0x14, 0x00})), DecodeError);  // a bare backref
}

TEST(CodecSharing, MemoIndicesCountInStreamOrderAcrossNesting) {
    std::string out;
    ValueWriter w(out);
    w.beginList(4, true);   // 0
    w.beginTuple(1, true);  // 1
    w.byteArray("q", true); // 2
    w.backref(2);
    w.backref(1);
    w.backref(0);
    auto v = decodeValue(out);
    ASSERT_EQ(v->items.size(), 4u);
    EXPECT_EQ(v->items[1].get(), v->items[0]->items[0].get());
    EXPECT_EQ(v->items[2].get(), v->items[0].get());
    EXPECT_EQ(v->items[3].get(), v.get());
    breakCycles(v);
}

// --- arrays, numpy scalars, handlers ---------------------------------------------

TEST(CodecArrays, InlineArraysKeepDtypeShapeOrderAndBytes) {
    expectRoundTrip(mkArray("<f8", {2, 3}, rawBytes(std::vector<double>{1, 2, 3, 4, 5, 6})));
    expectRoundTrip(mkArray(">i4", {3, 2}, rawBytes(std::vector<int32_t>{1, 2, 3, 4, 5, 6}), 'F'));
    expectRoundTrip(mkArray("<f8", {}, rawBytes(std::vector<double>{7})));        // 0-d
    expectRoundTrip(mkArray("<f8", {0, 3}, ""));                                   // empty
    expectRoundTrip(mkArray("<M8[ns]", {1}, rawBytes(std::vector<int64_t>{5})));   // datetime
    auto back = roundTrip(mkArray("<M8[ns]", {1}, rawBytes(std::vector<int64_t>{5})));
    EXPECT_EQ(back->dtype.unit, "ns");
    EXPECT_EQ(back->dtype.unit.data(), back->name.data() + 4);  // view into the node's own name
}

TEST(CodecArrays, BlobArrayBytesComeFromTheResolver) {
    std::vector<double> xs(1000);
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(i) * 0.5;
    std::string blob = rawBytes(xs);
    std::string out;
    ValueWriter w(out);
    w.beginList(1, false);
    w.arrayBlob(ArrayHeader{"<f8", 'C', {10, 100}}, 3, blob.size(), false);
    uint32_t asked = 99;
    auto v = decodeValue(out, [&](uint32_t i) {
        asked = i;
        return std::string_view(blob);
    });
    EXPECT_EQ(asked, 3u);
    EXPECT_EQ(v->items[0]->bytes, blob);
    EXPECT_EQ(v->items[0]->shape, (std::vector<uint64_t>{10, 100}));
}

TEST(CodecArrays, BlobArrayWithoutResolverIsADecodeError) {
    std::string out;
    ValueWriter w(out);
    w.arrayBlob(ArrayHeader{"<f8", 'C', {2}}, 0, 16, false);
    try {
        decodeValue(out);
        FAIL() << "no error";
    } catch (const DecodeError& e) {
        EXPECT_NE(std::string(e.what()).find("array stored apart but no blob source"), std::string::npos);
    }
}

TEST(CodecArrays, BlobOfTheWrongSizeIsADecodeError) {
    std::string out;
    ValueWriter w(out);
    w.arrayBlob(ArrayHeader{"<f8", 'C', {2}}, 0, 16, false);
    std::string shortBlob(8, '\0');
    EXPECT_THROW(decodeValue(out, [&](uint32_t) { return std::string_view(shortBlob); }), DecodeError);
}

TEST(CodecArrays, NumpyScalarKeepsDtypeAndBytes) {
    auto v = mk(Tag::NpScalar);
    v->name = "<f8";
    double d = 2.5;
    v->bytes.assign(reinterpret_cast<const char*>(&d), 8);
    auto back = roundTrip(v);
    EXPECT_TRUE(graphsEqual(v, back));
    EXPECT_EQ(back->dtype.kind, 'f');
    EXPECT_EQ(back->dtype.itemSize, 8u);
}

TEST(CodecOther, HandlerPickleOpaqueAndLegacyRoundTrip) {
    auto h = mkStr(std::string("\0\1payload", 9), Tag::Handler);
    h->name = "pkg.MyHandler";
    expectRoundTrip(h);
    expectRoundTrip(mkStr("\x80\x05pickle.", Tag::Pickle));
    auto o = mkStr("<socket fd=3>", Tag::Opaque);
    o->name = "socket.socket";
    o->extra = "cannot pickle";
    expectRoundTrip(o);
    auto l = mk(Tag::Legacy);
    l->name = "old.Handler";
    l->extra = "handlers/f/1";
    l->items.push_back(mkDict({{mkStr("path"), mkStr("x.npy")}}));
    expectRoundTrip(l);
}

// --- decodeValue framing -----------------------------------------------------------

TEST(CodecFraming, TrailingBytesAreRejectedUnlessAllowed) {
    std::string bytes = encode(*mkInt(5)) + encode(*mk(Tag::None));
    EXPECT_THROW(decodeValue(bytes), DecodeError);
    EXPECT_EQ(decodeValue(bytes, {}, false)->integer, 5);
}

TEST(CodecFraming, EmptyInputIsADecodeError) { EXPECT_THROW(decodeValue(""), DecodeError); }

TEST(CodecFraming, SkipValueSkipsExactlyOneValue) {
    auto v = mkSeq(Tag::List, {mkDict({{mkInt(1), mkSeq(Tag::Tuple, {mkStr("x")})}}), mkFloat(1)});
    std::string bytes = encode(*v) + std::string(1, '\0');
    ValueParser p(bytes);
    p.skipValue();
    EXPECT_EQ(p.remaining(), 1u);
}

// --- random trees --------------------------------------------------------------------

TEST(CodecRandom, ThousandsOfRandomTreesRoundTripStructurally) {
    TreeGen gen(20240601);
    for (int i = 0; i < 5000; ++i) {
        ValuePtr v = gen.tree();
        std::string bytes = encode(*v);
        ValuePtr back = decodeValue(bytes);
        ASSERT_TRUE(graphsEqual(v, back)) << "tree " << i;
        // Re-encoding the decoded graph gives the same bytes.
        ASSERT_EQ(encode(*back), bytes) << "tree " << i;
        // Every proper prefix is rejected.
        if (i % 10 == 0)
            for (size_t n = 0; n < bytes.size(); ++n)
                ASSERT_THROW(decodeValue(std::string_view(bytes).substr(0, n)), DecodeError) << "tree " << i << " prefix " << n;
        breakCycles(v);
        breakCycles(back);
        gen.resetPool();
    }
}

// --- deep nesting ------------------------------------------------------------------------

TEST(CodecDeep, HundredThousandNestedListsDecodeWithoutRecursion) {
    const int depth = 100000;
    std::string bytes;
    ValueWriter w(bytes);
    for (int i = 0; i < depth; ++i) w.beginList(1, false);
    w.integer(42);
    ValuePtr v = decodeValue(bytes);
    const Value* p = v.get();
    int levels = 0;
    while (p->tag == Tag::List) {
        ASSERT_EQ(p->items.size(), 1u);
        p = p->items[0].get();
        ++levels;
    }
    EXPECT_EQ(levels, depth);
    EXPECT_EQ(p->integer, 42);
    EXPECT_NO_THROW(v->toText());  // printing is depth-limited
    ValueParser skip(bytes);
    skip.skipValue();
    EXPECT_TRUE(skip.atEnd());
    v.reset();  // freeing is iterative too
}

TEST(CodecDeep, HundredThousandNestedDictsDecode) {
    const int depth = 100000;
    std::string bytes;
    ValueWriter w(bytes);
    for (int i = 0; i < depth; ++i) {
        w.beginDict(1, false);
        w.str("k");
    }
    w.none();
    ValuePtr v = decodeValue(bytes);
    int levels = 0;
    for (const Value* p = v.get(); p->tag == Tag::Dict; p = p->pairs[0].second.get()) ++levels;
    EXPECT_EQ(levels, depth);
}

// --- hostile bytes -------------------------------------------------------------------------

TEST(CodecHostile, EveryTruncationOfARichValueThrows) {
    auto big = mk(Tag::BigInt);
    big->bytes = bytesOf({1, 2, 3, 4, 5, 6, 7, 8, 9});
    auto h = mkStr("payload", Tag::Handler);
    h->name = "H";
    auto sc = mk(Tag::NpScalar);
    sc->name = "<i2";
    sc->bytes = "ab";
    auto leg = mk(Tag::Legacy);
    leg->name = "L";
    leg->extra = "d";
    leg->items.push_back(mkInt(1));
    auto o = mkStr("r", Tag::Opaque);
    o->name = "T";
    o->extra = "why";
    auto shared = mkSeq(Tag::List, {mkInt(300)});
    auto v = mkSeq(Tag::Tuple,
                   {mk(Tag::None), mkBool(true), mkInt(-123456789), big, mkFloat(1.5), mkStr("s\xc3\xa9"),
                    mkStr("b", Tag::Bytes), mkStr("ba", Tag::ByteArray), shared, shared,
                    mkDict({{mkStr("k"), mkSeq(Tag::Set, {mkInt(1)})}}), mkSeq(Tag::FrozenSet, {}),
                    mkArray(">f4", {2, 2}, std::string(16, '\x01'), 'F'), sc, h, mkStr("p", Tag::Pickle), o, leg});
    std::string bytes = encode(*v);
    ASSERT_TRUE(graphsEqual(v, decodeValue(bytes)));
    for (size_t n = 0; n < bytes.size(); ++n)
        EXPECT_THROW(decodeValue(std::string_view(bytes).substr(0, n)), DecodeError) << "prefix " << n;
}

TEST(CodecHostile, RandomByteFlipsNeverCrash) {
    TreeGen gen(7);
    std::mt19937 rng(99);
    int decoded = 0, rejected = 0;
    for (int i = 0; i < 300; ++i) {
        ValuePtr v = gen.tree();
        std::string bytes = encode(*v);
        breakCycles(v);
        gen.resetPool();
        if (bytes.empty()) continue;
        for (int k = 0; k < 30; ++k) {
            std::string m = bytes;
            int flips = 1 + static_cast<int>(rng() % 3);
            for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng());
            try {
                ValuePtr d = decodeValue(m);
                (void)d->toText();
                breakCycles(d);
                ++decoded;
            } catch (const DecodeError&) {
                ++rejected;
            }
        }
    }
    EXPECT_GT(rejected, 0);
    EXPECT_GT(decoded + rejected, 0);
}

TEST(CodecHostile, HugeStrLengthInShortBufferThrowsWithoutAllocating) {
    std::string bytes = "\x07" + varint(uint64_t(1) << 40) + "abc";
    EXPECT_THROW(decodeValue(bytes), DecodeError);
    std::string bytes2 = "\x08" + varint(UINT64_MAX) + "abc";
    EXPECT_THROW(decodeValue(bytes2), DecodeError);
}

TEST(CodecHostile, HugeContainerCountInShortBufferThrows) {
    for (int tag : {0x0A, 0x0B, 0x0C, 0x0D, 0x0E}) {
        std::string bytes = std::string(1, static_cast<char>(tag)) + varint(uint64_t(1) << 60) + "\x00\x00";
        EXPECT_THROW(decodeValue(bytes), DecodeError) << tag;
    }
}

TEST(CodecHostile, NestedContainersEachClaimingTheRestThrow) {
    // Every level announces as many items as bytes remain; only one is there.
    std::string bytes;
    const int levels = 20000;
    for (int i = 0; i < levels; ++i) bytes += "\x0a\x7f";
    EXPECT_THROW(decodeValue(bytes), DecodeError);
}

TEST(CodecHostile, UnknownTagsAreRejected) {
    for (int tag : {0x16, 0x1F, 0x21, 0x7F, 0x96, 0xFF}) EXPECT_THROW(decodeValue(bytesOf({tag, 0, 0, 0})), DecodeError) << tag;
}

TEST(CodecHostile, MemoFlagOnAScalarIsRejected) {
    for (int tag : {0x00, 0x03, 0x05, 0x07, 0x08, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15})
        EXPECT_THROW(decodeValue(bytesOf({tag | 0x80, 0, 0, 0, 0, 0, 0, 0, 0})), DecodeError) << tag;
}

TEST(CodecHostile, OverlongVarintIsRejected) {
    std::string bytes = "\x03" + std::string(10, '\xff') + "\x01";
    EXPECT_THROW(decodeValue(bytes), DecodeError);
}

TEST(CodecHostile, BigIntWithBadSignIsRejected) { EXPECT_THROW(decodeValue(bytesOf({0x04, 2, 1, 5})), DecodeError); }

namespace {
std::string arrayBytes(std::string_view dtype, char order, std::vector<uint64_t> shape, int storage, std::string rest) {
    std::string b = "\x0f" + varint(dtype.size()) + std::string(dtype) + std::string(1, order) + varint(shape.size());
    for (auto s : shape) b += varint(s);
    b.push_back(static_cast<char>(storage));
    return b + rest;
}
}  // namespace

TEST(CodecHostile, ArrayWithBadDtypeStringIsRejected) {
    for (const char* dt : {"f8", "<x8", "<f3", "<M8[", "<f8[ns]", "<i", "", "<M8[n s]"})
        EXPECT_THROW(decodeValue(arrayBytes(dt, 'C', {1}, 0, varint(8) + std::string(8, '\0'))), DecodeError) << dt;
    std::string good = arrayBytes("<f8", 'C', {1}, 0, varint(8) + std::string(8, '\0'));
    EXPECT_NO_THROW(decodeValue(good));
}

TEST(CodecHostile, ArrayShapeOverflowIsRejected) {
    uint64_t big = uint64_t(1) << 32;
    EXPECT_THROW(decodeValue(arrayBytes("<f8", 'C', {big, big, big}, 0, varint(0))), DecodeError);
    EXPECT_THROW(decodeValue(arrayBytes("<f8", 'C', {uint64_t(1) << 61}, 1, varint(0) + varint(0))), DecodeError);
}

TEST(CodecHostile, ArrayByteCountMismatchIsRejected) {
    EXPECT_THROW(decodeValue(arrayBytes("<f8", 'C', {2}, 0, varint(8) + std::string(8, '\0'))), DecodeError);
    EXPECT_THROW(decodeValue(arrayBytes("<f8", 'C', {2}, 0, varint(16) + std::string(8, '\0'))), DecodeError);
    std::string blob(16, '\0');
    EXPECT_THROW(decodeValue(arrayBytes("<f8", 'C', {3}, 1, varint(0) + varint(16)),
                             [&](uint32_t) { return std::string_view(blob); }),
                 DecodeError);
}

TEST(CodecHostile, ArrayBadOrderStorageOrTooManyDimsIsRejected) {
    EXPECT_THROW(decodeValue(arrayBytes("<f8", 'X', {1}, 0, varint(8) + std::string(8, '\0'))), DecodeError);
    EXPECT_THROW(decodeValue(arrayBytes("<f8", 'C', {1}, 7, varint(8) + std::string(8, '\0'))), DecodeError);
    std::vector<uint64_t> dims(65, 1);
    EXPECT_THROW(decodeValue(arrayBytes("<f8", 'C', dims, 0, varint(8) + std::string(8, '\0'))), DecodeError);
}

TEST(CodecHostile, NumpyScalarOfWrongSizeIsRejected) {
    EXPECT_THROW(decodeValue("\x10" + varint(3) + "<f8" + varint(4) + "abcd"), DecodeError);
    EXPECT_THROW(decodeValue("\x10" + varint(3) + "<q8" + varint(8) + "abcdefgh"), DecodeError);
}

TEST(CodecHostile, LegacyWithoutStateIsRejected) {
    EXPECT_THROW(decodeValue("\x15" + varint(1) + "H" + varint(1) + "d"), DecodeError);
}

TEST(CodecHostile, HugeBackrefIndexIsRejected) {
    EXPECT_THROW(decodeValue("\x8a\x01\x14" + varint(UINT64_MAX)), DecodeError);
}

// --- parseDtype --------------------------------------------------------------------------

TEST(DtypeParse, AcceptsPlainNumpyDtypeStrings) {
    struct Case { const char* text; char order, kind; size_t size; const char* unit; };
    for (const Case& c : {Case{"<f8", '<', 'f', 8, ""}, Case{">i4", '>', 'i', 4, ""}, Case{"|b1", '|', 'b', 1, ""},
                          Case{"<c16", '<', 'c', 16, ""}, Case{"<M8[ns]", '<', 'M', 8, "ns"},
                          Case{">m8[25us]", '>', 'm', 8, "25us"}, Case{"<U5", '<', 'U', 20, ""},
                          Case{"|S3", '|', 'S', 3, ""}, Case{"|V16", '|', 'V', 16, ""}, Case{"=u2", '=', 'u', 2, ""},
                          Case{"<f2", '<', 'f', 2, ""}, Case{"|u1", '|', 'u', 1, ""}}) {
        DtypeInfo d;
        ASSERT_TRUE(parseDtype(c.text, d)) << c.text;
        EXPECT_EQ(d.byteOrder, c.order) << c.text;
        EXPECT_EQ(d.kind, c.kind) << c.text;
        EXPECT_EQ(d.itemSize, c.size) << c.text;
        EXPECT_EQ(d.unit, c.unit) << c.text;
    }
}

TEST(DtypeParse, RejectsStructuredMalformedAndOddSizes) {
    for (const char* t : {"", "f8", "<f", "<f3", "<i3", "|b2", "<x4", "<M4", "<M8[]", "<M8[n s]", "<f8[ns]",
                          "<i1234567890", "[('a', '<f8')]", "<O8", "f<8", "<M8[ns", "<i4 "}) {
        DtypeInfo d;
        EXPECT_FALSE(parseDtype(t, d)) << t;
    }
}

// --- call records ----------------------------------------------------------------------------

namespace {
std::string inputsOf(std::vector<ValuePtr> args, std::vector<std::pair<ValuePtr, ValuePtr>> kwargs) {
    return encode(*mkSeq(Tag::Tuple, {mkSeq(Tag::Tuple, std::move(args)), mkDict(std::move(kwargs))}));
}
std::string pendingRecord() {
    std::string rec;
    appendCallHeader(rec, 123456789, 2, 1);
    rec += inputsOf({mkInt(1), mkStr("two"), mkSeq(Tag::List, {mkInt(3)})}, {{mkStr("z"), mkFloat(0.5)}});
    appendEmptyExt(rec);
    appendPending(rec);
    return rec;
}
}  // namespace

TEST(CallRecord, PendingRecordParsesWithInputsAndNoOutcome) {
    std::string rec = pendingRecord();
    CallView v = parseCallRecord(rec, format::CallKey{4, 9});
    EXPECT_EQ(v.key.function, 4u);
    EXPECT_EQ(v.key.invocation, 9u);
    EXPECT_EQ(v.startNs, 123456789u);
    EXPECT_EQ(v.thread, 2u);
    EXPECT_EQ(v.caller, 1u);
    EXPECT_EQ(v.outcome, format::Outcome::Pending);
    DecodedInputs in = decodeInputs(v.inputs);
    ASSERT_EQ(in.args.size(), 3u);
    EXPECT_EQ(in.args[1]->bytes, "two");
    ASSERT_EQ(in.kwargs.size(), 1u);
    EXPECT_EQ(in.kwargs[0].first, "z");
    EXPECT_EQ(in.kwargs[0].second->real, 0.5);
}

TEST(CallRecord, CompletedWithReturnedCarriesDurationAndResult) {
    std::string outcome;
    appendReturned(outcome, 777);
    outcome += encode(*mkSeq(Tag::List, {mkInt(3)}));
    appendEmptyExt(outcome);
    std::string rec = completeRecord(pendingRecord(), outcome);
    CallView v = parseCallRecord(rec);
    EXPECT_EQ(v.outcome, format::Outcome::Returned);
    EXPECT_EQ(v.durationNs, 777u);
    EXPECT_EQ(decodeValue(v.result)->toText(), "[3]");
    EXPECT_EQ(decodeInputs(v.inputs).args.size(), 3u);
}

TEST(CallRecord, CompletedWithRaisedCarriesTypeAndMessage) {
    std::string outcome;
    appendRaised(outcome, 5, "ValueError", "bad \xc3\xa9");
    appendEmptyExt(outcome);
    const std::string record = completeRecord(pendingRecord(), outcome);  // the views point into it
    CallView v = parseCallRecord(record);
    EXPECT_EQ(v.outcome, format::Outcome::Raised);
    EXPECT_EQ(v.durationNs, 5u);
    EXPECT_EQ(v.exceptionType, "ValueError");
    EXPECT_EQ(v.exceptionMessage, "bad \xc3\xa9");
}

TEST(CallRecord, CompletedWithResultSkippedHasNoResult) {
    std::string outcome;
    appendResultSkipped(outcome, 9);
    appendEmptyExt(outcome);
    const std::string record = completeRecord(pendingRecord(), outcome);  // the views point into it
    CallView v = parseCallRecord(record);
    EXPECT_EQ(v.outcome, format::Outcome::ResultSkipped);
    EXPECT_EQ(v.durationNs, 9u);
    EXPECT_TRUE(v.result.empty());
}

TEST(CallRecord, CompletingARecordThatIsNotPendingThrows) {
    std::string outcome;
    appendResultSkipped(outcome, 9);
    appendEmptyExt(outcome);
    std::string done = completeRecord(pendingRecord(), outcome);
    EXPECT_THROW(completeRecord(done, outcome), DecodeError);
    EXPECT_THROW(completeRecord("", outcome), DecodeError);
}

TEST(CallRecord, EveryTruncationOfACompleteRecordThrows) {
    std::string outcome;
    appendReturned(outcome, 1);
    outcome += encode(*mkDict({{mkStr("a"), mkInt(1)}}));
    appendEmptyExt(outcome);
    const std::string records[] = {pendingRecord(), completeRecord(pendingRecord(), outcome)};
    for (const std::string& rec : records) {
        EXPECT_NO_THROW(parseCallRecord(rec));
        for (size_t n = 0; n < rec.size(); ++n) {
            const std::string_view cut = std::string_view(rec).substr(0, n);
            if (&rec == &records[1] && n == rec.size() - 1) {
                // Only the empty outcome ext cut off: that may be left out (format.h), the same call.
                const CallView v = parseCallRecord(cut);
                EXPECT_EQ(v.result, parseCallRecord(rec).result);
                EXPECT_EQ(v.durationNs, 1u);
                continue;
            }
            EXPECT_THROW(parseCallRecord(cut), DecodeError) << n;
        }
    }
}

TEST(CallRecord, TrailingBytesOrUnknownOutcomeAreRejected) {
    EXPECT_THROW(parseCallRecord(pendingRecord() + "x"), DecodeError);
    std::string rec = pendingRecord();
    rec.back() = 9;
    EXPECT_THROW(parseCallRecord(rec), DecodeError);
}

TEST(CallRecord, ThreadIndexBeyondU32IsRejected) {
    std::string rec;
    appendVarint(rec, 1);
    appendVarint(rec, uint64_t(1) << 33);
    appendVarint(rec, 0);
    rec += inputsOf({}, {});
    appendEmptyExt(rec);
    appendPending(rec);
    EXPECT_THROW(parseCallRecord(rec), DecodeError);
}

TEST(CallRecord, CallKeysAreBigEndianAndRoundTrip) {
    format::CallKey k{0x01020304, 0x05};
    std::string b = format::encodeCallKey(k);
    EXPECT_EQ(b, bytesOf({1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 5}));
    format::CallKey back;
    ASSERT_TRUE(format::decodeCallKey(b, back));
    EXPECT_EQ(back, k);
    EXPECT_FALSE(format::decodeCallKey("short", back));
    EXPECT_LT(format::encodeCallKey({1, 2}), format::encodeCallKey({1, 10}));  // byte order = call order
    EXPECT_EQ(format::encodeBlobKey(k, 7).size(), format::kBlobKeySize);
}

// --- decodeInputs ----------------------------------------------------------------------------

TEST(CodecInputs, InputsThatAreNotAnArgsKwargsPairAreRejected) {
    EXPECT_THROW(decodeInputs(encode(*mkInt(1))), DecodeError);
    EXPECT_THROW(decodeInputs(encode(*mkSeq(Tag::Tuple, {mkSeq(Tag::Tuple, {})}))), DecodeError);
    EXPECT_THROW(decodeInputs(encode(*mkSeq(Tag::Tuple, {mkSeq(Tag::List, {}), mkDict({})}))), DecodeError);
    EXPECT_THROW(decodeInputs(encode(*mkSeq(Tag::Tuple, {mkSeq(Tag::Tuple, {}), mkDict({}), mk(Tag::None)}))),
                 DecodeError);
    EXPECT_THROW(decodeInputs(inputsOf({}, {{mkInt(1), mkInt(2)}})), DecodeError);  // non-str kwarg name
}

TEST(CodecInputs, ObjectPassedAsArgAndKwargIsShared) {
    auto shared = mkSeq(Tag::List, {});
    DecodedInputs in = decodeInputs(inputsOf({shared}, {{mkStr("k"), shared}}));
    EXPECT_EQ(in.args[0].get(), in.kwargs[0].second.get());
}

// --- records.h (cereal) ---------------------------------------------------------------------

TEST(RecordsCereal, FunctionInfoRoundTripsEveryField) {
    FunctionInfo f;
    f.id = 7;
    f.module = "pkg.mod";
    f.qualname = "C.method";
    f.name = "method";
    f.file = "/src/pkg/mod.py";
    f.line = 42;
    f.signatureKnown = true;
    f.returnAnnotation = "int";
    f.kind = "method";
    Parameter p;
    p.name = "y";
    p.kind = Parameter::KeywordOnly;
    p.hasDefault = true;
    p.defaultValue = encode(*mkInt(2));
    p.defaultRepr = "2";
    p.annotation = "int";
    f.parameters = {Parameter{"self", Parameter::PositionalOrKeyword, false, "", "", ""}, p};
    FunctionInfo b = decodeFunctionInfo(encodeFunctionInfo(f));
    EXPECT_EQ(b.id, 7u);
    EXPECT_EQ(b.fullName(), "pkg.mod.C.method");
    EXPECT_EQ(b.name, "method");
    EXPECT_EQ(b.file, f.file);
    EXPECT_EQ(b.line, 42u);
    EXPECT_TRUE(b.signatureKnown);
    EXPECT_EQ(b.returnAnnotation, "int");
    EXPECT_EQ(b.kind, "method");
    ASSERT_EQ(b.parameters.size(), 2u);
    EXPECT_EQ(b.parameters[1].name, "y");
    EXPECT_EQ(b.parameters[1].kind, Parameter::KeywordOnly);
    EXPECT_TRUE(b.parameters[1].hasDefault);
    EXPECT_EQ(decodeValue(b.parameters[1].defaultValue)->integer, 2);
    EXPECT_EQ(b.parameters[1].defaultRepr, "2");
    EXPECT_EQ(b.parameters[1].annotation, "int");
}

TEST(RecordsCereal, ThreadWriterAndStatsRoundTrip) {
    ThreadInfo t{3, 140000000000ull, 4242, "worker-1"};
    ThreadInfo tb = decodeThreadInfo(encodeThreadInfo(t));
    EXPECT_EQ(tb.index, 3u);
    EXPECT_EQ(tb.ident, 140000000000ull);
    EXPECT_EQ(tb.nativeId, 4242u);
    EXPECT_EQ(tb.name, "worker-1");

    WriterInfo w;
    w.host = "node01";
    w.pid = 1234;
    w.rank = 3;
    w.writerId = "rank-0003";
    w.pythonVersion = "3.11.2";
    w.packageVersion = "0.4.0";
    w.argv = {"python", "run.py", "--x"};
    w.cwd = "/home/u";
    w.startedUnixNs = 1700000000123456789;
    w.clockOriginNs = -5;
    WriterInfo wb = decodeWriterInfo(encodeWriterInfo(w));
    EXPECT_EQ(wb.host, "node01");
    EXPECT_EQ(wb.pid, 1234);
    EXPECT_EQ(wb.rank, 3);
    EXPECT_EQ(wb.writerId, "rank-0003");
    EXPECT_EQ(wb.pythonVersion, "3.11.2");
    EXPECT_EQ(wb.packageVersion, "0.4.0");
    EXPECT_EQ(wb.argv, w.argv);
    EXPECT_EQ(wb.cwd, "/home/u");
    EXPECT_EQ(wb.startedUnixNs, w.startedUnixNs);
    EXPECT_EQ(wb.clockOriginNs, -5);

    CaptureStats s{1, 2, 3, 4};
    CaptureStats sb = decodeCaptureStats(encodeCaptureStats(s));
    EXPECT_EQ(sb.opaque, 1u);
    EXPECT_EQ(sb.pickled, 2u);
    EXPECT_EQ(sb.captureErrors, 3u);
    EXPECT_EQ(sb.droppedCalls, 4u);
}

TEST(RecordsCereal, TruncatedOrGarbageBytesGiveCorruptError) {
    FunctionInfo f;
    f.module = "m";
    f.qualname = "f";
    f.name = "f";
    f.parameters.resize(2);
    std::string bytes = encodeFunctionInfo(f);
    for (size_t n = 0; n < bytes.size(); ++n)
        EXPECT_THROW(decodeFunctionInfo(std::string_view(bytes).substr(0, n)), CorruptError) << n;
    EXPECT_THROW(decodeThreadInfo(""), CorruptError);
    EXPECT_THROW(decodeWriterInfo("\x01garbage"), CorruptError);
    EXPECT_THROW(decodeCaptureStats("xyz"), CorruptError);
    WriterInfo w;
    std::string wb = encodeWriterInfo(w);
    for (size_t n = 0; n < wb.size(); ++n) EXPECT_THROW(decodeWriterInfo(wb.substr(0, n)), CorruptError) << n;
}
