// Databases written in format version 1 by b0c2ee2's code (committed in
// tests/fixtures/format-v1/, described in its README.md) open with the C++
// reader and decode to the recorded values. The v1 compatibility contract, C++
// side; tests/python/test_format_v1_fixtures.py compares every call.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "callmonitor/database.h"
#include "callmonitor/value.h"
#include "ndarray/xarray.h"
#include "store_fixtures.h"

using namespace callmonitor;
namespace fs = std::filesystem;

namespace {

// The committed fixtures, found from this source file (tests/cpp/ -> tests/fixtures/).
fs::path committedFixtures() {
    return fs::path(__FILE__).parent_path().parent_path() / "fixtures" / "format-v1";
}

// A private copy: a reader creates lock files, the committed ones stay untouched.
class FormatV1 : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new callmonitor::testing::TempDir();
        ASSERT_TRUE(fs::is_directory(committedFixtures())) << committedFixtures();
        fs::copy(committedFixtures(), dir_->path(), fs::copy_options::recursive);
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static std::string path(const std::string& rel) { return dir_->sub(rel); }

    static const FunctionInfo& function(const std::vector<FunctionInfo>& fns, const std::string& qualname) {
        for (const auto& f : fns)
            if (f.qualname == qualname) return f;
        throw std::runtime_error("no function " + qualname);
    }
    // The one writer directory of `run` whose name starts with `prefix`.
    static std::string writerDir(const std::string& run, const std::string& prefix) {
        for (const auto& e : fs::directory_iterator(path(run)))
            if (e.is_directory() && e.path().filename().string().rfind(prefix, 0) == 0) return e.path().string();
        throw std::runtime_error("no writer " + prefix + " in " + run);
    }

    static callmonitor::testing::TempDir* dir_;
};
callmonitor::testing::TempDir* FormatV1::dir_ = nullptr;

uint64_t bitsOf(double d) {
    uint64_t b;
    std::memcpy(&b, &d, 8);
    return b;
}

ValuePtr firstArg(const Snapshot& snap, const CallView& call) {
    auto inputs = decodeInputs(call.inputs, [&](uint32_t i) { return snap.blob(call.key, i); });
    if (inputs.args.empty()) throw std::runtime_error("call has no positional argument");
    return inputs.args[0];
}

}  // namespace

TEST_F(FormatV1, FunctionInfosKeepNamesKindsAndSignatures) {
    auto db = Database::open(path("functions/main"));
    EXPECT_EQ(db.formatVersion(), 1u);
    auto fns = db.functions();
    std::vector<std::string> names;
    for (const auto& f : fns) names.push_back(f.qualname);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"Solver.norm", "Solver.step", "add", "annotated", "count_up",
                                               "fail", "fetch", "gather", "outer", "posonly", "scale", "sink"}));
    const auto& gather = function(fns, "gather");
    EXPECT_EQ(gather.module, "format_v1_functions");
    EXPECT_EQ(gather.fullName(), "format_v1_functions.gather");
    EXPECT_EQ(gather.kind, "function");
    EXPECT_TRUE(gather.signatureKnown);
    EXPECT_NE(gather.file.find("format_v1_functions.py"), std::string::npos);
    std::vector<std::pair<std::string, int>> params;
    for (const auto& p : gather.parameters) params.emplace_back(p.name, p.kind);
    EXPECT_EQ(params, (std::vector<std::pair<std::string, int>>{
                          {"first", Parameter::PositionalOrKeyword}, {"rest", Parameter::VarPositional},
                          {"sep", Parameter::KeywordOnly}, {"flag", Parameter::KeywordOnly},
                          {"nothing", Parameter::KeywordOnly}, {"big", Parameter::KeywordOnly},
                          {"options", Parameter::VarKeyword}}));
    // big=2**70: a BigInt default, magnitude little-endian.
    const auto& big = gather.parameters[5];
    ASSERT_TRUE(big.hasDefault);
    EXPECT_EQ(big.defaultRepr, "1180591620717411303424");
    auto v = decodeValue(big.defaultValue);
    ASSERT_EQ(v->tag, Tag::BigInt);
    EXPECT_FALSE(v->negative);
    ASSERT_GE(v->bytes.size(), 9u);
    for (size_t i = 0; i < v->bytes.size(); ++i) EXPECT_EQ(uint8_t(v->bytes[i]), i == 8 ? 0x40 : 0) << i;
    EXPECT_EQ(function(fns, "count_up").kind, "generator");
    EXPECT_EQ(function(fns, "fetch").kind, "coroutine");
    const auto& annotated = function(fns, "annotated");
    EXPECT_EQ(annotated.parameters[0].annotation, "int");
    EXPECT_EQ(annotated.parameters[1].annotation, "list[float]");
    EXPECT_EQ(annotated.returnAnnotation, "float");
    const auto& posonly = function(fns, "posonly");
    EXPECT_EQ(posonly.parameters[0].kind, Parameter::PositionalOnly);
    auto b = decodeValue(posonly.parameters[1].defaultValue);
    ASSERT_EQ(b->tag, Tag::Tuple);
    ASSERT_EQ(b->items.size(), 2u);
    EXPECT_EQ(b->items[0]->integer, 1);
    EXPECT_EQ(b->items[1]->bytes, "two");
}

