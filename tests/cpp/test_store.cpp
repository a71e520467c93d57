// The Writer: batching, merging entries with outcomes, key order, blobs, map
// growth, back-pressure, reopening, failures and fork.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/writer.h"
#include "store_fixtures.h"

namespace callmonitor {
namespace {

using namespace callmonitor::testing;
using format::CallKey;
using format::Outcome;

TEST(WriterStore, GivenEntriesSubmittedOutOfOrder_WhenFlushed_ThenReaderSeesThemInKeyOrder) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    // GIVEN two functions whose calls interleave
    for (uint64_t i = 1; i <= 50; ++i) {
        writer.submitEntry(CallKey{2, i}, entryRecord(int64_t(i) * 2));
        writer.submitEntry(CallKey{1, i}, entryRecord(int64_t(i)));
    }
    // WHEN flushed
    ASSERT_TRUE(writer.flush());
    // THEN each function's invocations come back in order with their bytes
    Database db = Database::open(tmp.path());
    Snapshot snap = db.snapshot();
    std::vector<uint64_t> expected;
    for (uint64_t i = 1; i <= 50; ++i) expected.push_back(i);
    EXPECT_EQ(snap.invocations(1), expected);
    EXPECT_EQ(snap.invocations(2), expected);
    EXPECT_EQ(*snap.record(CallKey{2, 7}), entryRecord(14));
    EXPECT_EQ(snap.lastInvocation(1), 50u);
    EXPECT_EQ(db.sizes().calls, 100u);
}

TEST(WriterStore, GivenEntryAndOutcomeInOneBatch_WhenCommitted_ThenTheStoredRecordIsComplete) {
    TempDir tmp;
    WriterOptions o = optionsFor(tmp.path());
    o.flushInterval = std::chrono::seconds(10);  // only flush() commits
    Writer writer(o, testWriterInfo());
    writer.submitEntry(CallKey{0, 1}, entryRecord(5));
    writer.submitOutcome(CallKey{0, 1}, returnedOutcome(25, 900));
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(writer.commits(), 1u);

    Database db = Database::open(tmp.path());
    CallView v = db.snapshot().call(CallKey{0, 1});
    EXPECT_EQ(v.outcome, Outcome::Returned);
    EXPECT_EQ(v.durationNs, 900u);
    EXPECT_EQ(v.result, encodedInt(25));
    EXPECT_EQ(*db.snapshot().record(CallKey{0, 1}), completeRecord(entryRecord(5), returnedOutcome(25, 900)));
}

TEST(WriterStore, GivenManyEntriesThenTheirOutcomesInOneBatch_WhenCommitted_ThenEveryRecordIsMerged) {
    TempDir tmp;
    WriterOptions o = optionsFor(tmp.path());
    o.flushInterval = std::chrono::seconds(10);
    Writer writer(o, testWriterInfo());
    // GIVEN outcomes far (in submission order) from their entries, in reverse order
    for (uint64_t i = 1; i <= 200; ++i) writer.submitEntry(CallKey{uint32_t(i % 3), i}, entryRecord(int64_t(i)));
    for (uint64_t i = 200; i >= 1; --i) writer.submitOutcome(CallKey{uint32_t(i % 3), i}, returnedOutcome(int64_t(i) * 10));
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(writer.commits(), 1u);
    Snapshot snap = Database::open(tmp.path()).snapshot();
    for (uint64_t i = 1; i <= 200; ++i) {
        CallView v = snap.call(CallKey{uint32_t(i % 3), i});
        ASSERT_EQ(v.outcome, Outcome::Returned) << i;
        EXPECT_EQ(v.result, encodedInt(int64_t(i) * 10)) << i;
    }
}

TEST(WriterStore, GivenEntryCommittedEarlier_WhenItsOutcomeArrivesInALaterBatch_ThenTheStoredRecordIsPatched) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    writer.submitEntry(CallKey{3, 1}, entryRecord(1));
    ASSERT_TRUE(writer.flush());
    Database db = Database::open(tmp.path());
    EXPECT_EQ(db.snapshot().call(CallKey{3, 1}).outcome, Outcome::Pending);

    std::string raised;
    appendRaised(raised, 12, "ValueError", "bad input");
    appendEmptyExt(raised);
    writer.submitOutcome(CallKey{3, 1}, raised);
    ASSERT_TRUE(writer.flush());

