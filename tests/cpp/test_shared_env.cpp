// One LMDB environment per file per process: a Database opened on a
// directory this process is writing (or reading) shares the open MDB_env
// instead of opening it a second time, which LMDB forbids (the second open
// wipes the reader lock table: MDB_BAD_RSLOT, unprotected snapshots).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/writer.h"
#include "lmdb/env_registry.h"
#include "store_fixtures.h"

namespace callmonitor {
namespace {

using namespace callmonitor::testing;
using format::CallKey;

void submitCalls(Writer& writer, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i <= to; ++i) {
        writer.submitEntry(CallKey{1, i}, entryRecord(int64_t(i)));
        writer.submitOutcome(CallKey{1, i}, returnedOutcome(int64_t(i)));
    }
}

TEST(SharedEnv, GivenAnOpenWriter_WhenTheSameDirectoryIsOpenedForReading_ThenSnapshotsSeeEveryFlushedCall) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    submitCalls(writer, 1, 10);
    ASSERT_TRUE(writer.flush());

    Database db = Database::open(tmp.path());
    EXPECT_EQ(db.snapshot().lastInvocation(1), 10u);
    EXPECT_EQ(db.writerInfo().host, "testhost");

    // Commits made after the open are visible to later snapshots (same environment).
    submitCalls(writer, 11, 25);
    ASSERT_TRUE(writer.flush());
    Snapshot s = db.snapshot();
    EXPECT_EQ(s.lastInvocation(1), 25u);
    EXPECT_EQ(s.call(CallKey{1, 25}).result, encodedInt(25));
    EXPECT_THROW(s.call(CallKey{1, 26}), CallNotFoundError);  // reader errors keep their reader classes
}

TEST(SharedEnv, GivenAnOpenWriter_WhenSnapshotsAreTakenRepeatedlyBetweenCommits_ThenNoneFailsWithBadReaderSlot) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    submitCalls(writer, 1, 1);
    ASSERT_TRUE(writer.flush());
    Database db = Database::open(tmp.path());

    // Pooled transactions are renewed again and again (mdb_txn_renew), from
    // two threads, while the writer keeps committing and the directory is
    // loaded again (as a notebook does): a second MDB_env on the file would
    // reset the lock table under them (MDB_BAD_RSLOT).
    EXPECT_EQ(db.snapshot().lastInvocation(1), 1u);
    Database reloaded = Database::open(tmp.path());
    Snapshot held = reloaded.snapshot();  // live while `db` renews (no map growth in this test)
    EXPECT_EQ(held.lastInvocation(1), 1u);
    auto readMany = [&] {
        for (int i = 0; i < 2000; ++i) {
            Snapshot s = db.snapshot();
            const uint64_t last = s.lastInvocation(1);
            if (!last || !s.record(CallKey{1, last})) return false;
        }
        return true;
    };
    auto other = std::async(std::launch::async, readMany);
    for (uint64_t i = 2; i <= 200; ++i) {
        submitCalls(writer, i, i);
        if (i % 20 == 0) ASSERT_TRUE(writer.flush());
    }
    EXPECT_TRUE(readMany());
    EXPECT_TRUE(other.get());
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(db.snapshot().lastInvocation(1), 200u);
    EXPECT_FALSE(writer.failed()) << writer.error();
}

TEST(SharedEnv, GivenADatabaseOnAWritersDirectory_WhenTheWriterCloses_ThenTheDatabaseKeepsReading) {
    TempDir tmp;
    auto writer = std::make_unique<Writer>(optionsFor(tmp.path()), testWriterInfo());
    submitCalls(*writer, 1, 5);
    ASSERT_TRUE(writer->flush());
    Database db = Database::open(tmp.path());
    Snapshot live = db.snapshot();

    submitCalls(*writer, 6, 8);
    writer->close();  // commits the rest; must not close the environment under the Database
    writer.reset();

    EXPECT_EQ(live.lastInvocation(1), 5u);  // a snapshot from before the close keeps its view
    EXPECT_EQ(live.call(CallKey{1, 5}).result, encodedInt(5));
    for (int i = 0; i < 100; ++i) ASSERT_EQ(db.snapshot().lastInvocation(1), 8u);
    EXPECT_EQ(db.sizes().calls, 8u);

    // A new Writer on the directory joins the environment the Database still holds.
    Writer again(optionsFor(tmp.path()), testWriterInfo());
    submitCalls(again, 9, 9);
    ASSERT_TRUE(again.flush());
    EXPECT_EQ(db.snapshot().lastInvocation(1), 9u);
}

