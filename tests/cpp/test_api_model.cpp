// ApiAggregator: binding arguments to parameters, typing values token by
// token, literal strings, array shapes, outcomes, timing buckets, and bad
// input (malformed bytes, unknown tags, huge and deep containers).
#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "callmonitor/api_model.h"
#include "callmonitor/call_record.h"
#include "callmonitor/value_writer.h"

namespace callmonitor::analyse {
namespace {

using Build = std::function<void(ValueWriter&)>;

// The inputs value (args tuple, kwargs dict) of one call.
std::string inputs(const std::vector<Build>& args, const std::vector<std::pair<std::string, Build>>& kwargs = {}) {
    std::string out;
    ValueWriter w(out);
    w.beginTuple(2, false);
    w.beginTuple(args.size(), false);
    for (const auto& a : args) a(w);
    w.beginDict(kwargs.size(), false);
    for (const auto& [k, v] : kwargs) {
        w.str(k);
        v(w);
    }
    return out;
}

std::string value(const Build& b) {
    std::string out;
    ValueWriter w(out);
    b(w);
    return out;
}

Build I(int64_t v) { return [v](ValueWriter& w) { w.integer(v); }; }
Build F(double v) { return [v](ValueWriter& w) { w.real(v); }; }
Build S(std::string v) { return [v](ValueWriter& w) { w.str(v); }; }
Build None() { return [](ValueWriter& w) { w.none(); }; }

Parameter param(std::string name, uint8_t kind, bool hasDefault = false, std::string annotation = "") {
    Parameter p;
    p.name = std::move(name);
    p.kind = kind;
    p.hasDefault = hasDefault;
    p.annotation = std::move(annotation);
    return p;
}

// f(x, y=2, *rest, z=3, **kw)
FunctionInfo sampleFunction() {
    FunctionInfo f;
    f.module = "m";
    f.qualname = f.name = "f";
    f.signatureKnown = true;
    f.parameters = {param("x", Parameter::PositionalOrKeyword), param("y", Parameter::PositionalOrKeyword, true),
                    param("rest", Parameter::VarPositional), param("z", Parameter::KeywordOnly, true),
                    param("kw", Parameter::VarKeyword)};
    return f;
}

CallSample returned(const std::string& in, const std::string& result, uint64_t ns = 1000, uint32_t caller = 0) {
    CallSample s;
    s.inputs = in;
    s.outcome = format::Outcome::Returned;
    s.result = result;
    s.durationNs = ns;
    s.callerModule = caller;
    return s;
}

const ParameterUsage& paramOf(const FunctionApi& f, const std::string& name) {
    for (const auto& p : f.parameters)
        if (p.name == name) return p;
    throw std::runtime_error("no parameter " + name);
}

uint64_t countOf(const std::vector<TypeCount>& v, const std::string& type) {
    for (const auto& t : v)
        if (t.type == type) return t.count;
    return 0;
}

TEST(ApiAggregator, BindsPositionalKeywordDefaultAndVariadicArguments) {
    ApiAggregator agg(sampleFunction());
    std::string a = inputs({I(1)});                                 // f(1)
    std::string b = inputs({I(1), S("s"), F(1.5), F(2.5)}, {{"z", I(4)}, {"extra", None()}});
    std::string c = inputs({}, {{"x", F(0.5)}, {"y", S("t")}});     // f(x=0.5, y="t")
    std::string r = value(None());
    agg.add(returned(a, r));
    agg.add(returned(b, r));
    agg.add(returned(c, r));
    FunctionApi f = agg.finish({{"caller_mod"}, {}, {}});

    EXPECT_EQ(f.calls, 3u);
    EXPECT_EQ(f.unbound, 0u);
    const auto& x = paramOf(f, "x");
    EXPECT_EQ(x.positional, 2u);
    EXPECT_EQ(x.keyword, 1u);
    EXPECT_EQ(countOf(x.types, "int"), 2u);
    EXPECT_EQ(countOf(x.types, "float"), 1u);
    const auto& y = paramOf(f, "y");
    EXPECT_EQ(y.defaulted, 1u);
    EXPECT_EQ(y.positional, 1u);
    EXPECT_EQ(y.keyword, 1u);
    ASSERT_EQ(y.literals.size(), 2u);
    EXPECT_TRUE(y.literalsComplete);
    const auto& rest = paramOf(f, "rest");
    EXPECT_EQ(rest.positional, 1u);
    EXPECT_EQ(rest.values, 2u);
    EXPECT_EQ(countOf(rest.types, "float"), 2u);
    const auto& z = paramOf(f, "z");
    EXPECT_EQ(z.keyword, 1u);
    EXPECT_EQ(z.defaulted, 2u);
    const auto& kw = paramOf(f, "kw");
    ASSERT_EQ(kw.keywordNames.size(), 1u);
    EXPECT_EQ(kw.keywordNames[0].name, "extra");
    EXPECT_EQ(countOf(kw.types, "None"), 1u);
    EXPECT_EQ(f.signatures.size(), 3u);
    EXPECT_EQ(countOf(f.returns, "None"), 3u);
    ASSERT_EQ(f.callers.size(), 1u);
    EXPECT_EQ(f.callers[0].name, "caller_mod");
    EXPECT_EQ(f.callers[0].count, 3u);
    EXPECT_TRUE(f.sites.empty());
    EXPECT_TRUE(f.labels.empty());
}

TEST(ApiAggregator, CountsArgumentsThatDoNotFitTheSignature) {
    FunctionInfo g;
    g.qualname = "g";
    g.signatureKnown = true;
    g.parameters = {param("a", Parameter::PositionalOnly)};
    ApiAggregator agg(g);
    std::string r = value(None());
    std::string tooMany = inputs({I(1), I(2)});
    std::string missing = inputs({});
    std::string byName = inputs({}, {{"a", I(1)}});   // positional-only by keyword
    agg.add(returned(tooMany, r));
    agg.add(returned(missing, r));
    agg.add(returned(byName, r));
    FunctionApi f = agg.finish({});
    EXPECT_EQ(f.unbound, 3u);
    EXPECT_EQ(paramOf(f, "a").missing, 2u);
}

TEST(ApiAggregator, TypesContainersWithElementUnionsAndFixedTuples) {
    FunctionInfo h;
    h.qualname = "h";
    h.signatureKnown = true;
    h.parameters = {param("v", Parameter::PositionalOrKeyword)};
    ApiAggregator agg(h);
    std::string r = value(None());
    std::vector<Build> values = {
        [](ValueWriter& w) { w.beginList(3, false); w.integer(1); w.str("a"); w.integer(2); },
        [](ValueWriter& w) { w.beginTuple(2, false); w.integer(1); w.str("a"); },
        [](ValueWriter& w) { w.beginDict(1, false); w.str("k"); w.real(1.0); },
        [](ValueWriter& w) { w.beginList(2, false); w.integer(1); w.none(); },
        [](ValueWriter& w) { w.beginSet(0, false); },
        [](ValueWriter& w) { w.beginTuple(0, false); },
        [](ValueWriter& w) { w.pickle("mod.Klass", "xx"); },
        [](ValueWriter& w) { w.opaque("builtin_function_or_method", "<f>", "why"); },
        [](ValueWriter& w) { double d = 1; w.numpyScalar("<f8", &d, 8); },
    };
    std::vector<std::string> keep;
    for (const auto& v : values) keep.push_back(inputs({v}));
    for (const auto& in : keep) agg.add(returned(in, r));
    FunctionApi f = agg.finish({});
    const auto& v = paramOf(f, "v");
    EXPECT_EQ(countOf(v.types, "list[Union[int, str]]"), 1u);
    EXPECT_EQ(countOf(v.types, "tuple[int, str]"), 1u);
    EXPECT_EQ(countOf(v.types, "dict[str, float]"), 1u);
    EXPECT_EQ(countOf(v.types, "list[Optional[int]]"), 1u);
    EXPECT_EQ(countOf(v.types, "set"), 1u);
    EXPECT_EQ(countOf(v.types, "tuple[()]"), 1u);
    EXPECT_EQ(countOf(v.types, "mod.Klass"), 1u);
    EXPECT_EQ(countOf(v.types, "Callable[..., Any]"), 1u);
    EXPECT_EQ(countOf(v.types, "numpy.float64"), 1u);
}

TEST(ApiAggregator, RecordsArrayDtypesAndShapes) {
    FunctionInfo h;
    h.qualname = "h";
    h.signatureKnown = true;
    h.parameters = {param("a", Parameter::PositionalOrKeyword)};
    ApiAggregator agg(h);
    std::vector<double> data(12, 0.0);
    auto arr = [&](std::vector<uint64_t> shape) {
        return [&data, shape](ValueWriter& w) {
            ArrayHeader hd{"<f8", 'C', shape};
            size_t n = 8;
            for (auto s : shape) n *= s;
            w.arrayInline(hd, data.data(), n, false);
        };
    };
    std::string in1 = inputs({arr({3, 4})}), in2 = inputs({arr({12})});
    std::string res = value(arr({2, 2}));
    agg.add(returned(in1, res));
    agg.add(returned(in1, res));
    agg.add(returned(in2, res));
    FunctionApi f = agg.finish({});
    const auto& a = paramOf(f, "a");
    EXPECT_EQ(countOf(a.types, "numpy.typing.NDArray[numpy.float64]"), 3u);
    ASSERT_EQ(a.shapes.size(), 2u);
    EXPECT_EQ(a.shapes[0].shape, (std::vector<uint64_t>{3, 4}));
    EXPECT_EQ(a.shapes[0].count, 2u);
    ASSERT_EQ(f.returnShapes.size(), 1u);
    EXPECT_EQ(f.returnShapes[0].count, 3u);
}

TEST(ApiAggregator, LiteralsGiveUpBeyondTheLimit) {
    FunctionInfo h;
    h.qualname = "h";
    h.signatureKnown = true;
    h.parameters = {param("mode", Parameter::PositionalOrKeyword)};
    ApiAggregator agg(h);
    std::string r = value(None());
    std::vector<std::string> keep;
    for (int i = 0; i < 7; ++i) keep.push_back(inputs({S("m" + std::to_string(i))}));
    for (const auto& in : keep) agg.add(returned(in, r));
    FunctionApi f = agg.finish({});
    EXPECT_FALSE(paramOf(f, "mode").literalsComplete);
    EXPECT_TRUE(paramOf(f, "mode").literals.empty());
}

TEST(ApiAggregator, CountsOutcomesExceptionsAndTimingPerSignature) {
    ApiAggregator agg(sampleFunction());
    std::string in = inputs({I(1)}), in2 = inputs({F(1)});
    std::string r = value(I(5));
    for (int i = 0; i < 99; ++i) agg.add(returned(in, r, 1000));
    agg.add(returned(in, r, 100000));
    CallSample raised;
    raised.inputs = in2;
    raised.outcome = format::Outcome::Raised;
    raised.exceptionType = "ValueError";
    raised.durationNs = 50;
    agg.add(raised);
    CallSample pending;
    pending.inputs = in2;
    agg.add(pending);
    FunctionApi f = agg.finish({});
    EXPECT_EQ(f.returned, 100u);
    EXPECT_EQ(f.raised, 1u);
    EXPECT_EQ(f.pending, 1u);
    ASSERT_EQ(f.exceptions.size(), 1u);
    EXPECT_EQ(f.exceptions[0].name, "ValueError");
    ASSERT_EQ(f.signatures.size(), 2u);
    const SignatureUsage& top = f.signatures[0];
    EXPECT_EQ(top.calls, 100u);
    EXPECT_EQ(top.types[0], "int");
    EXPECT_EQ(top.types[1], "");   // y left to its default
    EXPECT_EQ(top.timing.count, 100u);
    EXPECT_EQ(top.timing.minNs, 1000u);
    EXPECT_EQ(top.timing.maxNs, 100000u);
    EXPECT_EQ(f.signatures[1].timing.count, 1u);   // the pending call has no duration
    EXPECT_EQ(f.timing.count, 101u);
}

TEST(ApiAggregator, CountsWhatGeneratorsYieldedAndWhichWereClosedEarly) {
    FunctionInfo g;
    g.qualname = g.name = "gen";
    g.kind = "generator";
    g.signatureKnown = true;
    g.parameters = {param("n", Parameter::PositionalOrKeyword)};
    ApiAggregator agg(g);
    std::string in = inputs({I(3)});
    // CallSample holds views: the values it points at live as long as the test
    const std::string seven = value(I(7)), none = value(None());
    // three items recorded (1, "a", 2.5), returned 7
    ExtFields full;
    full.addVarint(format::ExtTag::Yields, 3);
    for (const Build& item : {I(1), S("a"), F(2.5)}) full.addBytes(format::ExtTag::Yielded, value(item));
    CallSample a = returned(in, seven);
    a.hasYields = true;
    a.yields = 3;
    a.outcomeExt = full.bytes();
    agg.add(a);
    // 20 items, none recorded, returned None
    ExtFields counted;
    counted.addVarint(format::ExtTag::Yields, 20);
    CallSample b = returned(in, none);
    b.hasYields = true;
    b.yields = 20;
    b.outcomeExt = counted.bytes();
    agg.add(b);
    // closed after one recorded item
    ExtFields closed;
    closed.addVarint(format::ExtTag::Yields, 1);
    closed.addBytes(format::ExtTag::Yielded, value(I(5)));
    closed.addVarint(format::ExtTag::Closed, 1);
    CallSample c;
    c.inputs = in;
    c.outcome = format::Outcome::NotRecorded;
    c.hasYields = true;
    c.yields = 1;
    c.closed = 1;
    c.outcomeExt = closed.bytes();
    agg.add(c);
    // a damaged ext area: the count before it is kept, nothing thrown
    CallSample d = returned(in, none);
    std::string damaged = counted.bytes() + "\x28\x7f";   // a Yielded field announcing 127 bytes, none there
    d.hasYields = true;
    d.yields = 20;
    d.outcomeExt = damaged;
    agg.add(d);

    FunctionApi f = agg.finish({});
    const GeneratorUsage& y = f.generator;
    EXPECT_EQ(f.calls, 4u);
    EXPECT_EQ(f.returned, 3u);
    EXPECT_EQ(f.resultSkipped, 0u);   // the closed call is in generator.closed
    EXPECT_EQ(y.closed, 1u);
    EXPECT_EQ(y.dropped, 0u);
    EXPECT_EQ(y.yields.count, 4u);
    EXPECT_EQ(y.yields.totalNs, 44u);  // items: 3 + 20 + 1 + 20
    EXPECT_EQ(y.yields.minNs, 1u);
    EXPECT_EQ(y.yields.maxNs, 20u);
    EXPECT_EQ(countOf(y.yielded, "int"), 2u);
    EXPECT_EQ(countOf(y.yielded, "str"), 1u);
    EXPECT_EQ(countOf(y.yielded, "float"), 1u);
    EXPECT_EQ(y.yieldedRecorded, 4u);
    EXPECT_EQ(y.yieldedUnrecorded, 40u);
    EXPECT_EQ(countOf(f.returns, "int"), 1u);
    EXPECT_EQ(countOf(f.returns, "None"), 2u);
}

TEST(ApiAggregator, TypesMaskedArraysByTheirDataDtype) {
    FunctionInfo h;
    h.qualname = h.name = "h";
    h.signatureKnown = true;
    h.parameters = {param("a", Parameter::PositionalOrKeyword)};
    ApiAggregator agg(h);
    double data[2] = {1.0, 2.0};
    Build masked = [&](ValueWriter& w) {
        w.beginBuiltin("numpy.ma.MaskedArray", false);
        w.beginDict(2, false);
        w.str("mask");
        w.boolean(false);
        w.str("data");
        ArrayHeader hd{"<f4", 'C', {2}};
        w.arrayInline(hd, data, 8, false);
    };
    Build notAState = [](ValueWriter& w) {
        w.beginBuiltin("numpy.ma.MaskedArray", false);
        w.integer(1);
    };
    agg.add(returned(inputs({masked}), value(None())));
    agg.add(returned(inputs({notAState}), value(None())));
    FunctionApi f = agg.finish({});
    const auto& a = paramOf(f, "a");
    EXPECT_EQ(countOf(a.types, "numpy.ma.MaskedArray[Any, numpy.dtype[numpy.float32]]"), 1u);
    EXPECT_EQ(countOf(a.types, "numpy.ma.MaskedArray"), 1u);
    EXPECT_EQ(f.undecodable, 0u);
}

TEST(ApiAggregator, PandasValuesKeepTheirSchemaAndBadStatesOnlyTheirClass) {
    FunctionInfo h;
    h.qualname = h.name = "h";
    h.signatureKnown = true;
    h.parameters = {param("s", Parameter::PositionalOrKeyword)};
    ApiAggregator agg(h);
    int64_t data[3] = {1, 2, 3};
    auto series = [&](int64_t stop) {
        return Build([&data, stop](ValueWriter& w) {
            w.beginBuiltin("pandas.Series", false);
            w.beginDict(3, false);
            w.str("index");
            w.beginBuiltin("pandas.RangeIndex", true);
            w.beginDict(4, false);
            for (auto [k, v] : {std::pair<const char*, int64_t>{"start", 0}, {"stop", stop}, {"step", 1}}) {
                w.str(k);
                w.integer(v);
            }
            w.str("name");
            w.none();
            w.str("data");
            w.beginTuple(2, false);
            w.str("numpy");
            ArrayHeader hd{"<i8", 'C', {uint64_t(stop)}};
            w.arrayInline(hd, data, 8 * size_t(stop), false);
            w.str("name");
            w.none();
        });
    };
    Build broken = [](ValueWriter& w) {  // a state that is not the handler's: typed by class only
        w.beginBuiltin("pandas.DataFrame", false);
        w.beginList(2, false);
        w.integer(1);
        w.integer(2);
    };
    agg.add(returned(inputs({series(3)}), value(series(2))));
    agg.add(returned(inputs({series(2)}), value(None())));
    agg.add(returned(inputs({broken}), value(None())));
    FunctionApi f = agg.finish({});
    EXPECT_EQ(f.undecodable, 0u);
    const auto& s = paramOf(f, "s");
    EXPECT_EQ(countOf(s.types, "pandas.Series"), 2u);
    EXPECT_EQ(countOf(s.types, "pandas.DataFrame"), 1u);
    ASSERT_EQ(s.pandas.size(), 1u);
    EXPECT_EQ(s.pandas[0].type, "pandas.Series");
    EXPECT_EQ(s.pandas[0].dtype, "int64");
    EXPECT_EQ(s.pandas[0].minLength, 2u);
    EXPECT_EQ(s.pandas[0].maxLength, 3u);
    EXPECT_EQ(s.pandas[0].count, 2u);
    ASSERT_EQ(f.returnPandas.size(), 1u);
    EXPECT_EQ(f.returnPandas[0].maxLength, 2u);
}

TEST(Timing, BucketsAreExactToOneSixteenth) {
    for (uint64_t ns : {0ull, 1ull, 15ull, 16ull, 17ull, 31ull, 32ull, 1000ull, 123456789ull, 1ull << 62}) {
        uint32_t b = Timing::bucketOf(ns);
        EXPECT_LE(Timing::bucketLow(b), ns);
        EXPECT_GT(Timing::bucketLow(b + 1), ns);
        EXPECT_LE(Timing::bucketLow(b + 1) - Timing::bucketLow(b), std::max<uint64_t>(1, ns / 16));
    }
}

TEST(ApiAggregator, MalformedAndUnknownTagsAreCountedNotThrown) {
    ApiAggregator agg(sampleFunction());
    std::string good = inputs({I(1)});
    std::string truncated = good.substr(0, good.size() - 1);
    std::string unknownTag = good;
    unknownTag[4] = static_cast<char>(0x3F);   // the argument's tag: not a tag this reader knows
    std::string r = value(None());
    agg.add(returned(truncated, r));
    agg.add(returned(unknownTag, r));
    agg.add(returned("", r));
    agg.add(returned(good, std::string("\x3F", 1)));   // an unknown result value: typed as object
    FunctionApi f = agg.finish({});
    EXPECT_EQ(f.calls, 4u);
    EXPECT_EQ(f.undecodable, 3u);
    EXPECT_EQ(countOf(f.returns, "object"), 1u);
    EXPECT_EQ(countOf(paramOf(f, "x").types, "int"), 1u);   // nothing counted from the broken ones
}

TEST(ApiAggregator, HugeAndDeepContainersAreBoundedAndBackrefsStayAligned) {
    FunctionInfo h;
    h.qualname = "h";
    h.signatureKnown = true;
    h.parameters = {param("big", Parameter::PositionalOrKeyword), param("deep", Parameter::PositionalOrKeyword),
                    param("again", Parameter::PositionalOrKeyword)};
    ApiOptions options;
    options.sampleItems = 4;
    options.maxDepth = 3;
    ApiAggregator agg(h, options);
    const uint64_t n = 2'000'000;
    std::string in;
    {
        ValueWriter w(in);
        w.beginTuple(2, false);
        w.beginTuple(3, false);
        w.beginList(n, false);                      // big: [[0], [1], ..., 'x'] with a memo inside
        for (uint64_t i = 0; i + 1 < n; ++i) w.integer(static_cast<int64_t>(i));
        w.beginList(1, true);                       // memo 0, deep in the skipped part
        w.str("x");
        for (int d = 0; d < 10000; ++d) w.beginList(1, false);   // deep: 10000 nested lists
        w.integer(1);
        w.backref(0);                               // again: the list seen inside `big`
        w.beginDict(0, false);
    }
    auto t0 = std::chrono::steady_clock::now();
    agg.add(returned(in, value(None())));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    FunctionApi f = agg.finish({});
    EXPECT_EQ(f.undecodable, 0u);
    EXPECT_EQ(countOf(paramOf(f, "big").types, "list[int]"), 1u);
    EXPECT_EQ(paramOf(f, "big").sampledValues, 1u);
    EXPECT_EQ(countOf(paramOf(f, "deep").types, "list[list[list[list]]]"), 1u);
    EXPECT_EQ(countOf(paramOf(f, "again").types, "list"), 1u);
    EXPECT_LT(seconds, 1.0);
}

TEST(ApiAggregator, UnknownSignatureMakesUpParameters) {
    FunctionInfo b;
    b.qualname = "builtin";
    b.signatureKnown = false;
    ApiAggregator agg(b);
    std::string r = value(None());
    std::string one = inputs({I(1)}, {{"k", S("v")}});
    std::string two = inputs({I(1), I(2)});
    agg.add(returned(one, r));
    agg.add(returned(two, r));
    FunctionApi f = agg.finish({});
    ASSERT_EQ(f.parameters.size(), 3u);
    EXPECT_EQ(f.parameters[0].name, "__arg0");
    EXPECT_EQ(f.parameters[1].name, "__arg1");
    EXPECT_EQ(f.parameters[1].defaulted, 1u);
    EXPECT_EQ(f.parameters[2].name, "k");
    EXPECT_EQ(f.parameters[2].kind, Parameter::KeywordOnly);
    EXPECT_EQ(f.unbound, 0u);
    ASSERT_EQ(f.signatures.size(), 2u);
    EXPECT_EQ(f.signatures[0].types.size(), 3u);
}

TEST(ApiAggregator, StringsWithSurrogatesNeverReachTheModelAsIs) {
    ApiAggregator agg(sampleFunction());
    const std::string surrogate = "\xED\xA0\x80";   // a lone surrogate, as "surrogatepass" stores it
    std::string in = inputs({S(surrogate)}, {{"k" + surrogate, I(1)}});
    CallSample raised;
    raised.inputs = in;
    raised.outcome = format::Outcome::Raised;
    raised.exceptionType = surrogate;
    agg.add(raised);
    FunctionApi f = agg.finish({});
    EXPECT_FALSE(paramOf(f, "x").literalsComplete);
    ASSERT_EQ(paramOf(f, "kw").keywordNames.size(), 1u);
    EXPECT_EQ(paramOf(f, "kw").keywordNames[0].name, "k\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(f.exceptions[0].name, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(UnionText, SortsAndSpellsOptional) {
    EXPECT_EQ(unionText({"str", "int"}), "Union[int, str]");
    EXPECT_EQ(unionText({"None", "int"}), "Optional[int]");
    EXPECT_EQ(unionText({"None", "str", "int"}), "Union[int, str, None]");
    EXPECT_EQ(unionText({"int", "int"}), "int");
}

TEST(ApiAggregator, TypesLargeStrAndBytesStoredApartAsWhatTheyAre) {
    // Format v2 stores a large str/bytes/bytearray as a PayloadBytes item (its bytes in the payload store).
    auto payload = [](Tag kind) { return [kind](ValueWriter& w) { w.payloadBytes(kind, 0, 5000, false); }; };
    ApiAggregator agg(sampleFunction(), ApiOptions{});
    agg.add(returned(inputs({payload(Tag::Str)}), value(payload(Tag::Bytes))));
    agg.add(returned(inputs({payload(Tag::ByteArray)}), value(payload(Tag::Bytes))));
    FunctionApi f = agg.finish(ApiNames{});
    EXPECT_EQ(f.undecodable, 0u);
    const ParameterUsage& x = paramOf(f, "x");
    EXPECT_EQ(countOf(x.types, "str"), 1u);
    EXPECT_EQ(countOf(x.types, "bytearray"), 1u);
    EXPECT_EQ(countOf(f.returns, "bytes"), 2u);
}

}  // namespace
}  // namespace callmonitor::analyse
