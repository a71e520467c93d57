// Producer lanes: submissions that bypass the writer's lock and are drained
// by the writer thread, flush() and waitForRoom().
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "callmonitor/database.h"
#include "callmonitor/writer.h"
#include "store_fixtures.h"

using namespace callmonitor;
using namespace callmonitor::testing;
using format::CallKey;
using format::Outcome;

namespace {
WriterOptions laneOptions(const std::string& dir) {
    WriterOptions o;
    o.directory = dir;
    o.flushInterval = std::chrono::seconds(10);  // only flush() and the bound commit
    return o;
}
}  // namespace

TEST(WriterLanes, GivenEntryAndOutcomeThroughALane_WhenFlushed_ThenTheStoredRecordIsComplete) {
    TempDir tmp;
    Writer writer(laneOptions(tmp.path()), testWriterInfo());
    Writer::Lane* lane = writer.openLane();
    writer.submitEntry(lane, CallKey{0, 1}, entryRecord(5));
    writer.submitOutcome(lane, CallKey{0, 1}, returnedOutcome(25, 900));
    ASSERT_TRUE(writer.flush());
    CallView v = Database::open(tmp.path()).snapshot().call(CallKey{0, 1});
    EXPECT_EQ(v.outcome, Outcome::Returned);
    EXPECT_EQ(v.result, encodedInt(25));
}

TEST(WriterLanes, GivenAnEntryFlushedBeforeItsOutcome_WhenTheOutcomeArrivesThroughTheLane_ThenTheRecordIsPatched) {
    TempDir tmp;
    Writer writer(laneOptions(tmp.path()), testWriterInfo());
    Writer::Lane* lane = writer.openLane();
    writer.submitEntry(lane, CallKey{2, 7}, entryRecord(1));
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(Database::open(tmp.path()).snapshot().call(CallKey{2, 7}).outcome, Outcome::Pending);
    writer.submitOutcome(lane, CallKey{2, 7}, returnedOutcome(3));
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(Database::open(tmp.path()).snapshot().call(CallKey{2, 7}).outcome, Outcome::Returned);
}

TEST(WriterLanes, GivenEightThreadsEachWithALane_WhenTheyRecordConcurrently_ThenEveryCallIsStoredComplete) {
    TempDir tmp;
    WriterOptions o = laneOptions(tmp.path());
    o.flushInterval = std::chrono::milliseconds(5);  // drains race with the producers
    Writer writer(o, testWriterInfo());
    constexpr int kThreads = 8, kCalls = 5000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            Writer::Lane* lane = writer.openLane();
            for (uint64_t i = 1; i <= kCalls; ++i) {
                writer.submitEntry(lane, CallKey{uint32_t(t), i}, entryRecord(int64_t(i)));
                writer.submitOutcome(lane, CallKey{uint32_t(t), i}, returnedOutcome(int64_t(i) + t));
                if (!writer.hasRoom()) writer.waitForRoom();
            }
        });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(writer.flush());
    Snapshot snap = Database::open(tmp.path()).snapshot();
    for (int t = 0; t < kThreads; ++t) {
        ASSERT_EQ(snap.countCalls(uint32_t(t)), uint64_t(kCalls)) << t;
        for (uint64_t i = 1; i <= kCalls; i += 499) {
            CallView v = snap.call(CallKey{uint32_t(t), i});
            ASSERT_EQ(v.outcome, Outcome::Returned) << t << "/" << i;
            EXPECT_EQ(v.result, encodedInt(int64_t(i) + t));
        }
    }
}

TEST(WriterLanes, GivenABoundedBuffer_WhenALaneOutpacesTheWriter_ThenSubmitOutcomeReportsNoRoomAndWaitForRoomDrainsIt) {
    TempDir tmp;
    WriterOptions o = laneOptions(tmp.path());
    o.maxBufferBytes = 16 * 1024;
    Writer writer(o, testWriterInfo());
    Writer::Lane* lane = writer.openLane();
    const std::string record = bigEntryRecord(1000);
    uint64_t i = 0;
    bool room = true;  // submitOutcome's answer: hasRoom() after the outcome
    while (i < 100000 && room) {
        writer.submitEntry(lane, CallKey{1, ++i}, record);
        room = writer.submitOutcome(lane, CallKey{1, i}, returnedOutcome(int64_t(i)));
    }
    ASSERT_FALSE(room) << "the bound was never reached";
    writer.waitForRoom();
    EXPECT_TRUE(writer.hasRoom());
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(Database::open(tmp.path()).snapshot().lastInvocation(1), i);
    EXPECT_EQ(Database::open(tmp.path()).snapshot().call(CallKey{1, i}).outcome, Outcome::Returned);
}

