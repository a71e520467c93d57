// Builtin values (0x20: a built-in handler's kind + its state, docs/handlers.md):
// the codec, the C++ value tree, API typing, and the pandas handler's C++ side.
#include <gtest/gtest.h>

#include "analyse/type_table.h"
#include "callmonitor/errors.h"
#include "callmonitor/value.h"
#include "callmonitor/value_parser.h"
#include "callmonitor/value_writer.h"
#include "pandas/frame.h"

using namespace callmonitor;

namespace {

void int64Array(ValueWriter& w, std::initializer_list<int64_t> xs) {
    std::string bytes;
    for (int64_t x : xs) bytes.append(reinterpret_cast<const char*>(&x), 8);
    w.arrayInline(ArrayHeader{"<i8", 'C', {xs.size()}}, bytes.data(), bytes.size(), false);
}

void objectIndex(ValueWriter& w, std::initializer_list<const char*> labels) {
    w.beginBuiltin("pandas.Index", false);
    w.beginDict(3, false);
    w.str("data");
    w.beginTuple(2, false);
    w.str("object");
    w.beginList(labels.size(), false);
    for (const char* l : labels) w.str(l);
    w.str("name");
    w.none();
    w.str("freq");
    w.none();
}

// A DataFrame as the pandas handler records it: RangeIndex(0, 2), columns
// "a" (int64) and "t" (datetime64[ns, Europe/Paris]).
std::string frameBytes(bool twice) {
    std::string out;
    ValueWriter w(out);
    if (twice) w.beginTuple(2, false);
    w.beginBuiltin("pandas.DataFrame", twice);
    w.beginDict(3, false);
    w.str("index");
    w.beginBuiltin("pandas.RangeIndex", false);
    w.beginDict(4, false);
    w.str("start"); w.integer(0);
    w.str("stop"); w.integer(2);
    w.str("step"); w.integer(1);
    w.str("name"); w.none();
    w.str("columns");
    objectIndex(w, {"a", "t"});
    w.str("data");
    w.beginList(2, false);
    w.beginTuple(2, false);
    w.str("numpy");
    int64Array(w, {7, -1});
    w.beginTuple(3, false);
    w.str("datetimetz");
    w.arrayInline(ArrayHeader{"<M8[ns]", 'C', {2}}, std::string(16, '\0').data(), 16, false);
    w.beginTuple(2, false);
    w.str("pytz");
    w.str("Europe/Paris");
    if (twice) w.backref(0);
    return out;
}

}  // namespace

TEST(BuiltinValue, DecodesToItsKindAndStateAndPrintsBoth) {
    ValuePtr v = decodeValue(frameBytes(false));
    ASSERT_EQ(v->tag, Tag::Builtin);
    EXPECT_EQ(v->name, "pandas.DataFrame");
    ASSERT_EQ(v->items.size(), 1u);
    EXPECT_EQ(v->items[0]->tag, Tag::Dict);
    std::string text = v->toText();
    EXPECT_EQ(text.rfind("pandas.DataFrame({'index': pandas.RangeIndex({", 0), 0u) << text;
}

TEST(BuiltinValue, SharedOneIsABackrefToTheSameNode) {
    ValuePtr v = decodeValue(frameBytes(true));
    ASSERT_EQ(v->items.size(), 2u);
    EXPECT_EQ(v->items[0].get(), v->items[1].get());
}

TEST(BuiltinValue, ParserSkipsItWholeAndRefusesItWithoutState) {
    std::string bytes = frameBytes(false) + std::string(1, '\0');
    ValueParser p(bytes);
    p.skipValue();
    EXPECT_EQ(p.remaining(), 1u);

    std::string headerOnly;
    ValueWriter(headerOnly).beginBuiltin("pandas.Series", false);
    EXPECT_THROW(decodeValue(headerOnly), DecodeError);
}

TEST(BuiltinValue, TagsBetweenTheKnownOnesAreRefused) {
    for (int code : {0x1F, 0x21, 0x7F}) {
        std::string b(1, static_cast<char>(code));
        EXPECT_THROW(decodeValue(b), DecodeError) << code;
    }
}

TEST(BuiltinValue, ApiTypingNamesItsKindAndKeepsMemoAligned) {
    analyse::TypeTable table;
    analyse::ApiOptions options;
    analyse::ValueTyper typer(table, options);
    std::string bytes = frameBytes(true);
    ValueParser p(bytes);
    Token t;
    p.next(t);
    uint32_t id = typer.typeOf(p, t);
    EXPECT_EQ(table.text(id), "tuple[pandas.DataFrame, pandas.DataFrame]");
    EXPECT_TRUE(p.atEnd());
}