TEST(SharedEnv, GivenADatabaseOnAWritersDirectory_WhenTheDatabaseIsDestroyedFirst_ThenTheWriterKeepsCommitting) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    submitCalls(writer, 1, 3);
    ASSERT_TRUE(writer.flush());
    {
        Database db = Database::open(tmp.path());
        EXPECT_EQ(db.snapshot().lastInvocation(1), 3u);
    }
    submitCalls(writer, 4, 6);
    ASSERT_TRUE(writer.flush());
    writer.close();
    EXPECT_FALSE(writer.failed()) << writer.error();
    EXPECT_EQ(Database::open(tmp.path()).snapshot().lastInvocation(1), 6u);
}

TEST(SharedEnv, GivenASnapshot_WhenItOutlivesItsDatabaseAndTheWriter_ThenItStillReads) {
    TempDir tmp;
    std::optional<Snapshot> s;
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        submitCalls(writer, 1, 4);
        ASSERT_TRUE(writer.flush());
        Database db = Database::open(tmp.path());
        s.emplace(db.snapshot());
    }
    EXPECT_EQ(s->lastInvocation(1), 4u);
    EXPECT_EQ(s->call(CallKey{1, 4}).result, encodedInt(4));
}

TEST(SharedEnv, GivenATinyMapAndAnOpenDatabase_WhenTheWriterGrowsTheMapWhileAnotherThreadReads_ThenEverythingIsReadable) {
    TempDir tmp;
    WriterOptions o = optionsFor(tmp.path());
    o.initialMapSize = 64 * 1024;
    Writer writer(o, testWriterInfo());
    writer.submitEntry(CallKey{1, 1}, bigEntryRecord(600));
    ASSERT_TRUE(writer.flush());
    Database db = Database::open(tmp.path());
    const uint64_t mapBefore = writer.mapSize();

    // Short snapshots from another thread, between and during the resizes.
    std::atomic<bool> done{false};
    std::atomic<uint64_t> reads{0};
    auto reader = std::async(std::launch::async, [&] {
        uint64_t seen = 0;
        while (!done) {
            Snapshot s = db.snapshot();
            const uint64_t last = s.lastInvocation(1);
            if (last < seen) return std::string("went back from ") + std::to_string(seen);
            seen = last;
            auto r = s.record(CallKey{1, last});
            if (!r || r->size() < 500) return std::string("unreadable call ") + std::to_string(last);
            ++reads;
        }
        return std::string();
    });
    const uint64_t n = 12000;  // ~8 MB of records
    for (uint64_t i = 2; i <= n; ++i) {
        writer.submitEntry(CallKey{1, i}, bigEntryRecord(600));
        writer.submitOutcome(CallKey{1, i}, returnedOutcome(int64_t(i)));
        if (!writer.hasRoom()) writer.waitForRoom();
        if (i % 1000 == 0) ASSERT_TRUE(writer.flush());
    }
    ASSERT_TRUE(writer.flush());
    done = true;
    EXPECT_EQ(reader.get(), "");
    EXPECT_GT(reads.load(), 0u);
    EXPECT_GE(writer.mapSize(), 8 * mapBefore);  // grew (by doubling) several times
    EXPECT_FALSE(writer.failed()) << writer.error();

    Snapshot late = db.snapshot();
    EXPECT_EQ(late.lastInvocation(1), n);
    EXPECT_EQ(late.call(CallKey{1, n}).result, encodedInt(int64_t(n)));
    EXPECT_EQ(db.sizes().calls, n);
}

TEST(SharedEnv, GivenTwoDatabasesOnOneDirectory_WhenBothRead_ThenTheyShareItAndOutliveEachOther) {
    TempDir tmp;
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        submitCalls(writer, 1, 7);
    }
    auto first = std::make_unique<Database>(Database::open(tmp.path()));
    Database second = Database::open(tmp.path());
    Snapshot a = first->snapshot();
    Snapshot b = second.snapshot();
    for (int i = 0; i < 300; ++i) {
        ASSERT_EQ(first->snapshot().lastInvocation(1), 7u);
        ASSERT_EQ(second.snapshot().lastInvocation(1), 7u);
    }
    first.reset();
    EXPECT_EQ(a.call(CallKey{1, 7}).result, encodedInt(7));
    EXPECT_EQ(b.lastInvocation(1), 7u);
    EXPECT_EQ(second.snapshot().lastInvocation(1), 7u);
}