TEST_F(FormatV1, CallCountsOutcomesAndExceptions) {
    auto db = Database::open(path("functions/main"));
    auto fns = db.functions();
    auto snap = db.snapshot();
    std::map<std::string, uint64_t> counts;
    for (const auto& f : fns) counts[f.qualname] = snap.lastInvocation(f.id);
    EXPECT_EQ(counts, (std::map<std::string, uint64_t>{
                          {"Solver.norm", 1}, {"Solver.step", 2}, {"add", 5}, {"annotated", 1}, {"count_up", 2},
                          {"fail", 6}, {"fetch", 1}, {"gather", 2}, {"outer", 1}, {"posonly", 2}, {"scale", 2},
                          {"sink", 1}}));
    uint32_t fail = function(fns, "fail").id;
    EXPECT_EQ(snap.countCalls(fail), 6u);
    auto raised = snap.call({fail, 1});
    EXPECT_EQ(raised.outcome, format::Outcome::Raised);
    EXPECT_EQ(raised.exceptionType, "ValueError");
    EXPECT_EQ(raised.exceptionMessage, "bad value: \xc3\xbc");
    EXPECT_GT(raised.durationNs, 0u);
    auto custom = snap.call({fail, 3});
    EXPECT_EQ(custom.exceptionType, "format_v1_objects.FixtureError");
    EXPECT_EQ(custom.exceptionMessage, "custom \xc3\xa9");
    EXPECT_EQ(snap.call({fail, 4}).exceptionMessage, "");
    auto returned = snap.call({fail, 6});
    EXPECT_EQ(returned.outcome, format::Outcome::Returned);
    EXPECT_EQ(decodeValue(returned.result)->bytes, "nothing");
    uint32_t countUp = function(fns, "count_up").id;
    EXPECT_EQ(snap.call({countUp, 1}).outcome, format::Outcome::ResultSkipped);
    EXPECT_TRUE(snap.call({countUp, 1}).result.empty());

    uint32_t add = function(fns, "add").id;
    auto kw = snap.call({add, 3});
    auto inputs = decodeInputs(kw.inputs);
    EXPECT_TRUE(inputs.args.empty());
    ASSERT_EQ(inputs.kwargs.size(), 2u);
    EXPECT_EQ(inputs.kwargs[0].first, "x");
    EXPECT_EQ(inputs.kwargs[0].second->integer, 3);
    EXPECT_EQ(inputs.kwargs[1].first, "y");
    EXPECT_EQ(inputs.kwargs[1].second->tag, Tag::Float);
    EXPECT_EQ(inputs.kwargs[1].second->real, 4.5);
    auto result = decodeValue(kw.result);
    EXPECT_EQ(result->tag, Tag::Float);
    EXPECT_EQ(result->real, 7.5);
    // The call outer() made: its caller is another module than the script's.
    auto callers = db.callers();
    auto nested = snap.call({add, 5});
    ASSERT_LT(nested.caller, callers.size());
    EXPECT_EQ(callers[nested.caller], "format_v1_functions");
    EXPECT_EQ(callers[snap.call({add, 1}).caller], "__main__");
    // A method's self was pickled.
    auto self = firstArg(snap, snap.call({function(fns, "Solver.step").id, 1}));
    EXPECT_EQ(self->tag, Tag::Pickle);
    EXPECT_EQ(self->name, "format_v1_functions.Solver");
}

