// Run (run.h): the writers under a path, their order, merges and their
// sources, several runs, duplicates read once, damaged writers, name
// resolution, and the call cursor across writers.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "callmonitor/errors.h"
#include "callmonitor/merge.h"
#include "callmonitor/run.h"
#include "callmonitor/value.h"
#include "callmonitor/writer.h"
#include "store_fixtures.h"

namespace callmonitor {
namespace {

using namespace callmonitor::testing;
using format::CallKey;

struct Fn {
    std::string module, qualname;
    uint64_t calls;
    std::string file = "";
    uint32_t line = 0;
};

// A closed writer environment in `dir`. Argument of call i of function k: base + 100 * k + i.
void writeEnv(const std::string& dir, const std::string& writerId, const std::string& runId, int64_t startedUnixNs,
              const std::vector<Fn>& fns, int64_t base = 0, int64_t rank = -1) {
    WriterInfo info = testWriterInfo();
    info.writerId = writerId;
    info.runId = runId;
    info.rank = rank;
    info.startedUnixNs = startedUnixNs;
    Writer writer(optionsFor(dir), info);
    for (uint32_t k = 0; k < fns.size(); ++k) {
        FunctionInfo f;
        f.id = k;
        f.module = fns[k].module;
        f.qualname = fns[k].qualname;
        f.name = f.qualname.substr(f.qualname.rfind('.') == std::string::npos ? 0 : f.qualname.rfind('.') + 1);
        f.file = fns[k].file;
        f.line = fns[k].line;
        writer.submitFunction(f);
        for (uint64_t i = 1; i <= fns[k].calls; ++i) {
            writer.submitEntry(CallKey{k, i}, entryRecord(base + 100 * k + int64_t(i), i));
            writer.submitOutcome(CallKey{k, i}, returnedOutcome(0));
        }
    }
    writer.close();
}

void markRun(const std::string& dir, const std::string& runId, int64_t created) {
    fs::create_directories(dir);
    writeFile(dir + "/.callmonitor-run", "{\"run_id\": \"" + runId + "\", \"created_unix_ns\": " + std::to_string(created) + "}");
}

std::vector<std::string> ids(const Run& run) {
    std::vector<std::string> out;
    for (const RunWriter& w : run.writers()) out.push_back(w.id);
    return out;
}

int64_t firstArg(const CallView& v) { return decodeInputs(v.inputs).args.at(0)->integer; }

// Every call of `name` as (writer id, first argument), in cursor order.
std::vector<std::pair<std::string, int64_t>> walk(const Run& run, const std::string& name) {
    std::vector<std::pair<std::string, int64_t>> out;
    RunCallCursor c = run.calls(run.resolve(name));
    RunCall call;
    while (c.next(call)) out.emplace_back(run.writers()[call.writer].id, firstArg(call.view));
    return out;
}

const std::vector<Fn> kSolve = {{"app", "solve", 2}};

TEST(RunReader, GivenARunOfManyKindsOfWriters_WhenOpened_ThenListedByKindAndNumberAndWalkedByStartTime) {
    TempDir tmp;
    const std::string run = tmp.sub("call-monitor");
    markRun(run, "job", 1);
    // Started in the order pid-77, rank-0010, main, tid-3, rank-0002.
    writeEnv(run + "/rank-0010", "rank-0010", "job", 200, kSolve, 10000, 10);
    writeEnv(run + "/main", "main", "job", 300, kSolve, 0);
    writeEnv(run + "/pid-77", "pid-77", "job", 100, kSolve, 7700);
    writeEnv(run + "/rank-0002", "rank-0002", "job", 500, kSolve, 2000, 2);
    writeEnv(run + "/tid-3", "tid-3", "job", 400, kSolve, 300);
    callmonitor::Run r = callmonitor::Run::open(run);
    EXPECT_EQ(ids(r), (std::vector<std::string>{"main", "rank-0002", "rank-0010", "tid-3", "pid-77"}));
    EXPECT_EQ(r.runs(), std::vector<std::string>{"call-monitor"});
    EXPECT_TRUE(r.damaged().empty());
    EXPECT_EQ(r.writers()[1].info().rank, 2);
    std::vector<std::pair<std::string, int64_t>> expected = {
        {"pid-77", 7701}, {"pid-77", 7702}, {"rank-0010", 10001}, {"rank-0010", 10002}, {"main", 1}, {"main", 2},
        {"tid-3", 301},   {"tid-3", 302},   {"rank-0002", 2001},  {"rank-0002", 2002}};
    EXPECT_EQ(walk(r, "solve"), expected);

    // One writer directory alone: its run is named by the run directory.
    callmonitor::Run one = callmonitor::Run::open(run + "/tid-3");
    ASSERT_EQ(ids(one), std::vector<std::string>{"tid-3"});
    EXPECT_EQ(one.writers()[0].run(), "call-monitor");
}

TEST(RunReader, GivenAMerge_WhenOpened_ThenItsSourcesAreTheWritersWithTheirOwnFunctions) {
    TempDir tmp;
    const std::string a = tmp.sub("call-monitor"), b = tmp.sub("call-monitor-1");
    markRun(a, "run-a", 1);
    markRun(b, "run-b", 2);
    writeEnv(a + "/main", "main", "run-a", 10, {{"app", "solve", 3}, {"app", "setup", 1}}, 0);
    writeEnv(a + "/pid-5", "pid-5", "run-a", 20, {{"app", "solve", 1}}, 500);
    writeEnv(b + "/main", "main", "run-b", 30, {{"app", "solve", 2}}, 9000);
    mergeWriters(tmp.sub("merged"), {{a + "/main", "call-monitor"}, {a + "/pid-5", "call-monitor"},
                                     {b + "/main", "call-monitor-1"}});
    callmonitor::Run m = callmonitor::Run::open(tmp.sub("merged"));
    EXPECT_EQ(ids(m), (std::vector<std::string>{"call-monitor/main", "call-monitor/pid-5", "call-monitor-1/main"}));
    for (const RunWriter& w : m.writers()) EXPECT_TRUE(w.merged);
    EXPECT_EQ(m.runs(), (std::vector<std::string>{"call-monitor", "call-monitor-1"}));
    ASSERT_EQ(m.functions(0).size(), 2u);
    ASSERT_EQ(m.functions(1).size(), 1u);
    EXPECT_EQ(m.functions(1)[0].info.id, 2u);  // moved past the first source's ids
    std::vector<std::pair<std::string, int64_t>> expected = {{"call-monitor/main", 1},    {"call-monitor/main", 2},
                                                             {"call-monitor/main", 3},    {"call-monitor/pid-5", 501},
                                                             {"call-monitor-1/main", 9001}, {"call-monitor-1/main", 9002}};
    EXPECT_EQ(walk(m, "app.solve"), expected);
    EXPECT_EQ(walk(m, "setup").size(), 1u);
}

TEST(RunReader, GivenAFolderOfRunsAndMergesOfThem_WhenOpened_ThenEachWriterAndCallIsReadOnce) {
    TempDir tmp;
    const std::string folder = tmp.sub("results");
    const std::string a = folder + "/call-monitor", b = folder + "/call-monitor-1";
    markRun(a, "run-a", 1);
    markRun(b, "run-b", 2);
    writeEnv(a + "/main", "main", "run-a", 10, {{"app", "solve", 3}}, 0);
    writeEnv(b + "/main", "main", "run-b", 30, {{"app", "solve", 2}}, 9000);
    mergeWriters(folder + "/merged-a", {{a + "/main", "call-monitor"}});
    mergeWriters(folder + "/merged-ab", {{a + "/main", "call-monitor"}, {b + "/main", "call-monitor-1"}});
    fs::create_directories(folder + "/merged-c.partial-123");  // a merge in progress is not read

    callmonitor::Run r = callmonitor::Run::open(folder);
    EXPECT_EQ(ids(r), (std::vector<std::string>{"call-monitor/main", "call-monitor-1/main"}));
    EXPECT_EQ(r.duplicates(), 3u);  // run-a main twice in merges, run-b main once
    for (const RunWriter& w : r.writers()) EXPECT_FALSE(w.merged) << w.id << ": own environments are preferred";
    EXPECT_EQ(walk(r, "solve").size(), 5u);

    // Without the original runs, the merges alone still give each call once.
    fs::remove_all(a);
    fs::remove_all(b);
    callmonitor::Run m = callmonitor::Run::open(folder);
    EXPECT_EQ(ids(m), (std::vector<std::string>{"call-monitor/main", "call-monitor-1/main"}));
    EXPECT_EQ(walk(m, "solve").size(), 5u);
}

TEST(RunReader, GivenAMergeTakenWhileTheRunWasShorter_WhenBothAreMerged_ThenTheCopyWithMoreCallsIsRead) {
    TempDir tmp;
    const std::string folder = tmp.sub("results");
    markRun(folder + "/call-monitor", "run-a", 1);
    writeEnv(folder + "/call-monitor/main", "main", "run-a", 10, {{"app", "solve", 2}}, 0);
    mergeWriters(folder + "/early", {{folder + "/call-monitor/main", "call-monitor"}});
    fs::remove_all(folder + "/call-monitor");
    markRun(folder + "/call-monitor", "run-a", 1);
    writeEnv(folder + "/call-monitor/main", "main", "run-a", 10, {{"app", "solve", 4}}, 0);
    mergeWriters(folder + "/late", {{folder + "/call-monitor/main", "call-monitor"}});
    fs::remove_all(folder + "/call-monitor");
    callmonitor::Run r = callmonitor::Run::open(folder);
    ASSERT_EQ(r.writers().size(), 1u);
    EXPECT_EQ(r.duplicates(), 1u);
    EXPECT_EQ(walk(r, "solve").size(), 4u);
}

TEST(RunReader, GivenADamagedWriter_WhenTheRunIsOpened_ThenTheOthersOpenAndTheDamagedOneIsNamed) {
    TempDir tmp;
    const std::string run = tmp.sub("call-monitor");
    markRun(run, "job", 1);
    writeEnv(run + "/main", "main", "job", 10, kSolve, 0);
    writeEnv(run + "/pid-9", "pid-9", "job", 20, kSolve, 900);
    writeFile(run + "/pid-9/data.mdb", std::string(8192, 'x'));  // garbage where an LMDB file should be

    callmonitor::Run r = callmonitor::Run::open(run);
    EXPECT_EQ(ids(r), std::vector<std::string>{"main"});
    ASSERT_EQ(r.damaged().size(), 1u);
    EXPECT_NE(r.damaged()[0].directory.find("pid-9"), std::string::npos);
    EXPECT_FALSE(r.damaged()[0].error.empty());
    EXPECT_EQ(walk(r, "solve").size(), 2u);

    RunOptions strict;
    strict.strict = true;
    EXPECT_THROW(callmonitor::Run::open(run, strict), DatabaseError);
    EXPECT_THROW(callmonitor::Run::open(run + "/pid-9"), DatabaseError);  // the one environment asked for
    fs::remove_all(run + "/main");
    EXPECT_THROW(callmonitor::Run::open(run), DatabaseError);  // nothing readable is left
}

TEST(RunReader, GivenPathsHoldingNothing_WhenOpened_ThenTheErrorSaysWhat) {
    TempDir tmp;
    EXPECT_THROW(callmonitor::Run::open(tmp.sub("missing")), NotFoundError);
    fs::create_directories(tmp.sub("empty/sub"));
    try {
        callmonitor::Run::open(tmp.sub("empty"));
        FAIL() << "an empty folder opened";
    } catch (const NotADatabaseError& e) {
        EXPECT_NE(std::string(e.what()).find("no data.mdb"), std::string::npos) << e.what();
    }
    writeFile(tmp.sub("empty/db.pkl"), "x");
    try {
        callmonitor::Run::open(tmp.sub("empty"));
        FAIL();
    } catch (const NotADatabaseError& e) {
        EXPECT_NE(std::string(e.what()).find("0.3"), std::string::npos) << e.what();
    }
}

TEST(RunReader, GivenNames_WhenResolved_ThenFullNameThenQualnameThenBareNameAndAmbiguityListsThem) {
    TempDir tmp;
    const std::string run = tmp.sub("call-monitor");
    markRun(run, "job", 1);
    writeEnv(run + "/main", "main", "job", 10,
             {{"app", "Solver.step", 1}, {"app", "step", 2}, {"other", "step", 3}, {"app", "setup", 1}});
    writeEnv(run + "/rank-0001", "rank-0001", "job", 20, {{"app", "setup", 4}}, 0, 1);
    callmonitor::Run r = callmonitor::Run::open(run);

    auto found = r.resolve("app.step");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].info.qualname, "step");
    EXPECT_EQ(r.resolve("Solver.step").at(0).info.qualname, "Solver.step");
    EXPECT_EQ(r.resolve("setup").size(), 2u);  // one function, recorded by two writers
    EXPECT_EQ(r.resolve("setup", {1}).size(), 1u);
    try {
        r.resolve("step");
        FAIL() << "a bare name matching two modules resolved";
    } catch (const UnknownFunctionError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("app.step"), std::string::npos) << m;
        EXPECT_NE(m.find("other.step"), std::string::npos) << m;
        EXPECT_NE(m.find("full name"), std::string::npos) << m;
    }
    try {
        r.resolve("nosuch");
        FAIL();
    } catch (const UnknownFunctionError& e) {
        EXPECT_NE(std::string(e.what()).find("app.setup"), std::string::npos) << e.what();
    }
}

