// Value::toText: Python-like rendering of decoded values.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "callmonitor/value.h"
#include "value_test_util.h"

using namespace callmonitor;
using namespace cmtest;

namespace {
std::string text(const ValuePtr& v, size_t maxItems = 20) { return v->toText(maxItems); }
ValuePtr cplx(double re, double im) {
    auto v = mk(Tag::Complex);
    v->real = re;
    v->imag = im;
    return v;
}
template <class T>
ValuePtr scalar(const char* dtype, T x) {
    auto v = mk(Tag::NpScalar);
    v->name = dtype;
    parseDtype(v->name, v->dtype);
    v->bytes.assign(reinterpret_cast<const char*>(&x), sizeof x);
    return v;
}
}  // namespace

TEST(ValueText, ScalarsPrintLikePython) {
    EXPECT_EQ(text(mk(Tag::None)), "None");
    EXPECT_EQ(text(mkBool(true)), "True");
    EXPECT_EQ(text(mkBool(false)), "False");
    EXPECT_EQ(text(mkInt(3)), "3");
    EXPECT_EQ(text(mkInt(std::numeric_limits<int64_t>::min())), "-9223372036854775808");
}

TEST(ValueText, FloatsUseShortestReprAndPythonExponentRules) {
    EXPECT_EQ(text(mkFloat(2.5)), "2.5");
    EXPECT_EQ(text(mkFloat(100.0)), "100.0");
    EXPECT_EQ(text(mkFloat(0.1)), "0.1");
    EXPECT_EQ(text(mkFloat(-0.0)), "-0.0");
    EXPECT_EQ(text(mkFloat(1e16)), "1e+16");
    EXPECT_EQ(text(mkFloat(1234567890123456.0)), "1234567890123456.0");
    EXPECT_EQ(text(mkFloat(1e-5)), "1e-05");
    EXPECT_EQ(text(mkFloat(0.0001)), "0.0001");
    EXPECT_EQ(text(mkFloat(1.5e-7)), "1.5e-07");
    EXPECT_EQ(text(mkFloat(1e300)), "1e+300");
    EXPECT_EQ(text(mkFloat(std::nan(""))), "nan");
    EXPECT_EQ(text(mkFloat(std::numeric_limits<double>::infinity())), "inf");
    EXPECT_EQ(text(mkFloat(-std::numeric_limits<double>::infinity())), "-inf");
}

TEST(ValueText, ComplexPrintsLikePython) {
    EXPECT_EQ(text(cplx(1, 2)), "(1+2j)");
    EXPECT_EQ(text(cplx(0, 2)), "2j");
    EXPECT_EQ(text(cplx(1.5, -0.5)), "(1.5-0.5j)");
    EXPECT_EQ(text(cplx(-0.0, 1)), "(-0+1j)");
    EXPECT_EQ(text(cplx(1, std::nan(""))), "(1+nanj)");
}

TEST(ValueText, BigIntPrintsInDecimal) {
    auto v = mk(Tag::BigInt);
    v->bytes = std::string("\x00\x00\x00\x00\x00\x00\x00\x00\x01", 9);
    EXPECT_EQ(text(v), "18446744073709551616");
    v->negative = true;
    v->bytes = std::string(12, '\xff');  // 2**96 - 1
    EXPECT_EQ(text(v), "-79228162514264337593543950335");
}

TEST(ValueText, StrEscapesLikePythonRepr) {
    EXPECT_EQ(text(mkStr("abc")), "'abc'");
    EXPECT_EQ(text(mkStr("it's")), "\"it's\"");
    EXPECT_EQ(text(mkStr("'\"")), "'\\'\"'");
    EXPECT_EQ(text(mkStr("a\nb\t\\")), "'a\\nb\\t\\\\'");
    EXPECT_EQ(text(mkStr(std::string("\0\x7f", 2))), "'\\x00\\x7f'");
    EXPECT_EQ(text(mkStr("h\xc3\xa9 \xe2\x82\xac")), "'h\xc3\xa9 \xe2\x82\xac'");
    EXPECT_EQ(text(mkStr("\xed\xa0\x80")), "'\\ud800'");  // lone surrogate (surrogatepass)
    EXPECT_EQ(text(mkStr("\xc2\x85")), "'\\x85'");        // C1 control
}

