// Database / Snapshot: opening (and refusing) environments, reading while a
// writer commits, read-only media and cheap counts.
#include <gtest/gtest.h>

#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/writer.h"
#include "lmdb/lmdb.h"
#include "store_fixtures.h"

namespace callmonitor {
namespace {

using namespace callmonitor::testing;
using format::CallKey;

// A closed writer directory holding `calls` calls of function 1 (and a blob each 10th).
void writeDatabase(const std::string& dir, uint64_t calls, size_t recordPadding = 0) {
    Writer writer(optionsFor(dir), testWriterInfo());
    for (uint64_t i = 1; i <= calls; ++i) {
        std::vector<Payload> blobs;
        if (i % 10 == 0) blobs.push_back(makePayload(std::string(3000, 'q')));
        writer.submitEntry(CallKey{1, i}, recordPadding ? bigEntryRecord(recordPadding) : entryRecord(int64_t(i)),
                           std::move(blobs));
        writer.submitOutcome(CallKey{1, i}, returnedOutcome(int64_t(i)));
    }
    writer.close();
}

// Overwrites meta[key] of an existing environment with raw LMDB calls.
void putMeta(const std::string& dir, const std::string& key, const std::string& value) {
    lmdb::Env env(dir, lmdb::Side::Write);
    env.setMaxDbs(8);
    env.open(0, 0644);
    lmdb::Txn txn(env, 0);
    lmdb::Dbi meta = lmdb::Dbi::open(txn, format::kMetaDb, 0);
    meta.put(txn, key, value);
    txn.commit();
}

std::string formatValue(std::string_view magic, uint32_t version) {
    std::string v(magic);
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<char>((version >> (8 * i)) & 0xFF));
    return v;
}

template <class E>
std::string messageOf(const std::string& dir) {
    try {
        Database::open(dir);
    } catch (const E& e) {
        return e.what();
    }
    return "";
}

TEST(DatabaseOpen, GivenAMissingPath_WhenOpened_ThenNotFoundErrorSaysItDoesNotExist) {
    TempDir tmp;
    std::string msg = messageOf<NotFoundError>(tmp.sub("nope"));
    EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
    EXPECT_NE(msg.find(tmp.sub("nope")), std::string::npos) << msg;
}

TEST(DatabaseOpen, GivenAnEmptyDirectory_WhenOpened_ThenNotADatabaseError) {
    TempDir tmp;
    std::string msg = messageOf<NotADatabaseError>(tmp.path());
    EXPECT_NE(msg.find("not a callmonitor database"), std::string::npos) << msg;
}

TEST(DatabaseOpen, GivenAPlainFileThatIsNotLmdb_WhenOpened_ThenNotADatabaseError) {
    TempDir tmp;
    writeFile(tmp.sub("notes.txt"), std::string(10000, 'n'));
    EXPECT_THROW(Database::open(tmp.sub("notes.txt")), NotADatabaseError);
}

TEST(DatabaseOpen, GivenAnLmdbEnvironmentWithoutMeta_WhenOpened_ThenNotADatabaseError) {
    TempDir tmp;
    {
        lmdb::Env env(tmp.path(), lmdb::Side::Write);
        env.open(0, 0644);
        lmdb::Txn txn(env, 0);
        lmdb::Dbi main = lmdb::Dbi::open(txn, nullptr, 0);
        main.put(txn, "hello", "world");
        txn.commit();
    }
    EXPECT_THROW(Database::open(tmp.path()), NotADatabaseError);
}

// The same in a writer directory (or a run directory's): one of ours torn by
// a plain copy taken while it was written, not someone else's environment.
TEST(DatabaseOpen, GivenAWriterDirectoryWithoutMeta_WhenOpened_ThenCorruptErrorSayingHowToCopy) {
    TempDir tmp;
    for (const char* name : {"main", "rank-0002", "pid-77", "tid-3"}) {
        const std::string dir = tmp.sub(name);
        std::filesystem::create_directories(dir);
        {
            lmdb::Env env(dir, lmdb::Side::Write);
            env.open(0, 0644);
            lmdb::Txn txn(env, 0);
            lmdb::Dbi::open(txn, nullptr, 0).put(txn, "garbage", "page");
            txn.commit();
        }
        try {
            Database::open(dir);
            ADD_FAILURE() << name << ": opened";
        } catch (const CorruptError& e) {
            EXPECT_NE(std::string(e.what()).find("mdb_copy"), std::string::npos) << e.what();
        }
    }
}

// An environment whose meta database has no "format" key (and, optionally, a calls database).
void writeMetaWithoutFormat(const std::string& dir, bool withCalls) {
    lmdb::Env env(dir, lmdb::Side::Write);
    env.setMaxDbs(8);
    env.open(0, 0644);
    lmdb::Txn txn(env, 0);
    lmdb::Dbi meta = lmdb::Dbi::open(txn, format::kMetaDb, MDB_CREATE);
    if (withCalls) lmdb::Dbi::open(txn, format::kCallsDb, MDB_CREATE);
    meta.put(txn, "other", "x");
    txn.commit();
}

TEST(DatabaseOpen, GivenAMetaWithoutFormatKey_WhenOpened_ThenNotADatabaseError) {
    TempDir tmp;
    writeMetaWithoutFormat(tmp.path(), false);
    EXPECT_THROW(Database::open(tmp.path()), NotADatabaseError);
}

TEST(DatabaseOpen, GivenCallsButAMetaWithoutFormatKey_WhenOpened_ThenCorruptErrorSuggestsMdbCopy) {
    TempDir tmp;
    writeMetaWithoutFormat(tmp.path(), true);
    std::string msg = messageOf<CorruptError>(tmp.path());
    EXPECT_NE(msg.find("mdb_copy"), std::string::npos) << msg;
}

TEST(DatabaseOpen, GivenAWrongMagic_WhenOpened_ThenNotADatabaseError) {
    TempDir tmp;
    writeDatabase(tmp.path(), 3);
    putMeta(tmp.path(), format::kMetaFormat, formatValue("NOTCALLM", 1));
    EXPECT_THROW(Database::open(tmp.path()), NotADatabaseError);
}

TEST(DatabaseOpen, GivenANewerFormatVersion_WhenOpened_ThenVersionErrorNamesBothVersionsAndSaysUpgrade) {
    TempDir tmp;
    writeDatabase(tmp.path(), 3);
    putMeta(tmp.path(), format::kMetaFormat, formatValue(format::kMagic, format::kFormatVersion + 1));
    std::string msg = messageOf<VersionError>(tmp.path());
    EXPECT_NE(msg.find(std::to_string(format::kFormatVersion + 1)), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(format::kFormatVersion)), std::string::npos) << msg;
    EXPECT_NE(msg.find("upgrade callmonitor"), std::string::npos) << msg;
}