    CallView v = db.snapshot().call(CallKey{3, 1});
    EXPECT_EQ(v.outcome, Outcome::Raised);
    EXPECT_EQ(v.exceptionType, "ValueError");
    EXPECT_EQ(v.exceptionMessage, "bad input");
}

TEST(WriterStore, GivenAnOutcomeWithoutAnyEntry_WhenCommitted_ThenItIsIgnoredAndTheWriterKeepsWorking) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    writer.submitOutcome(CallKey{9, 9}, returnedOutcome(1));
    writer.submitEntry(CallKey{9, 1}, entryRecord(1));
    ASSERT_TRUE(writer.flush());
    EXPECT_FALSE(writer.failed());
    Database db = Database::open(tmp.path());
    EXPECT_FALSE(db.snapshot().record(CallKey{9, 9}).has_value());
    EXPECT_TRUE(db.snapshot().record(CallKey{9, 1}).has_value());
}

TEST(WriterStore, GivenEntriesWithBlobs_WhenCommitted_ThenEachBlobIsReadableUnderItsCallAndIndex) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    writer.submitEntry(CallKey{1, 2}, entryRecord(2), payloads({"small", std::string(100000, 'b')}));
    writer.submitEntry(CallKey{1, 1}, entryRecord(1), payloads({"first call"}));
    ASSERT_TRUE(writer.flush());

    Database db = Database::open(tmp.path());
    Snapshot snap = db.snapshot();
    EXPECT_EQ(snap.blob(CallKey{1, 2}, 0), "small");
    EXPECT_EQ(snap.blob(CallKey{1, 2}, 1), std::string(100000, 'b'));
    EXPECT_EQ(snap.blob(CallKey{1, 1}, 0), "first call");
    EXPECT_THROW(snap.blob(CallKey{1, 1}, 5), CorruptError);
    EXPECT_EQ(db.sizes().blobs, 3u);
}

TEST(WriterStore, GivenFunctionsThreadsCallersAndCounters_WhenCommitted_ThenTheDatabaseDescribesThem) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    FunctionInfo fn;
    fn.id = 4;
    fn.module = "pkg.mod";
    fn.qualname = "C.f";
    fn.name = "f";
    writer.submitFunction(fn);
    ThreadInfo t;
    t.index = 1;
    t.name = "worker";
    writer.submitThread(t);
    writer.submitCaller(0, "__main__");
    writer.submitCaller(2, "pkg.other");
    writer.countOpaque(2);
    writer.countPickled();
    writer.countCaptureError(3);
    writer.submitEntry(CallKey{4, 1}, entryRecord(1));
    ASSERT_TRUE(writer.flush());

    Database db = Database::open(tmp.path());
    ASSERT_EQ(db.functions().size(), 1u);
    EXPECT_EQ(db.functions()[0].fullName(), "pkg.mod.C.f");
    EXPECT_EQ(db.functions()[0].id, 4u);
    ASSERT_EQ(db.threads().size(), 1u);
    EXPECT_EQ(db.threads()[0].name, "worker");
    EXPECT_EQ(db.callers(), (std::vector<std::string>{"__main__", "", "pkg.other"}));
    CaptureStats s = db.stats();
    EXPECT_EQ(s.opaque, 2u);
    EXPECT_EQ(s.pickled, 1u);
    EXPECT_EQ(s.captureErrors, 3u);
    EXPECT_EQ(db.writerInfo().argv, testWriterInfo().argv);
    EXPECT_EQ(db.formatVersion(), format::kFormatVersion);
}

TEST(WriterStore, GivenACallerRecordedAsMpMain_WhenRead_ThenItIsMain) {
    // Databases written before capture mapped it: a spawn child's main script
    // (module __mp_main__) reads as the user's __main__ (callmonitor/module_names.h).
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    writer.submitCaller(0, "__mp_main__");
    writer.submitCaller(1, "pkg.__mp_main__");
    writer.submitEntry(CallKey{4, 1}, entryRecord(1));
    ASSERT_TRUE(writer.flush());
    Database db = Database::open(tmp.path());
    EXPECT_EQ(db.callers(), (std::vector<std::string>{"__main__", "pkg.__mp_main__"}));
}