TEST(RunReader, GivenTwoDefinitionsOfOneName_WhenResolvedByQuery_ThenTheDefinitionSiteChooses) {
    TempDir tmp;
    const std::string run = tmp.sub("call-monitor");
    markRun(run, "job", 1);
    writeEnv(run + "/main", "main", "job", 10, {{"app", "f", 1, "/src/a.py", 3}, {"app", "f", 2, "/src/a.py", 9}});
    callmonitor::Run r = callmonitor::Run::open(run);
    EXPECT_THROW(r.resolve("f"), UnknownFunctionError);  // which of the two?
    FunctionQuery q{"app", "f", "/src/a.py", 9, false};
    auto found = r.resolve(q);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].info.line, 9u);
    RunCallCursor c = r.calls(found);
    RunCall call;
    int n = 0;
    while (c.next(call)) ++n;
    EXPECT_EQ(n, 2);
    q.line = 40;  // the source was edited since: no site matches, both names do
    EXPECT_THROW(r.resolve(q), UnknownFunctionError);
    q.partial = true;
    EXPECT_THROW(r.resolve(q), UnknownFunctionError);
}

TEST(RunReader, GivenTwoDefinitionsInOneWriter_WhenNamedWithTheirSite_ThenEachIsFoundAndABareNameListsTheSpellings) {
    TempDir tmp;
    const std::string run = tmp.sub("call-monitor");
    markRun(run, "job", 1);
    writeEnv(run + "/main", "main", "job", 10,
             {{"app", "f", 1, "/src/a.py", 3}, {"app", "f", 2, "/src/a.py", 9}, {"app", "g", 1, "/src/a.py", 20}});
    writeEnv(run + "/pid-7", "pid-7", "job", 20, {{"app", "f", 4, "/src/a.py", 9}, {"app", "g", 1, "/old/a.py", 12}});
    callmonitor::Run r = callmonitor::Run::open(run);
    EXPECT_EQ(r.resolve("f@9").size(), 2u);  // one definition, two writers
    EXPECT_EQ(r.resolve("app.f@3").size(), 1u);
    EXPECT_EQ(r.resolve("f@a.py:3").at(0).info.line, 3u);
    EXPECT_EQ(r.resolve("f@/src/a.py:9", {0}).size(), 1u);
    EXPECT_THROW(r.resolve("f@4"), UnknownFunctionError);
    EXPECT_THROW(r.resolve("f@b.py:3"), UnknownFunctionError);  // "b.py" is no trailing part of "/src/a.py"
    // g: one site per writer (the script moved between them): one function, its calls walked together.
    EXPECT_EQ(r.resolve("g").size(), 2u);
    try {
        r.resolve("f");
        FAIL() << "a bare name matching two definitions resolved";
    } catch (const AmbiguousFunctionError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("'app.f@3'"), std::string::npos) << m;
        EXPECT_NE(m.find("'app.f@9'"), std::string::npos) << m;
        EXPECT_NE(m.find("/src/a.py:9"), std::string::npos) << m;
    }
    std::vector<callmonitor::RunFunction> all = r.functions();
    std::vector<const callmonitor::RunFunction*> ptrs;
    for (const auto& f : all) ptrs.push_back(&f);
    std::vector<std::string> names = callmonitor::uniqueNames(ptrs);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"app.f@3", "app.f@9", "app.f@9", "app.g", "app.g"}));
}

TEST(RunReader, GivenAFolderOfRuns_WhenTheNewestIsAsked_ThenItIsTheOneWhoseMarkerIsNewest) {
    TempDir tmp;
    markRun(tmp.sub("call-monitor"), "a", 300);
    markRun(tmp.sub("call-monitor-1"), "b", 100);
    markRun(tmp.sub("call-monitor-2"), "c", 200);
    EXPECT_EQ(fs::path(newestRun(tmp.path())).filename(), "call-monitor");
    TempDir empty;
    EXPECT_THROW(newestRun(empty.path()), NotFoundError);
}

}  // namespace
}  // namespace callmonitor