TEST(DatabaseOpen, GivenAGarbageDataFile_WhenOpened_ThenCorruptError) {
    TempDir tmp;
    std::string garbage(64 * 1024, '\0');
    uint32_t x = 12345;
    for (char& c : garbage) c = static_cast<char>((x = x * 1103515245 + 12345) >> 16);
    writeFile(tmp.sub("data.mdb"), garbage);
    std::string msg = messageOf<CorruptError>(tmp.path());
    EXPECT_NE(msg.find(tmp.path()), std::string::npos) << msg;
}

TEST(DatabaseOpen, GivenAnEmptyDataFile_WhenOpened_ThenCorruptError) {
    TempDir tmp;
    writeFile(tmp.sub("data.mdb"), "");
    EXPECT_THROW(Database::open(tmp.path()), CorruptError);
}

TEST(DatabaseOpen, GivenATruncatedCopyOfARealDataFile_WhenOpened_ThenCorruptErrorNotACrash) {
    TempDir tmp;
    writeDatabase(tmp.sub("real"), 3000, 200);
    const std::string data = readFile(tmp.sub("real") + "/data.mdb");
    ASSERT_GT(data.size(), 100000u);
    for (size_t cut : {data.size() / 2, size_t(5000), size_t(100)}) {
        const std::string dir = tmp.sub("cut-" + std::to_string(cut));
        std::filesystem::create_directory(dir);
        writeFile(dir + "/data.mdb", data.substr(0, cut));
        EXPECT_THROW(Database::open(dir), CorruptError) << "cut at " << cut;
    }
}