TEST(SharedEnv, GivenAWriterAndDifferentSpellingsOfItsPath_WhenOpenedForReading_ThenTheyAllShareItsEnvironment) {
    TempDir tmp;
    const std::string dir = tmp.sub("main");
    Writer writer(optionsFor(dir), testWriterInfo());
    submitCalls(writer, 1, 2);
    ASSERT_TRUE(writer.flush());
    std::filesystem::create_directory_symlink(dir, tmp.sub("link"));

    Database viaDot = Database::open(tmp.path() + "/./main/");
    Database viaLink = Database::open(tmp.sub("link"));
    Database viaFile = Database::open(dir + "/data.mdb");  // the data file itself (MDB_NOSUBDIR)
    submitCalls(writer, 3, 3);
    ASSERT_TRUE(writer.flush());
    for (int i = 0; i < 200; ++i) {
        ASSERT_EQ(viaDot.snapshot().lastInvocation(1), 3u);
        ASSERT_EQ(viaLink.snapshot().lastInvocation(1), 3u);
        ASSERT_EQ(viaFile.snapshot().lastInvocation(1), 3u);
    }
    EXPECT_EQ(viaLink.directory(), tmp.sub("link"));  // each keeps the name it was opened by
}

TEST(SharedEnv, GivenADatabaseOpenedFirst_WhenAWriterOpensTheSameDirectory_ThenStoreErrorUntilTheDatabaseIsReleased) {
    TempDir tmp;
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        submitCalls(writer, 1, 1);
    }
    {
        Database db = Database::open(tmp.path());
        try {
            Writer writer(optionsFor(tmp.path()), testWriterInfo());
            FAIL() << "a Writer must not write through a read-only environment";
        } catch (const StoreError& e) {
            EXPECT_NE(std::string(e.what()).find(tmp.path()), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("read-only"), std::string::npos) << e.what();
        }
        EXPECT_EQ(db.snapshot().lastInvocation(1), 1u);
    }
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    submitCalls(writer, 2, 2);
    ASSERT_TRUE(writer.flush());
    EXPECT_EQ(Database::open(tmp.path()).snapshot().lastInvocation(1), 2u);
}

TEST(SharedEnv, GivenTheErrorCases_WhenOpenedWhileAWriterRunsElsewhere_ThenTheyAreReportedAsBefore) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.sub("main")), testWriterInfo());
    std::filesystem::create_directory(tmp.sub("empty"));
    EXPECT_THROW(Database::open(tmp.sub("missing")), NotFoundError);
    EXPECT_THROW(Database::open(tmp.sub("empty")), NotADatabaseError);
    writeFile(tmp.sub("garbage"), std::string(8192, 'g'));
    EXPECT_THROW(Database::open(tmp.sub("garbage")), NotADatabaseError);
}

// --- MapGate ------------------------------------------------------------------

TEST(MapGate, GivenAResizeWaitingForAHolder_WhenTheHolderTakesTheGateSharedAgain_ThenItDoesNotBlock) {
    store::MapGate gate;
    gate.lock_shared();  // a live snapshot
    std::atomic<bool> resized{false};
    std::thread resizer([&] {
        gate.lock();  // the writer growing the map: waits for the snapshot
        resized = true;
        gate.unlock();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gate.lock_shared();  // a nested snapshot in the same thread: must not wait for the resizer
    EXPECT_FALSE(resized.load());
    gate.unlock_shared();
    gate.unlock_shared();
    resizer.join();
    EXPECT_TRUE(resized.load());
}

TEST(MapGate, GivenAHeldGate_WhenAnExclusiveLockIsTriedWithATimeout_ThenItGivesUp) {
    store::MapGate gate;
    gate.lock_shared();
    EXPECT_FALSE(gate.try_lock_for(std::chrono::milliseconds(10)));
    gate.unlock_shared();
    EXPECT_TRUE(gate.try_lock_for(std::chrono::milliseconds(10)));
    gate.unlock();
}

}  // namespace
}  // namespace callmonitor