TEST(ValueText, BytesAndByteArrayPrintLikePython) {
    EXPECT_EQ(text(mkStr(std::string("a\0'\xff", 4), Tag::Bytes)), "b\"a\\x00'\\xff\"");
    EXPECT_EQ(text(mkStr("xy", Tag::Bytes)), "b'xy'");
    EXPECT_EQ(text(mkStr("", Tag::ByteArray)), "bytearray(b'')");
    EXPECT_EQ(text(mkStr("q", Tag::ByteArray)), "bytearray(b'q')");
}

TEST(ValueText, LongStrIsCutWithItsLength) {
    std::string s(5000, 'a');
    std::string t = text(mkStr(s), 20);
    EXPECT_LT(t.size(), 1100u);
    EXPECT_NE(t.find("... (5000 bytes)"), std::string::npos);
    EXPECT_EQ(text(mkStr(s), 0).size(), 5002u);  // 0 = no limit
}

TEST(ValueText, ContainersPrintLikePython) {
    EXPECT_EQ(text(mkSeq(Tag::List, {mkInt(1), mkStr("a")})), "[1, 'a']");
    EXPECT_EQ(text(mkSeq(Tag::List, {})), "[]");
    EXPECT_EQ(text(mkSeq(Tag::Tuple, {mkInt(1)})), "(1,)");
    EXPECT_EQ(text(mkSeq(Tag::Tuple, {})), "()");
    EXPECT_EQ(text(mkSeq(Tag::Tuple, {mkInt(1), mkInt(2)})), "(1, 2)");
    EXPECT_EQ(text(mkDict({{mkInt(1), mkStr("a")}, {mkStr("k"), mk(Tag::None)}})), "{1: 'a', 'k': None}");
    EXPECT_EQ(text(mkDict({})), "{}");
    EXPECT_EQ(text(mkSeq(Tag::Set, {mkInt(1), mkInt(2)})), "{1, 2}");
    EXPECT_EQ(text(mkSeq(Tag::Set, {})), "set()");
    EXPECT_EQ(text(mkSeq(Tag::FrozenSet, {mkInt(1)})), "frozenset({1})");
    EXPECT_EQ(text(mkSeq(Tag::FrozenSet, {})), "frozenset()");
}

TEST(ValueText, LongContainersAreTruncatedAtMaxItems) {
    std::vector<ValuePtr> xs;
    for (int i = 0; i < 30; ++i) xs.push_back(mkInt(i));
    EXPECT_EQ(text(mkSeq(Tag::List, xs), 3), "[0, 1, 2, ...]");
    EXPECT_EQ(text(mkSeq(Tag::List, xs), 30).size(), text(mkSeq(Tag::List, xs), 0).size());
    std::vector<std::pair<ValuePtr, ValuePtr>> kv;
    for (int i = 0; i < 5; ++i) kv.emplace_back(mkInt(i), mkInt(i));
    EXPECT_EQ(text(mkDict(kv), 2), "{0: 0, 1: 1, ...}");
}

TEST(ValueText, SharedButAcyclicNodesPrintInFull) {
    auto a = mkSeq(Tag::List, {mkInt(1)});
    EXPECT_EQ(text(mkSeq(Tag::List, {a, a})), "[[1], [1]]");
}

TEST(ValueText, CyclesPrintAsEllipsis) {
    auto l = mkSeq(Tag::List, {});
    l->items.push_back(l);
    EXPECT_EQ(text(l), "[[...]]");
    auto t = mkSeq(Tag::Tuple, {l});
    EXPECT_EQ(text(t), "([[...]],)");
    breakCycles(l);
}

TEST(ValueText, ArraysShowDtypeShapeAndFirstItems) {
    std::vector<double> xs{0, 1, 2, 3, 4, 5};
    EXPECT_EQ(text(mkArray("<f8", {2, 3}, rawBytes(xs))), "array(dtype=<f8, shape=(2, 3), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])");
    EXPECT_EQ(text(mkArray("<f8", {2, 3}, rawBytes(xs)), 2), "array(dtype=<f8, shape=(2, 3), [0.0, 1.0, ...])");
    EXPECT_EQ(text(mkArray("<f8", {}, rawBytes(std::vector<double>{7}))), "array(dtype=<f8, shape=(), [7.0])");
    EXPECT_EQ(text(mkArray("<f8", {0}, "")), "array(dtype=<f8, shape=(0,), [])");
    EXPECT_EQ(text(mkArray("|b1", {2}, std::string("\x01\x00", 2))), "array(dtype=|b1, shape=(2,), [True, False])");
    EXPECT_EQ(text(mkArray("<u2", {1}, rawBytes(std::vector<uint16_t>{65535}))), "array(dtype=<u2, shape=(1,), [65535])");
    EXPECT_EQ(text(mkArray("<f4", {1}, rawBytes(std::vector<float>{0.1f}))), "array(dtype=<f4, shape=(1,), [0.1])");
    EXPECT_EQ(text(mkArray("<f2", {1}, rawBytes(std::vector<uint16_t>{0x3C00}))), "array(dtype=<f2, shape=(1,), [1.0])");
    EXPECT_EQ(text(mkArray("<c16", {1}, rawBytes(std::vector<double>{1, -2}))), "array(dtype=<c16, shape=(1,), [(1-2j)])");
}