// The writer is another process here: a live Snapshot of this process would
// (by contract) keep a Writer of this same process from growing the map. The
// same-process case is in test_shared_env.cpp.
TEST(DatabaseRead, GivenAReaderOpenedBeforeTheWrites_WhenAnotherProcessCommitsAndGrowsTheMap_ThenALaterSnapshotSeesThem) {
    TempDir tmp;
    WriterOptions o = optionsFor(tmp.path());
    o.initialMapSize = 64 * 1024;
    {
        Writer writer(o, testWriterInfo());
        writer.submitEntry(CallKey{1, 1}, entryRecord(1));
    }

    // GIVEN a reader and a snapshot taken before the bulk of the writes
    Database db = Database::open(tmp.path());
    Snapshot early = db.snapshot();
    EXPECT_EQ(early.lastInvocation(1), 1u);

    // WHEN a writer process commits megabytes (growing the map) while we keep reading
    const uint64_t n = 20000;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int status = 1;
        try {
            Writer writer(o, testWriterInfo());
            for (uint64_t i = 2; i <= n; ++i) {
                writer.submitEntry(CallKey{1, i}, bigEntryRecord(500));
                writer.submitOutcome(CallKey{1, i}, returnedOutcome(int64_t(i)));
                if (!writer.hasRoom()) writer.waitForRoom();
            }
            status = writer.flush() && writer.mapSize() > 64 * 1024 ? 0 : 2;
            writer.close();
        } catch (...) {
        }
        ::_exit(status);
    }
    std::atomic<bool> done{false};
    std::thread reader([&] {
        while (!done) {
            Snapshot s = db.snapshot();
            uint64_t last = s.lastInvocation(1);
            if (last) ASSERT_TRUE(s.record(CallKey{1, last}).has_value());
        }
    });
    int status = -1;
    ::waitpid(child, &status, 0);
    done = true;
    reader.join();
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "the writer process failed (2: the map did not grow)";

    // THEN a later snapshot sees everything; the early one still sees its view
    Snapshot late = db.snapshot();
    EXPECT_EQ(late.lastInvocation(1), n);
    EXPECT_EQ(late.call(CallKey{1, n}).result, encodedInt(int64_t(n)));
    EXPECT_EQ(early.lastInvocation(1), 1u);
    EXPECT_EQ(db.sizes().calls, n);
}

TEST(DatabaseRead, GivenAReadOnlyDirectoryWithoutLockFile_WhenOpened_ThenItIsReadWithoutALock) {
    ReadOnlyPlace place;
    if (!place.usable()) GTEST_SKIP() << "cannot make a read-only place here";
    const std::string dir = place.path() + "/main";
    writeDatabase(dir, 100);
    std::filesystem::remove(dir + "/lock.mdb");
    ASSERT_TRUE(place.makeReadOnly("main"));
    Database db = Database::open(dir);
    EXPECT_EQ(db.snapshot().lastInvocation(1), 100u);
    EXPECT_EQ(db.snapshot().call(CallKey{1, 50}).result, encodedInt(50));
}

TEST(DatabaseRead, GivenSeveralFunctions_WhenCounting_ThenLastInvocationCountCallsAndInvocationsAgree) {
    TempDir tmp;
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        for (uint64_t i = 1; i <= 10; ++i) writer.submitEntry(CallKey{0, i}, entryRecord(1));
        for (uint64_t i : {1, 2, 5}) writer.submitEntry(CallKey{2, i}, entryRecord(1));
        writer.submitEntry(CallKey{UINT32_MAX, 3}, entryRecord(1));
    }
    Database db = Database::open(tmp.path());
    Snapshot s = db.snapshot();
    EXPECT_EQ(s.lastInvocation(0), 10u);
    EXPECT_EQ(s.lastInvocation(1), 0u);  // between two functions that have calls
    EXPECT_EQ(s.lastInvocation(2), 5u);
    EXPECT_EQ(s.countCalls(2), 3u);
    EXPECT_EQ(s.invocations(2), (std::vector<uint64_t>{1, 2, 5}));
    EXPECT_EQ(s.lastInvocation(3), 0u);
    EXPECT_EQ(s.lastInvocation(UINT32_MAX), 3u);
    EXPECT_THROW(s.call(CallKey{2, 3}), CallNotFoundError);
    EXPECT_FALSE(s.record(CallKey{2, 3}).has_value());
}

TEST(DatabaseRead, GivenADatabase_WhenAskedForSizes_ThenEntriesPagesAndFileSizeAreReported) {
    TempDir tmp;
    writeDatabase(tmp.path(), 100);
    DatabaseSizes s = Database::open(tmp.path()).sizes();
    EXPECT_EQ(s.calls, 100u);
    EXPECT_EQ(s.blobs, 1u);  // the ten calls pass the same 3000 bytes: stored once
    EXPECT_GT(s.callBytes, 0u);
    EXPECT_GE(s.blobBytes, 3000u);
    EXPECT_LT(s.blobBytes, 2u * 3000 + 8192);
    EXPECT_EQ(s.fileBytes, std::filesystem::file_size(tmp.path() + "/data.mdb"));
}

TEST(DatabaseRead, GivenManySnapshots_WhenTakenAndDropped_ThenReaderSlotsAreReused) {
    TempDir tmp;
    writeDatabase(tmp.path(), 5);
    Database db = Database::open(tmp.path());
    // More than LMDB's default 126 reader slots: only works if slots are recycled.
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(db.snapshot().lastInvocation(1), 5u);
    std::vector<Snapshot> live;
    for (int i = 0; i < 50; ++i) live.push_back(db.snapshot());
    EXPECT_EQ(live.back().lastInvocation(1), 5u);
}

}  // namespace
}  // namespace callmonitor