TEST(WriterLanes, GivenLaneOpsNotYetDrained_WhenTheWriterCloses_ThenTheyAreCommitted) {
    TempDir tmp;
    {
        Writer writer(laneOptions(tmp.path()), testWriterInfo());
        Writer::Lane* lane = writer.openLane();
        for (uint64_t i = 1; i <= 100; ++i) writer.submitEntry(lane, CallKey{0, i}, entryRecord(int64_t(i)));
    }  // the destructor closes
    EXPECT_EQ(Database::open(tmp.path()).snapshot().lastInvocation(0), 100u);
}

TEST(WriterLanes, GivenProducersFillingLanesWhileABatchCommits_WhenTheWriterClosesWithoutFlush_ThenNothingIsLost) {
    // close() right after the producers stop: their last ops may have reached
    // the lanes while the writer thread was committing the previous round.
    for (int round = 0; round < 20; ++round) {
        TempDir tmp;
        constexpr int kThreads = 4, kCalls = 3000;
        {
            WriterOptions o = laneOptions(tmp.path());
            o.flushInterval = std::chrono::milliseconds(1);
            Writer writer(o, testWriterInfo());
            std::vector<std::thread> threads;
            for (int t = 0; t < kThreads; ++t) {
                threads.emplace_back([&, t] {
                    Writer::Lane* lane = writer.openLane();
                    for (uint64_t i = 1; i <= kCalls; ++i) {
                        writer.submitEntry(lane, CallKey{uint32_t(t), i}, bigEntryRecord(200));
                        writer.submitOutcome(lane, CallKey{uint32_t(t), i}, returnedOutcome(1));
                        if (!writer.hasRoom()) writer.waitForRoom();
                    }
                });
            }
            for (auto& th : threads) th.join();
            writer.close();
        }
        Snapshot snap = Database::open(tmp.path()).snapshot();
        for (int t = 0; t < kThreads; ++t) ASSERT_EQ(snap.countCalls(uint32_t(t)), uint64_t(kCalls)) << "round " << round;
    }
}

TEST(WriterLanes, GivenALaneClosedWithUncommittedCalls_WhenFlushed_ThenItsCallsAreStoredAndTheLaneIsGone) {
    TempDir tmp;
    Writer writer(laneOptions(tmp.path()), testWriterInfo());
    Writer::Lane* kept = writer.openLane();
    Writer::Lane* lane = writer.openLane();
    ASSERT_EQ(writer.openLanes(), 2u);
    writer.submitEntry(lane, CallKey{0, 1}, entryRecord(5));
    writer.submitOutcome(lane, CallKey{0, 1}, returnedOutcome(25));
    writer.submitEntry(lane, CallKey{0, 2}, entryRecord(6));  // its outcome never comes: stays Pending
    writer.closeLane(lane);
    EXPECT_EQ(writer.openLanes(), 1u);
    writer.submitEntry(kept, CallKey{0, 3}, entryRecord(7));
    writer.submitOutcome(kept, CallKey{0, 3}, returnedOutcome(49));
    ASSERT_TRUE(writer.flush());
    Snapshot snap = Database::open(tmp.path()).snapshot();
    EXPECT_EQ(snap.countCalls(0), 3u);
    EXPECT_EQ(snap.call(CallKey{0, 1}).result, encodedInt(25));
    EXPECT_EQ(snap.call(CallKey{0, 2}).outcome, Outcome::Pending);
    EXPECT_EQ(snap.call(CallKey{0, 3}).result, encodedInt(49));
}

TEST(WriterLanes, GivenThousandsOfShortLivedThreads_WhenEachClosesItsLane_ThenNoLaneIsLeftAndEveryCallIsStored) {
    TempDir tmp;
    WriterOptions o = laneOptions(tmp.path());
    o.flushInterval = std::chrono::milliseconds(2);  // commits race with the lanes closing
    Writer writer(o, testWriterInfo());
    constexpr int kRounds = 250, kThreadsPerRound = 8;
    for (int r = 0; r < kRounds; ++r) {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreadsPerRound; ++t) {
            threads.emplace_back([&, r, t] {
                Writer::Lane* lane = writer.openLane();
                const uint64_t i = uint64_t(r) * kThreadsPerRound + uint64_t(t) + 1;
                writer.submitEntry(lane, CallKey{0, i}, entryRecord(int64_t(i)));
                writer.submitOutcome(lane, CallKey{0, i}, returnedOutcome(int64_t(i) * 2));
                writer.closeLane(lane);
            });
        }
        for (auto& th : threads) th.join();
    }
    EXPECT_EQ(writer.openLanes(), 0u);
    ASSERT_TRUE(writer.flush());
    Snapshot snap = Database::open(tmp.path()).snapshot();
    constexpr uint64_t kCalls = uint64_t(kRounds) * kThreadsPerRound;
    ASSERT_EQ(snap.countCalls(0), kCalls);
    for (uint64_t i = 1; i <= kCalls; i += 97) {
        CallView v = snap.call(CallKey{0, i});
        ASSERT_EQ(v.outcome, Outcome::Returned) << i;
        EXPECT_EQ(v.result, encodedInt(int64_t(i) * 2));
    }
}

