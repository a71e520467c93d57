// A value stored as a summary (watch(values="summary")) is typed as what it
// summarizes: an array as numpy.typing.NDArray[<dtype>], like a fully
// recorded one, anything else as its class; never as the summary's handler.
#include <gtest/gtest.h>

#include "callmonitor/api_model.h"
#include "callmonitor/value_writer.h"
#include "analyse/value_summary.h"

namespace callmonitor::analyse {
namespace {

std::string summaryInputs(const std::vector<std::string>& payloads) {
    std::string out;
    ValueWriter w(out);
    w.beginTuple(2, false);
    w.beginTuple(payloads.size(), false);
    for (const auto& p : payloads) w.handler(kValueSummaryHandler, p);
    w.beginDict(0, false);
    return out;
}

std::vector<std::string> typesOf(const std::string& payload) {
    FunctionInfo f;
    f.qualname = "f";
    f.signatureKnown = true;
    Parameter p;
    p.name = "a";
    p.kind = Parameter::PositionalOrKeyword;
    f.parameters = {p};
    ApiAggregator agg(f);
    const std::string in = summaryInputs({payload});
    CallSample s;  // views: `in` and `none` outlive it
    s.inputs = in;
    std::string none;
    ValueWriter(none).none();
    s.outcome = format::Outcome::Returned;
    s.result = none;
    agg.add(s);
    std::vector<std::string> out;
    const FunctionApi api = agg.finish({});
    for (const auto& t : api.parameters.at(0).types) out.push_back(t.type);
    return out;
}

TEST(ValueSummary, AnArraySummaryIsTypedAsTheArray) {
    EXPECT_EQ(typesOf(R"(["numpy.ndarray", "float64", [2, 3], null])"),
              std::vector<std::string>{"numpy.typing.NDArray[numpy.float64]"});
    EXPECT_EQ(typesOf(R"(["numpy.ndarray","int32",[4],null,{"summary":"max_bytes=10"}])"),
              std::vector<std::string>{"numpy.typing.NDArray[numpy.int32]"});
    EXPECT_EQ(typesOf(R"(["numpy.ndarray", "bool", [1], null])"),
              std::vector<std::string>{"numpy.typing.NDArray[numpy.bool_]"});
}

TEST(ValueSummary, OtherSummariesAreTypedAsTheirClass) {
    EXPECT_EQ(typesOf(R"(["numpy.float64", "float64", [], null])"), std::vector<std::string>{"numpy.float64"});
    EXPECT_EQ(typesOf(R"(["pint.Quantity", null, null, null])"), std::vector<std::string>{"pint.Quantity"});
    EXPECT_EQ(typesOf(R"(["str", null, null, 200])"), std::vector<std::string>{"str"});
}

TEST(ValueSummary, AnUnreadablePayloadFallsBackToTheHandlerName) {
    for (std::string bad : {"", "{}", "[1, 2]", "[\"a\\\"b\"]", "[null]", "[\"\"]"})
        EXPECT_EQ(typesOf(bad), std::vector<std::string>{std::string(kValueSummaryHandler)}) << bad;
}

TEST(ValueSummary, NumpyDtypeNamesBecomeRecordedDtypeStrings) {
    EXPECT_EQ(recordedDtype("float64"), "<f8");
    EXPECT_EQ(recordedDtype("uint8"), "|u1");
    EXPECT_EQ(recordedDtype("complex128"), "<c16");
    EXPECT_EQ(recordedDtype("datetime64[ns]"), "<M8[ns]");
    EXPECT_EQ(recordedDtype("<U5"), "<U5");
    EXPECT_EQ(recordedDtype("float7"), "");
    EXPECT_EQ(recordedDtype("object"), "");
    EXPECT_EQ(recordedDtype("[('a', '<f8')]"), "");
}

}  // namespace
}  // namespace callmonitor::analyse
