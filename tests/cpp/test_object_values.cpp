// Object (an instance by class and state) and Ref (a function, class or
// module by name) values: the bytes, the C++ Value tree and its text, the
// skipping and typing readers, and refusal of malformed headers.
#include <gtest/gtest.h>

#include <functional>

#include "callmonitor/api_model.h"
#include "callmonitor/errors.h"
#include "callmonitor/value.h"
#include "callmonitor/value_parser.h"
#include "callmonitor/value_writer.h"

namespace callmonitor {
namespace {

std::string bytesOf(const std::function<void(ValueWriter&)>& build) {
    std::string out;
    ValueWriter w(out);
    build(w);
    return out;
}

// mypkg.Grid(n=3, u=<8 doubles as payload 0>, me=<itself>)
void writeGrid(ValueWriter& w) {
    w.beginObject("mypkg", "Grid", ObjectForm::Attrs, true);
    w.beginDict(3, false);
    w.str("n");
    w.integer(3);
    w.str("u");
    w.arrayBlob(ArrayHeader{"<f8", 'C', {8}}, 0, 64, false);
    w.str("me");
    w.backref(0);
}

TEST(ObjectValues, HeaderBytesAreModuleQualnameFormThenState) {
    const std::string b = bytesOf([](ValueWriter& w) {
        w.beginObject("m", "C", ObjectForm::Enum, false);
        w.none();
    });
    EXPECT_EQ(b, std::string("\x17\x01m\x01" "C\x02\x00", 7));
    const std::string r = bytesOf([](ValueWriter& w) { w.reference(RefKind::Class, "builtins", "int"); });
    EXPECT_EQ(r, std::string("\x18\x01\x08" "builtins\x03int", 15));
}

TEST(ObjectValues, DecodeKeepsClassFormStateAndSharing) {
    const std::string blob(64, '\0');
    const std::string b = bytesOf(writeGrid);
    ValuePtr v = decodeValue(b, [&](uint32_t) { return std::string_view(blob); });
    ASSERT_EQ(v->tag, Tag::Object);
    EXPECT_EQ(v->name, "mypkg");
    EXPECT_EQ(v->extra, "Grid");
    EXPECT_EQ(v->qualifiedName(), "mypkg.Grid");
    EXPECT_EQ(v->integer, int64_t(ObjectForm::Attrs));
    ASSERT_EQ(v->items.size(), 1u);
    const Value& state = *v->items[0];
    ASSERT_EQ(state.tag, Tag::Dict);
    ASSERT_EQ(state.pairs.size(), 3u);
    EXPECT_EQ(state.pairs[1].second->tag, Tag::Array);
    EXPECT_EQ(state.pairs[1].second->bytes.size(), 64u);
    EXPECT_EQ(state.pairs[2].second.get(), v.get());  // the cycle comes back as a cycle
    EXPECT_EQ(v->toText(), "mypkg.Grid(n=3, u=array(dtype=<f8, shape=(8,), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]), "
                           "me=mypkg.Grid(...))");
    v->items.clear();  // break the cycle
}

TEST(ObjectValues, TextOfEnumsNamedTuplesStatesAndRefs) {
    const std::string b = bytesOf([](ValueWriter& w) {
        w.beginList(6, false);
        w.beginObject("mypkg", "Color", ObjectForm::Enum, false);
        w.beginDict(2, false);
        w.str("name");
        w.str("RED");
        w.str("value");
        w.integer(1);
        w.beginObject("mypkg", "Point", ObjectForm::NamedTuple, false);
        w.beginDict(2, false);
        w.str("x");
        w.real(1);
        w.str("y");
        w.real(2);
        w.beginObject("mypkg", "Custom", ObjectForm::State, false);
        w.beginTuple(1, false);
        w.integer(7);
        w.reference(RefKind::Function, "numpy", "sum");
        w.reference(RefKind::Class, "builtins", "int");
        w.reference(RefKind::Module, "numpy.linalg", "");
    });
    EXPECT_EQ(decodeValue(b)->toText(),
              "[mypkg.Color.RED, mypkg.Point(x=1.0, y=2.0), mypkg.Custom((7,)), <function numpy.sum>, "
              "<class int>, <module numpy.linalg>]");
}

TEST(ObjectValues, CallablesPrintAsWhatTheyAre) {
    const std::string b = bytesOf([](ValueWriter& w) {
        w.beginList(3, false);
        w.beginObject("mypkg", "Model.loss", ObjectForm::Method, false);
        w.beginObject("mypkg", "Model", ObjectForm::Attrs, false);
        w.beginDict(1, false);
        w.str("w");
        w.integer(2);
        w.beginObject("functools", "partial", ObjectForm::Partial, false);
        w.beginDict(3, false);
        w.str("func");
        w.reference(RefKind::Function, "mypkg", "power");
        w.str("args");
        w.beginTuple(0, false);
        w.str("keywords");
        w.beginDict(1, false);
        w.str("k");
        w.integer(2);
        w.beginObject("mypkg", "f.<locals>.<lambda>", ObjectForm::Local, false);
        w.beginDict(2, false);
        w.str("file");
        w.str("run.py");
        w.str("line");
        w.integer(12);
    });
    EXPECT_EQ(decodeValue(b)->toText(),
              "[<bound method mypkg.Model.loss of mypkg.Model(w=2)>, "
              "functools.partial(func=<function mypkg.power>, args=(), keywords={'k': 2}), "
              "<function mypkg.f.<locals>.<lambda> defined at run.py:12>]");
}

TEST(ObjectValues, SkipValueSkipsTheStateToo) {
    const std::string b = bytesOf([](ValueWriter& w) {
        w.beginList(2, false);
        writeGrid(w);
        w.reference(RefKind::Function, "numpy", "sum");
    }) + std::string(1, '\0');
    ValueParser p(b);
    p.skipValue();
    EXPECT_EQ(p.remaining(), 1u);
}

TEST(ObjectValues, MalformedHeadersAreDecodeErrors) {
    auto bad = [](std::string bytes) {
        EXPECT_THROW(decodeValue(bytes), DecodeError) << "accepted: " << bytes.size() << " bytes";
    };
    bad(std::string("\x17\x01m\x01" "C\x08\x00", 7));   // form 8 does not exist
    bad(std::string("\x17\x01m\x01" "C\x00", 6));       // no state
    bad(std::string("\x18\x03\x01m\x01" "f", 6));       // kind 3 does not exist
    bad(std::string("\x98\x00\x01m\x01" "f", 6));       // a Ref cannot be shared
    bad(std::string("\x17\x01m\x01" "C\x00\x14\x05", 8));  // state refers to an unassigned index
}

TEST(ObjectValues, ApiDerivationTypesObjectsByTheirClass) {
    FunctionInfo f;
    f.qualname = f.name = "solve";
    f.signatureKnown = true;
    Parameter p;
    p.name = "v";
    f.parameters = {p};
    analyse::ApiAggregator agg(f);
    const std::string none = bytesOf([](ValueWriter& w) { w.none(); });
    std::vector<std::string> keep;
    auto call = [&](const std::function<void(ValueWriter&)>& arg) {
        keep.push_back(bytesOf([&](ValueWriter& w) {
            w.beginTuple(2, false);
            w.beginTuple(1, false);
            arg(w);
            w.beginDict(0, false);
        }));
        analyse::CallSample s;
        s.inputs = keep.back();
        s.outcome = format::Outcome::Returned;
        s.result = none;
        agg.add(s);
    };
    call(writeGrid);
    call([](ValueWriter& w) {  // a list of them: typed by the class too
        w.beginList(1, false);
        w.beginObject("mypkg", "Grid", ObjectForm::Attrs, false);
        w.beginDict(0, false);
    });
    call([](ValueWriter& w) { w.reference(RefKind::Class, "mypkg", "Grid"); });
    call([](ValueWriter& w) { w.reference(RefKind::Function, "numpy", "sum"); });
    call([](ValueWriter& w) { w.reference(RefKind::Module, "numpy", ""); });
    call([](ValueWriter& w) {  // a bound method: a callable, not an instance of Grid.solve
        w.beginObject("mypkg", "Grid.solve", ObjectForm::Method, false);
        writeGrid(w);
    });
    const analyse::FunctionApi api = agg.finish({});
    ASSERT_EQ(api.parameters.size(), 1u);
    auto count = [&](const std::string& type) {
        for (const auto& t : api.parameters[0].types)
            if (t.type == type) return t.count;
        return uint64_t(0);
    };
    EXPECT_EQ(count("mypkg.Grid"), 1u);
    EXPECT_EQ(count("list[mypkg.Grid]"), 1u);
    EXPECT_EQ(count("type[mypkg.Grid]"), 1u);
    EXPECT_EQ(count("Callable[..., Any]"), 2u);
    EXPECT_EQ(count("types.ModuleType"), 1u);
}

}  // namespace
}  // namespace callmonitor
