// mergeWriters and rebaseCallRecord: many writer environments, one output
// that keeps each call's provenance; idempotent; never overwrites.
#include <gtest/gtest.h>

#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/merge.h"
#include "callmonitor/writer.h"
#include "store_fixtures.h"

namespace callmonitor {
namespace {

using namespace callmonitor::testing;
using format::CallKey;

// A closed writer with `functions` functions of `calls` calls each, `threads`
// threads (call i runs on thread i % threads), one caller module, and a blob
// on every 3rd call. Argument of call i of function f: 1000 * rank + 100 * f + i.
void writeWriter(const std::string& dir, int64_t rank, uint32_t functions, uint64_t calls, uint32_t threads = 1) {
    WriterInfo info = testWriterInfo();
    info.rank = rank;
    info.pid = 5000 + rank;
    info.writerId = "rank-000" + std::to_string(rank);
    info.runId = "job:test";
    Writer writer(optionsFor(dir), info);
    for (uint32_t t = 0; t < threads; ++t) {
        ThreadInfo th;
        th.index = t;
        th.ident = 100 + t;
        th.name = "thread-" + std::to_string(t);
        writer.submitThread(th);
    }
    writer.submitCaller(0, "module_of_rank_" + std::to_string(rank));
    for (uint32_t f = 0; f < functions; ++f) {
        FunctionInfo fn;
        fn.id = f;
        fn.qualname = "fn" + std::to_string(f);
        fn.name = fn.qualname;
        writer.submitFunction(fn);
        for (uint64_t i = 1; i <= calls; ++i) {
            std::vector<Payload> blobs;
            if (i % 3 == 0) blobs.push_back(makePayload(std::string(700, char('a' + rank))));
            const int64_t arg = 1000 * rank + 100 * f + int64_t(i);
            writer.submitEntry(CallKey{f, i}, entryRecord(arg, 10 * i, uint32_t(i % threads), 0), std::move(blobs));
            writer.submitOutcome(CallKey{f, i}, returnedOutcome(arg));
        }
    }
    writer.close();
}

TEST(RebaseCallRecord, GivenARecord_WhenRebased_ThenOnlyThreadAndCallerMove) {
    const std::string record = entryRecord(42, 12345, 3, 7);
    const std::string moved = rebaseCallRecord(record, 10, -7);
    CallView before = parseCallRecord(record), after = parseCallRecord(moved);
    EXPECT_EQ(after.startNs, before.startNs);
    EXPECT_EQ(after.thread, 13u);
    EXPECT_EQ(after.caller, 0u);
    EXPECT_EQ(after.inputs, before.inputs);
    EXPECT_EQ(after.outcome, before.outcome);
}

TEST(RebaseCallRecord, GivenAnIndexThatWouldLeaveTheU32Range_ThenDecodeError) {
    EXPECT_THROW(rebaseCallRecord(entryRecord(1, 1, 2, 0), -3, 0), DecodeError);
    EXPECT_THROW(rebaseCallRecord(entryRecord(1, 1, 0, 0), 0, int64_t(1) << 33), DecodeError);
    EXPECT_THROW(rebaseCallRecord("\xff", 0, 0), DecodeError);
}

class Merge : public ::testing::Test {
protected:
    TempDir tmp;
    void SetUp() override {
        writeWriter(tmp.sub("run/rank-0000"), 0, 2, 5, 2);
        writeWriter(tmp.sub("run/rank-0001"), 1, 3, 4, 1);
    }
    std::vector<MergeInput> both() const { return {{tmp.sub("run/rank-0000"), "run"}, {tmp.sub("run/rank-0001"), "run"}}; }
};

TEST_F(Merge, GivenTwoWriters_WhenMerged_ThenEveryCallIsThereWithItsWritersThreadsAndCallers) {
    MergeResult r = mergeWriters(tmp.sub("out"), both());
    EXPECT_EQ(r.writers, 2u);
    EXPECT_EQ(r.duplicates, 0u);
    EXPECT_EQ(r.calls, 2u * 5 + 3u * 4);
    EXPECT_EQ(r.blobs, 2u * 1 + 3u * 1);

    Database out = Database::open(tmp.sub("out"));
    std::vector<SourceInfo> sources = out.sources();
    ASSERT_EQ(sources.size(), 2u);
    EXPECT_EQ(sources[0].writer.writerId, "rank-0000");
    EXPECT_EQ(sources[1].writer.rank, 1);
    EXPECT_EQ(sources[1].functionBase, 2u);
    EXPECT_EQ(sources[1].threadBase, 2u);
    EXPECT_EQ(sources[1].callerBase, 1u);
    EXPECT_EQ(sources[0].run, "run");

    std::vector<FunctionInfo> fns = out.functions();
    ASSERT_EQ(fns.size(), 5u);
    EXPECT_EQ(fns[3].id, 3u);
    EXPECT_EQ(fns[3].qualname, "fn1");  // rank 1's second function
    EXPECT_EQ(out.threads().size(), 3u);
    EXPECT_EQ(out.callers(), (std::vector<std::string>{"module_of_rank_0", "module_of_rank_1"}));

    Snapshot snap = out.snapshot();
    CallView c = snap.call({3, 4});  // rank 1, fn1, call 4
    EXPECT_EQ(c.thread, 2u);
    EXPECT_EQ(c.caller, 1u);
    EXPECT_EQ(c.startNs, 40u);
    Snapshot src = Database::open(tmp.sub("run/rank-0001")).snapshot();
    EXPECT_EQ(c.inputs, src.call({1, 4}).inputs);
    EXPECT_EQ(snap.blob({4, 3}, 0), std::string(700, 'b'));
    EXPECT_EQ(snap.lastInvocation(4), 4u);
}

TEST_F(Merge, GivenAWriterTwiceOrInsideAnEarlierMerge_WhenMerged_ThenItIsCopiedOnce) {
    mergeWriters(tmp.sub("first"), both());
    MergeResult again = mergeWriters(tmp.sub("second"), {{tmp.sub("first"), ""}, both()[1], both()[0], both()[0]});
    EXPECT_EQ(again.writers, 2u);
    EXPECT_EQ(again.duplicates, 3u);
    Database first = Database::open(tmp.sub("first")), second = Database::open(tmp.sub("second"));
    ASSERT_EQ(second.functions().size(), first.functions().size());
    Snapshot a = first.snapshot(), b = second.snapshot();
    for (const FunctionInfo& f : first.functions()) {
        ASSERT_EQ(a.lastInvocation(f.id), b.lastInvocation(f.id));
        for (uint64_t i = 1; i <= a.lastInvocation(f.id); ++i) EXPECT_EQ(*a.record({f.id, i}), *b.record({f.id, i}));
    }
}

TEST_F(Merge, GivenAnExistingOutput_WhenMerged_ThenStoreErrorAndTheOutputIsUntouched) {
    fs::create_directories(tmp.sub("out"));
    writeFile(tmp.sub("out/keep"), "mine");
    EXPECT_THROW(mergeWriters(tmp.sub("out"), both()), StoreError);
    EXPECT_EQ(readFile(tmp.sub("out/keep")), "mine");
    EXPECT_FALSE(fs::exists(tmp.sub("out/data.mdb")));
}

TEST_F(Merge, GivenAMissingInput_WhenMerged_ThenNotFoundAndNoOutputIsLeft) {
    EXPECT_THROW(mergeWriters(tmp.sub("out"), {both()[0], {tmp.sub("run/rank-0009"), "run"}}), NotFoundError);
    EXPECT_FALSE(fs::exists(tmp.sub("out")));
    for (const auto& e : fs::directory_iterator(tmp.path())) EXPECT_EQ(e.path().filename().string().find("out"), std::string::npos);
}

TEST_F(Merge, GivenNoInputs_ThenStoreError) {
    EXPECT_THROW(mergeWriters(tmp.sub("out"), {}), StoreError);
}

TEST_F(Merge, GivenProgress_WhenMerged_ThenItEndsAtTheTotal) {
    uint64_t last = 0, total = 0;
    mergeWriters(tmp.sub("out"), both(), [&](uint64_t done, uint64_t all) {
        EXPECT_GE(done, last);
        last = done;
        total = all;
    });
    EXPECT_EQ(last, 22u);
    EXPECT_EQ(total, 22u);
}

}  // namespace
}  // namespace callmonitor