TEST_F(FormatV1, ValuesDecodeBitExact) {
    auto db = Database::open(path("values/main"));
    auto snap = db.snapshot();
    uint32_t echo = function(db.functions(), "echo").id;
    EXPECT_EQ(snap.lastInvocation(echo), 119u);
    auto arg = [&](uint64_t n) { return firstArg(snap, snap.call({echo, n})); };
    // (invocation = position in format_v1_expected.value_cases(), from 1)
    auto minInt = arg(7);
    EXPECT_EQ(minInt->tag, Tag::Int);
    EXPECT_EQ(minInt->integer, INT64_MIN);
    auto bigNeg = arg(10);                          // -(2**64) - 1
    ASSERT_EQ(bigNeg->tag, Tag::BigInt);
    EXPECT_TRUE(bigNeg->negative);
    ASSERT_GE(bigNeg->bytes.size(), 9u);
    EXPECT_EQ(uint8_t(bigNeg->bytes[0]), 1);
    EXPECT_EQ(uint8_t(bigNeg->bytes[8]), 1);
    auto payload = arg(17);
    ASSERT_EQ(payload->tag, Tag::Float);
    EXPECT_EQ(bitsOf(payload->real), 0x7FF8000000000123ull);
    auto negZero = arg(21);
    EXPECT_EQ(bitsOf(negZero->real), 0x8000000000000000ull);
    auto surrogate = arg(33);                      // "\ud800", surrogate passed through
    EXPECT_EQ(surrogate->tag, Tag::Str);
    EXPECT_EQ(surrogate->bytes, "\xed\xa0\x80");
    auto mixedKeys = arg(49);
    ASSERT_EQ(mixedKeys->tag, Tag::Dict);
    ASSERT_EQ(mixedKeys->pairs.size(), 9u);
    EXPECT_EQ(mixedKeys->pairs[0].first->tag, Tag::Int);       // insertion order kept
    EXPECT_EQ(mixedKeys->pairs[1].first->tag, Tag::Tuple);
    EXPECT_EQ(mixedKeys->pairs[4].first->tag, Tag::None);
    EXPECT_EQ(mixedKeys->pairs[8].first->tag, Tag::BigInt);
    auto sharedBig = arg(57);                      // (big, big): one array, twice
    ASSERT_EQ(sharedBig->items.size(), 2u);
    EXPECT_EQ(sharedBig->items[0].get(), sharedBig->items[1].get());
    auto cyclic = arg(58);                         // a = [1, "x", a]
    ASSERT_EQ(cyclic->tag, Tag::List);
    ASSERT_EQ(cyclic->items.size(), 3u);
    EXPECT_EQ(cyclic->items[2].get(), cyclic.get());
    cyclic->items.clear();                         // (break the cycle: frees it)
    auto fortran = arg(90);
    ASSERT_EQ(fortran->tag, Tag::Array);
    EXPECT_EQ(fortran->order, 'F');
    EXPECT_EQ(fortran->shape, (std::vector<uint64_t>{3, 4}));
    double f[12];
    ASSERT_EQ(fortran->bytes.size(), sizeof f);
    std::memcpy(f, fortran->bytes.data(), sizeof f);
    EXPECT_EQ(f[1], 4.0);                          // column-major: [1,0] follows [0,0]
    auto dt = arg(80);
    EXPECT_EQ(dt->name, "<M8[ns]");
    EXPECT_EQ(dt->dtype.unit, "ns");
    int64_t t[2];
    std::memcpy(t, dt->bytes.data(), sizeof t);
    EXPECT_EQ(t[0], 1796164716123456789LL);
    EXPECT_EQ(t[1], INT64_MIN);                    // NaT
    auto scalar = arg(103);
    EXPECT_EQ(scalar->tag, Tag::NpScalar);
    EXPECT_EQ(scalar->name, "<f4");
    EXPECT_EQ(scalar->bytes, std::string("\x00\x00\x00\x80", 4));
    auto pickled = arg(117);
    EXPECT_EQ(pickled->tag, Tag::Pickle);
    EXPECT_EQ(pickled->name, "format_v1_objects.Point");
    auto opaque = arg(119);
    ASSERT_EQ(opaque->tag, Tag::Opaque);
    EXPECT_EQ(opaque->name, "format_v1_objects.Unpicklable");
    EXPECT_EQ(opaque->bytes, "Unpicklable(7)");
    EXPECT_EQ(opaque->extra, "cannot be pickled: TypeError: Unpicklable refuses to be pickled");
}