TEST(ValueText, FortranArrayItemsPrintInLogicalRowMajorOrder) {
    // [[1, 2, 3], [4, 5, 6]] stored column-major: 1 4 2 5 3 6
    auto v = mkArray("<i8", {2, 3}, rawBytes(std::vector<int64_t>{1, 4, 2, 5, 3, 6}), 'F');
    EXPECT_EQ(text(v), "array(dtype=<i8, shape=(2, 3), order='F', [1, 2, 3, 4, 5, 6])");
}

TEST(ValueText, BigEndianArrayItemsAreSwapped) {
    auto v = mkArray(">i4", {2}, std::string("\x00\x00\x00\x07\xff\xff\xff\xfe", 8));
    EXPECT_EQ(text(v), "array(dtype=>i4, shape=(2,), [7, -2])");
    auto d = mkArray(">f8", {1}, std::string("\x40\x04\x00\x00\x00\x00\x00\x00", 8));
    EXPECT_EQ(text(d), "array(dtype=>f8, shape=(1,), [2.5])");
}

TEST(ValueText, OtherArrayKindsShowOnlyDtypeAndShape) {
    EXPECT_EQ(text(mkArray("<M8[ns]", {3}, std::string(24, '\0'))), "array(dtype=<M8[ns], shape=(3,))");
    EXPECT_EQ(text(mkArray("<U2", {1}, std::string(8, '\0'))), "array(dtype=<U2, shape=(1,))");
}

TEST(ValueText, NumpyScalarsPrintAsTypeAndValue) {
    EXPECT_EQ(text(scalar("<f8", 2.5)), "float64(2.5)");
    EXPECT_EQ(text(scalar("<i4", int32_t(7))), "int32(7)");
    EXPECT_EQ(text(scalar("|u1", uint8_t(200))), "uint8(200)");
    EXPECT_EQ(text(scalar("|b1", uint8_t(1))), "bool(True)");
    EXPECT_EQ(text(scalar("<f4", 0.5f)), "float32(0.5)");
    EXPECT_EQ(text(scalar("<M8[s]", int64_t(60))), "datetime64(60,'s')");
    EXPECT_EQ(text(scalar("<m8[ns]", std::numeric_limits<int64_t>::min())), "timedelta64('NaT','ns')");
}

TEST(ValueText, PayloadKindsPrintAsPlaceholders) {
    auto h = mkStr("abcd", Tag::Handler);
    h->name = "pkg.H";
    EXPECT_EQ(text(h), "<handler pkg.H: 4 bytes>");
    EXPECT_EQ(text(mkStr("xyz", Tag::Pickle)), "<pickled object: 3 bytes>");
    auto o = mkStr("<socket fd=3>", Tag::Opaque);
    o->name = "socket.socket";
    EXPECT_EQ(text(o), "<unrestorable socket.socket: <socket fd=3>>");
    auto l = mk(Tag::Legacy);
    l->name = "old.H";
    l->extra = "handlers/f/1";
    l->items.push_back(mkInt(1));
    EXPECT_EQ(text(l), "<legacy old.H in handlers/f/1: 1>");
}

TEST(ValueText, VeryDeepNestingIsCutNotOverflowed) {
    ValuePtr v = mkInt(0);
    for (int i = 0; i < 100000; ++i) v = mkSeq(Tag::List, {v});
    std::string t = v->toText();
    EXPECT_NE(t.find("[...]"), std::string::npos);
    EXPECT_LT(t.size(), 1000u);
}

TEST(ValueText, DecodedValueMatchesTheBuiltOne) {
    auto v = mkSeq(Tag::Tuple, {mkSeq(Tag::Tuple, {mkInt(1), mkStr("two"), mkSeq(Tag::List, {mkInt(3)})}), mkDict({})});
    EXPECT_EQ(decodeValue(encode(*v))->toText(), "((1, 'two', [3]), {})");
}