// The writer stores a batch in slices of a few thousand calls (writer.cpp,
// kSliceEntries): an outer call whose outcome comes thousands of calls after
// its entry, inside one batch, is completed across slices, and payload slots
// of every slice name their own payloads.
TEST(WriterLanes, GivenAnOuterCallSpanningManyInnerCallsInOneBatch_WhenFlushed_ThenEveryCallIsStoredCompleteWithItsPayloads) {
    TempDir tmp;
    Writer writer(laneOptions(tmp.path()), testWriterInfo());
    Writer::Lane* lane = writer.openLane();
    writer.submitEntry(lane, CallKey{3, 1}, entryRecord(1), payloads({"outer input"}));
    const uint64_t inner = 10000;
    for (uint64_t i = 1; i <= inner; ++i) {
        std::vector<Payload> in;
        if (i % 7 == 0) in.push_back(makePayload("inner " + std::to_string(i)));
        writer.submitEntry(lane, CallKey{4, i}, entryRecord(i), std::move(in));
        writer.submitOutcome(lane, CallKey{4, i}, returnedOutcome(int64_t(i)));
    }
    writer.submitOutcome(lane, CallKey{3, 1}, returnedOutcome(25));
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(writer.commits(), 1u);  // one batch, one transaction

    Snapshot snap = Database::open(tmp.path()).snapshot();
    const CallView outer = snap.call(CallKey{3, 1});
    EXPECT_EQ(outer.outcome, Outcome::Returned);
    EXPECT_EQ(outer.result, encodedInt(25));
    EXPECT_EQ(snap.blob(CallKey{3, 1}, 0), "outer input");
    EXPECT_EQ(snap.countCalls(4), inner);
    for (uint64_t i = 1; i <= inner; ++i) {
        const CallView v = snap.call(CallKey{4, i});
        ASSERT_EQ(v.outcome, Outcome::Returned) << i;
        ASSERT_EQ(v.result, encodedInt(int64_t(i))) << i;
        if (i % 7 == 0) ASSERT_EQ(snap.blob(CallKey{4, i}, 0), "inner " + std::to_string(i)) << i;
    }
}

// Slices of calls in key order without payloads are stored straight from the
// ops; the others are sorted first. One batch holding both kinds, with two
// functions interleaved, stores every call under its key.
TEST(WriterLanes, GivenInOrderAndInterleavedSlicesInOneBatch_WhenFlushed_ThenEveryCallIsStoredUnderItsKey) {
    TempDir tmp;
    Writer writer(laneOptions(tmp.path()), testWriterInfo());
    Writer::Lane* lane = writer.openLane();
    auto call = [&](uint32_t fn, uint64_t i, std::vector<Payload> in) {
        writer.submitEntry(lane, CallKey{fn, i}, entryRecord(int64_t(i)), std::move(in));
        writer.submitOutcome(lane, CallKey{fn, i}, returnedOutcome(int64_t(i) * 2));
    };
    for (uint64_t i = 1; i <= 5000; ++i) call(1, i, {});  // in order
    call(1, 5001, payloads({"with a payload"}));
    for (uint64_t i = 5002; i <= 10000; ++i) {  // two functions interleaved: sorted per slice
        call(1, i, {});
        call(2, i, {});
    }
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(writer.commits(), 1u);

    Snapshot snap = Database::open(tmp.path()).snapshot();
    EXPECT_EQ(snap.countCalls(1), 10000u);
    EXPECT_EQ(snap.countCalls(2), 10000u - 5001u);
    EXPECT_EQ(snap.blob(CallKey{1, 5001}, 0), "with a payload");
    for (uint64_t i = 1; i <= 10000; ++i) {
        ASSERT_EQ(snap.call(CallKey{1, i}).result, encodedInt(int64_t(i) * 2)) << i;
        if (i > 5001) ASSERT_EQ(snap.call(CallKey{2, i}).result, encodedInt(int64_t(i) * 2)) << i;
    }
}