TEST_F(FormatV1, ArraysOver512BytesComeFromBlobs) {
    auto db = Database::open(path("values/main"));
    auto snap = db.snapshot();
    uint32_t echo = function(db.functions(), "echo").id;
    EXPECT_EQ(db.sizes().blobs, 8u);
    // np.arange(300, dtype=">i4"): blob 0 of call 97, big-endian bytes.
    format::CallKey key{echo, 97};
    auto blobs = snap.blobs(key);
    ASSERT_EQ(blobs.size(), 1u);
    EXPECT_EQ(blobs[0].first, 0u);
    std::string_view raw = blobs[0].second;
    ASSERT_EQ(raw.size(), 1200u);
    for (int i : {0, 1, 255, 299}) {
        auto p = reinterpret_cast<const uint8_t*>(raw.data()) + 4 * i;
        EXPECT_EQ((uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3], uint32_t(i));
    }
    auto v = firstArg(snap, snap.call(key));
    EXPECT_EQ(v->name, ">i4");
    EXPECT_EQ(v->shape, (std::vector<uint64_t>{300}));
    xt::xarray<int32_t> a = toXarray<int32_t>(*v);
    for (int i = 0; i < 300; ++i) EXPECT_EQ(a(i), i);
    // The result (same array) is inline in v1: the record has only the input's blob.
    auto result = decodeValue(snap.call(key).result);
    EXPECT_EQ(result->bytes, v->bytes);
    // 513 uint8 bytes: just over the inline limit, a blob.
    auto u8 = firstArg(snap, snap.call({echo, 94}));
    ASSERT_EQ(u8->bytes.size(), 513u);
    EXPECT_EQ(std::string(u8->bytes.substr(0, 4)), std::string("\x17\x55\x0c\x5d", 4));
    EXPECT_EQ(snap.blobs({echo, 94}).size(), 1u);
}

TEST_F(FormatV1, PendingCallKeepsItsInputs) {
    auto db = Database::open(path("pending/main"));
    auto fns = db.functions();
    auto snap = db.snapshot();
    auto die = snap.call({function(fns, "die").id, 1});
    EXPECT_EQ(die.outcome, format::Outcome::Pending);
    EXPECT_EQ(firstArg(snap, die)->bytes, "last words");
    auto work = snap.call({function(fns, "work").id, 2});
    EXPECT_EQ(work.outcome, format::Outcome::Returned);
    EXPECT_EQ(decodeValue(work.result)->integer, 4);
}

TEST_F(FormatV1, ThreadsProcessesAndRanksAreTheirWriters) {
    auto threads = Database::open(path("threads/main")).threads();
    std::vector<std::string> names;
    for (const auto& t : threads) names.push_back(t.name);
    EXPECT_EQ(names, (std::vector<std::string>{"MainThread", "worker-A", "worker-B"}));

    auto parent = Database::open(path("fork/main"));
    std::string childDir = writerDir("fork", "pid-");
    auto child = Database::open(childDir);
    auto info = child.writerInfo();
    EXPECT_EQ("pid-" + std::to_string(info.pid), fs::path(childDir).filename().string());
    EXPECT_EQ(info.writerId, fs::path(childDir).filename().string());
    EXPECT_EQ(info.runId, parent.writerInfo().runId);        // one run
    EXPECT_NE(info.pid, parent.writerInfo().pid);
    EXPECT_EQ(child.snapshot().lastInvocation(function(child.functions(), "work").id), 1u);
    EXPECT_EQ(parent.snapshot().lastInvocation(function(parent.functions(), "work").id), 2u);

    for (int r : {0, 1}) {
        auto rank = Database::open(path("ranks/rank-000" + std::to_string(r)));
        auto w = rank.writerInfo();
        EXPECT_EQ(w.rank, r);
        EXPECT_EQ(w.writerId, "rank-000" + std::to_string(r));
        EXPECT_EQ(w.runId, "job:format-v1-ranks");
        EXPECT_EQ(w.pythonVersion, "3.11.2");
        EXPECT_EQ(w.packageVersion, "0.4.0");
        auto snap = rank.snapshot();
        auto call = snap.call({function(rank.functions(), "work").id, 1});
        EXPECT_EQ(firstArg(snap, call)->integer, r);
    }
}