TEST(WriterStore, GivenATinyInitialMap_WhenManyMegabytesAreWritten_ThenTheMapGrowsAndEverythingIsStored) {
    TempDir tmp;
    WriterOptions o = optionsFor(tmp.path());
    o.initialMapSize = 64 * 1024;
    Writer writer(o, testWriterInfo());
    const uint64_t initial = writer.mapSize();
    const uint64_t n = 40000;  // ~20 MB of records plus blobs
    for (uint64_t i = 1; i <= n; ++i) {
        std::vector<Payload> blobs;
        if (i % 100 == 0) blobs.push_back(makePayload(std::string(50000, 'z')));
        writer.submitEntry(CallKey{1, i}, bigEntryRecord(400), std::move(blobs));
        writer.submitOutcome(CallKey{1, i}, returnedOutcome(int64_t(i)));
        if (!writer.hasRoom()) writer.waitForRoom();
    }
    ASSERT_TRUE(writer.flush());
    EXPECT_GT(writer.mapSize(), initial);
    EXPECT_GE(writer.mapSize(), 16u << 20);

    Database db = Database::open(tmp.path());
    Snapshot snap = db.snapshot();
    EXPECT_EQ(snap.lastInvocation(1), n);
    EXPECT_EQ(snap.countCalls(1), n);
    EXPECT_EQ(snap.call(CallKey{1, n}).result, encodedInt(int64_t(n)));
    EXPECT_EQ(snap.blob(CallKey{1, 400}, 0).size(), 50000u);
}

TEST(WriterStore, GivenABoundedBuffer_WhenCallersOutpaceTheWriter_ThenHasRoomTurnsFalseAndWaitForRoomReturnsAfterACommit) {
    TempDir tmp;
    WriterOptions o = optionsFor(tmp.path());
    o.maxBufferBytes = 16 * 1024;
    o.flushInterval = std::chrono::seconds(10);
    Writer writer(o, testWriterInfo());
    const std::string record = bigEntryRecord(1000);
    bool sawFull = false;
    uint64_t i = 0;
    while (i < 100000 && !sawFull) {
        writer.submitEntry(CallKey{1, ++i}, record);
        sawFull = !writer.hasRoom();
    }
    ASSERT_TRUE(sawFull) << "the bound of 16 KiB was never reached";
    writer.waitForRoom();
    EXPECT_GE(writer.commits(), 1u);
    ASSERT_TRUE(writer.flush());
    EXPECT_TRUE(writer.hasRoom());
    EXPECT_EQ(Database::open(tmp.path()).snapshot().lastInvocation(1), i);
}

TEST(WriterStore, GivenAnOpLargerThanTheBound_WhenTheBufferIsEmpty_ThenItIsAcceptedAndCommitted) {
    TempDir tmp;
    WriterOptions o = optionsFor(tmp.path());
    o.maxBufferBytes = 1024;
    Writer writer(o, testWriterInfo());
    writer.submitEntry(CallKey{1, 1}, bigEntryRecord(64 * 1024));
    writer.waitForRoom();  // returns once it is committed
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(Database::open(tmp.path()).snapshot().record(CallKey{1, 1})->size(), bigEntryRecord(64 * 1024).size());
}