TEST(PandasCore, FrameGivesLabelledColumnsWithPandasDtypes) {
    ValuePtr v = decodeValue(frameBytes(false));
    ASSERT_TRUE(pandas::isPandasValue(*v));
    pandas::Frame f = pandas::asFrame(*v);
    EXPECT_EQ(pandas::indexLabels(*f.index), (std::vector<std::string>{"0", "1"}));
    ASSERT_EQ(f.columns.size(), 2u);
    EXPECT_EQ(f.columns[0].label, "a");
    EXPECT_EQ(f.columns[0].dtype, "int64");
    ASSERT_EQ(f.columns[0].values->tag, Tag::Array);
    EXPECT_EQ(f.columns[0].values->shape, (std::vector<uint64_t>{2}));
    EXPECT_EQ(f.columns[1].label, "t");
    EXPECT_EQ(f.columns[1].dtype, "datetime64[ns, Europe/Paris]");
}

TEST(PandasCore, AnythingElseIsAClearError) {
    ValuePtr notFrame = decodeValue(std::string(1, '\0'));
    EXPECT_FALSE(pandas::isPandasValue(*notFrame));
    EXPECT_THROW(pandas::asFrame(*notFrame), DecodeError);
    std::string bytes;
    ValueWriter w(bytes);
    objectIndex(w, {"x"});
    ValuePtr index = decodeValue(bytes);
    EXPECT_THROW(pandas::asFrame(*index), DecodeError);
    pandas::Column c = pandas::asColumn(*index);
    EXPECT_EQ(c.dtype, "object");
    EXPECT_EQ(pandas::indexLabels(*index), (std::vector<std::string>{"x"}));
}

namespace {

// A pandas.Series of one datetime column as pandas 2 records it: `dtype` in any
// unit, naive ("numpy") or UTC ("datetimetz"). pandas 1.5 only writes ns.
std::string datetimeSeries(const char* dtype, bool utc) {
    std::string out;
    ValueWriter w(out);
    w.beginBuiltin("pandas.Series", false);
    w.beginDict(2, false);
    w.str("data");
    w.beginTuple(utc ? 3 : 2, false);
    w.str(utc ? "datetimetz" : "numpy");
    w.arrayInline(ArrayHeader{dtype, 'C', {1}}, std::string(8, '\0').data(), 8, false);
    if (utc) {
        w.beginTuple(1, false);
        w.str("utc");
    }
    w.str("name");
    w.none();
    return out;
}

}  // namespace

TEST(PandasCore, DatetimeColumnsInThePandas2UnitsKeepTheirUnitInTheirDtype) {
    for (const char* unit : {"s", "ms", "us", "ns"}) {
        std::string naive = std::string("<M8[") + unit + "]";
        EXPECT_EQ(pandas::asColumn(*decodeValue(datetimeSeries(naive.c_str(), false))).dtype,
                  std::string("datetime64[") + unit + "]");
        EXPECT_EQ(pandas::asColumn(*decodeValue(datetimeSeries(naive.c_str(), true))).dtype,
                  std::string("datetime64[") + unit + ", UTC]");
    }
    std::string delta = "<m8[ms]";
    EXPECT_EQ(pandas::asColumn(*decodeValue(datetimeSeries(delta.c_str(), false))).dtype, "timedelta64[ms]");
}

TEST(DtypeNames, OneNameForTheValuePrinterAndThePandasColumns) {
    auto name = [](const char* text, bool withUnit) {
        DtypeInfo d;
        EXPECT_TRUE(parseDtype(text, d)) << text;
        return numpyTypeName(d, withUnit);
    };
    EXPECT_EQ(name("<f8", false), "float64");
    EXPECT_EQ(name(">i4", true), "int32");
    EXPECT_EQ(name("|b1", false), "bool");
    EXPECT_EQ(name("<c16", false), "complex128");
    EXPECT_EQ(name("<u2", false), "uint16");
    EXPECT_EQ(name("<M8[us]", false), "datetime64");
    EXPECT_EQ(name("<M8[us]", true), "datetime64[us]");
    EXPECT_EQ(name("<m8", true), "timedelta64");
    EXPECT_EQ(name("<U5", true), "str_");
    EXPECT_EQ(name("|S3", false), "bytes_");
    EXPECT_EQ(name("|V16", false), "void");
    // the pandas side names numbers like the printer, strings by their dtype string
    EXPECT_EQ(pandas::asColumn(*decodeValue(datetimeSeries("<U2", false))).dtype, "<U2");
}