TEST_F(FormatV1, MergedEnvironmentListsItsSources) {
    auto db = Database::open(path("merged"));
    EXPECT_EQ(db.formatVersion(), 1u);
    auto sources = db.sources();
    std::vector<std::string> ids;
    for (const auto& s : sources) ids.push_back(s.run + "/" + s.writer.writerId);
    ASSERT_EQ(ids.size(), 5u);
    EXPECT_EQ(ids[0], "fork/main");
    EXPECT_EQ(ids[1].rfind("fork/pid-", 0), 0u);
    EXPECT_EQ(std::vector<std::string>(ids.begin() + 2, ids.end()),
              (std::vector<std::string>{"ranks/rank-0000", "ranks/rank-0001", "handlers/main"}));
    auto fns = db.functions();
    auto snap = db.snapshot();
    uint32_t next = 0;
    for (const auto& s : sources) {
        EXPECT_EQ(s.functionBase, next) << s.run;      // consecutive id ranges
        next += s.functionCount;
    }
    EXPECT_EQ(next, fns.size());
    EXPECT_EQ(sources[2].writer.rank, 0);
    EXPECT_EQ(sources[3].writer.rank, 1);
    // rank 1's work(1, tag="rank 1"), moved to its function range.
    const auto& rank1 = sources[3];
    bool found = false;
    for (uint32_t f = rank1.functionBase; f < rank1.functionBase + rank1.functionCount; ++f) {
        if (fns[f].qualname != "work") continue;
        auto call = snap.call({f, 1});
        auto inputs = decodeInputs(call.inputs);
        EXPECT_EQ(inputs.args[0]->integer, 1);
        EXPECT_EQ(inputs.kwargs[0].second->bytes, "rank 1");
        ASSERT_GE(call.thread, rank1.threadBase);
        EXPECT_LT(call.thread, rank1.threadBase + rank1.threadCount);
        found = true;
    }
    EXPECT_TRUE(found);
    // The 0.3-style handler files came along.
    const auto& handlers = sources[4];
    ASSERT_FALSE(handlers.handlerDir.empty());
    EXPECT_TRUE(fs::is_regular_file(fs::path(path("merged")) / handlers.handlerDir / "handlers/handled/1/blob_k.txt"));
}

TEST_F(FormatV1, HandlerValuesKeepHandlerNamePayloadAndFiles) {
    auto db = Database::open(path("handlers/main"));
    auto snap = db.snapshot();
    format::CallKey key{function(db.functions(), "handled").id, 1};
    auto inputs = decodeInputs(snap.call(key).inputs);
    // Celsius(21.5) through a new-style handler: its encode() bytes, inline.
    const auto& celsius = *inputs.args.at(0);
    ASSERT_EQ(celsius.tag, Tag::Handler);
    EXPECT_EQ(celsius.name, "format_v1_objects.CelsiusHandler");
    double degrees;
    ASSERT_EQ(celsius.bytes.size(), sizeof degrees);
    std::memcpy(&degrees, celsius.bytes.data(), sizeof degrees);
    EXPECT_EQ(degrees, 21.5);
    // k=Blob("keyword ü") through a 0.3-style handler: its directory and its state.
    ASSERT_EQ(inputs.kwargs.size(), 1u);
    EXPECT_EQ(inputs.kwargs[0].first, "k");
    const auto& blob = *inputs.kwargs[0].second;
    ASSERT_EQ(blob.tag, Tag::Legacy);
    EXPECT_EQ(blob.name, "format_v1_objects.BlobHandler");
    EXPECT_EQ(blob.extra, "handlers/handled/1");
    ASSERT_EQ(blob.items.size(), 1u);
    EXPECT_EQ(blob.items[0]->tag, Tag::Dict);
    std::ifstream file(fs::path(path("handlers/main")) / blob.extra / "blob_k.txt");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "keyword \xc3\xbc");
}