TEST(WriterStore, GivenAClosedWriter_WhenANewWriterOpensTheSameDirectory_ThenOldAndNewCallsAreStored) {
    TempDir tmp;
    {
        Writer first(optionsFor(tmp.path()), testWriterInfo());
        first.submitEntry(CallKey{1, 1}, entryRecord(1));
        first.close();
        first.close();  // idempotent
        EXPECT_TRUE(first.flush());
    }
    WriterInfo second = testWriterInfo();
    second.pid = 7;
    {
        Writer w(optionsFor(tmp.path()), second);
        w.submitEntry(CallKey{1, 2}, entryRecord(2));
    }  // the destructor closes, which commits
    Database db = Database::open(tmp.path());
    EXPECT_EQ(db.snapshot().invocations(1), (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(db.writerInfo().pid, 7);
}

TEST(WriterStore, GivenAReadOnlyOutputDirectory_WhenAWriterIsConstructed_ThenItThrowsStoreError) {
    ReadOnlyPlace place;
    if (!place.usable()) GTEST_SKIP() << "cannot make a read-only place here";
    ASSERT_TRUE(place.makeReadOnly());
    EXPECT_THROW(Writer(optionsFor(place.path() + "/out/main"), testWriterInfo()), StoreError);
    EXPECT_THROW(Writer(optionsFor(place.path()), testWriterInfo()), StoreError);
}

// Mid-run failure injected with RLIMIT_FSIZE: LMDB's page writes past the
// limit fail with EFBIG, like a full disk would fail them with ENOSPC.
TEST(WriterStore, GivenAWriterWhoseCommitsStartFailing_WhenCallsContinue_ThenItReportsOnceDropsAndKeepsEarlierData) {
    TempDir tmp;
    WriterOptions o = optionsFor(tmp.path());
    std::atomic<int> reports{0};
    std::string report;
    o.onFailure = [&](const std::string& m) {
        report = m;
        ++reports;
    };
    Writer writer(o, testWriterInfo());
    writer.submitEntry(CallKey{1, 1}, entryRecord(1));
    ASSERT_TRUE(writer.flush());

    struct rlimit old {};
    ::getrlimit(RLIMIT_FSIZE, &old);
    auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit tight = old;
    tight.rlim_cur = std::filesystem::file_size(tmp.path() + "/data.mdb") + 16 * 1024;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
    for (uint64_t i = 2; i <= 2000; ++i) writer.submitEntry(CallKey{1, i}, bigEntryRecord(1000));
    const bool flushed = writer.flush();
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, oldHandler);

    EXPECT_FALSE(flushed);
    EXPECT_TRUE(writer.failed());
    const uint64_t droppedBefore = writer.stats().droppedCalls;
    EXPECT_GE(droppedBefore, 1u);
    writer.submitEntry(CallKey{1, 5000}, entryRecord(1));
    writer.submitEntry(CallKey{1, 5001}, entryRecord(1));
    writer.submitOutcome(CallKey{1, 5001}, returnedOutcome(1));
    EXPECT_EQ(writer.stats().droppedCalls, droppedBefore + 2);
    EXPECT_FALSE(writer.flush());
    EXPECT_TRUE(writer.hasRoom());
    writer.waitForRoom();  // never blocks a failed writer
    writer.close();
    EXPECT_EQ(reports.load(), 1);
    EXPECT_NE(report.find(tmp.path()), std::string::npos) << report;
    EXPECT_NE(report.find("capture stopped"), std::string::npos) << report;
    EXPECT_NE(writer.error().find("mdb_"), std::string::npos) << writer.error();

    Database db = Database::open(tmp.path());
    EXPECT_TRUE(db.snapshot().record(CallKey{1, 1}).has_value());
}

TEST(WriterStore, GivenAFullFilesystem_WhenTheWriterCommits_ThenItFailsWithTheDefaultOneLineWarning) {
    ReadOnlyPlace place(1 << 20);  // a 1 MiB tmpfs (root only)
    if (!place.isTmpfs()) GTEST_SKIP() << "needs a small tmpfs (root)";
    ::testing::internal::CaptureStderr();
    {
        Writer writer(optionsFor(place.path() + "/main"), testWriterInfo());
        for (uint64_t i = 1; i <= 4000; ++i) writer.submitEntry(CallKey{1, i}, bigEntryRecord(1000));
        EXPECT_FALSE(writer.flush());
        EXPECT_TRUE(writer.failed());
    }
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(err.rfind("callmonitor: warning:", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find("capture stopped"), std::string::npos) << err;
}

TEST(WriterStore, GivenAForkedChild_WhenItAbandonsTheParentsWriter_ThenItCanRecordIntoANewOneAndTheParentIsUnharmed) {
    TempDir tmp;
    auto writer = std::make_unique<Writer>(optionsFor(tmp.sub("parent")), testWriterInfo());
    writer->submitEntry(CallKey{1, 1}, entryRecord(1));
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        writer->abandon();
        writer.reset();  // no LMDB call, no join
        int code = 0;
        try {
            Writer child(optionsFor(tmp.sub("child")), testWriterInfo());
            child.submitEntry(CallKey{1, 1}, entryRecord(2));
            code = child.flush() ? 0 : 2;
        } catch (...) {
            code = 3;
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    writer->submitEntry(CallKey{1, 2}, entryRecord(3));
    ASSERT_TRUE(writer->flush());
    writer.reset();
    EXPECT_EQ(Database::open(tmp.sub("parent")).snapshot().lastInvocation(1), 2u);
    EXPECT_EQ(*Database::open(tmp.sub("child")).snapshot().record(CallKey{1, 1}), entryRecord(2));
}

}  // namespace
}  // namespace callmonitor
