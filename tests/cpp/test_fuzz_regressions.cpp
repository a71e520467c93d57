// Inputs the fuzz targets (fuzz/) found crashing, kept as bytes, each with
// the behaviour it must have now. The name says which target found it
// (decode_records / open_database) and the libFuzzer artifact it came from.
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "allocation_probe.h"
#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/value.h"
#include "callmonitor/writer.h"
#include "callmonitor/value_writer.h"
#include "ndarray/xarray.h"
#include "store_fixtures.h"

namespace callmonitor {
namespace {

using namespace callmonitor::testing;
using cmtest::AllocationProbe;

std::string fromHex(std::string_view hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

// A small closed database with one call (the fuzz targets mutate a richer one).
std::string writeSmallDatabase(const TempDir& tmp) {
    const std::string dir = tmp.sub("db");
    Writer w(optionsFor(dir), testWriterInfo());
    w.submitCaller(0, "__main__");
    w.submitEntry(format::CallKey{1, 1}, entryRecord(7));
    w.submitOutcome(format::CallKey{1, 1}, returnedOutcome(8));
    w.close();
    return dir;
}

struct PageEdit {
    int page;          // LMDB meta page 0 or 1 (4 KiB pages)
    int offset;
    const char* hex;   // bytes written there
};

void editMetaPages(const std::string& dataFile, const std::vector<PageEdit>& edits) {
    int fd = ::open(dataFile.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    for (const PageEdit& e : edits) {
        std::string bytes = fromHex(e.hex);
        ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), off_t(e.page) * 4096 + e.offset), ssize_t(bytes.size()));
    }
    ::close(fd);
}

}  // namespace

// decode_records, crash-f62e496e: an empty array whose other dimensions
// multiply past int64 made xtensor's stride computation overflow (UB) in
// toXarray. numpy refuses such shapes; the parser now does too.
TEST(FuzzRegressions, GivenDecodeRecordsCrashF62e_WhenDecoded_ThenDecodeErrorForTheOverflowingEmptyArray) {
    const std::string value = fromHex(
        "0b020b030f033e693446231010010080088a7f0200000000ffca0000be78a69820000013000178a698200089002b40600042000000"
        "00ff00fefffeccffffffff010000038b9e9d939535000d00");
    EXPECT_THROW(decodeValue(value), DecodeError);
}

TEST(FuzzRegressions, GivenAnEmptyArrayWithHugeOtherDimensions_WhenDecoded_ThenDecodeErrorButSmallEmptyArraysDecode) {
    auto array = [](std::vector<uint64_t> shape) {
        std::string out;
        ValueWriter(out).arrayInline(ArrayHeader{"<f8", 'C', shape}, "", 0, false);
        return out;
    };
    EXPECT_THROW(decodeValue(array({0, uint64_t(1) << 40, uint64_t(1) << 40})), DecodeError);
    EXPECT_THROW(decodeValue(array({uint64_t(1) << 62, 0})), DecodeError);
    ValuePtr ok = decodeValue(array({0, 5, 1000}));
    EXPECT_EQ(toXarray<double>(*ok).size(), 0u);
}

// decode_records, leak-deb028ec: a call record whose inputs are no (args,
// kwargs) pair but hold a cycle (a memoized frozenset reached again by a
// Backref) leaked the whole graph when decodeInputs threw (LeakSanitizer in
// the fuzz run; the sanitizer stage of tools/test.sh runs this test under it).
TEST(FuzzRegressions, GivenDecodeRecordsLeakDeb0_WhenTheInputsAreDecoded_ThenDecodeErrorAndNothingLeaks) {
    const std::string record = fromHex(
        "b81700010b028e010a0e0002040109ffffffffffffffff0106000000000000f83f00000000000004c0080300010289076d75746162"
        "6c650d01030a0e0010033c663808000000000000e03f110d6d797e6b672e48616e646c6572077061796c6f6164120b6d79706b672e"
        "5468696e670480054e2e130d736f636b65742e736f636b6574083c736f636b65743e0d63616e6e6f74207069636b6c65150e6c6567"
        "6163792e48616e646c65720f68616e646c657273ff737465702f360705737461746514000c000309");
    const CallView call = parseCallRecord(record, {}, 1);  // found in format 1 (no ext areas)
    EXPECT_THROW(decodeInputs(call.inputs), DecodeError);
}

TEST(FuzzRegressions, GivenInputsWhoseArgReferencesTheArgsTuple_WhenDecodedAndDropped_ThenTheArgsTupleIsFreed) {
    // ((memo tuple: ([Backref 0],)), {}): only hostile bytes can do this.
    std::string inputs;
    ValueWriter w(inputs);
    w.beginTuple(2, false);
    w.beginTuple(1, true);
    w.beginList(1, false);
    w.backref(0);
    w.beginDict(0, false);
    std::weak_ptr<Value> argsTuple;
    {
        DecodedInputs in = decodeInputs(inputs);
        ASSERT_EQ(in.args.size(), 1u);
        ASSERT_EQ(in.args[0]->items.size(), 1u);
        argsTuple = in.args[0]->items[0];
        EXPECT_FALSE(argsTuple.expired());
    }
    EXPECT_TRUE(argsTuple.expired());
}

// open_database, oom-708d5661: a callers key of 0x00f6ff00 in a database of
// a few records made Database::callers() allocate 16 M strings (0.5 GB).
TEST(FuzzRegressions, GivenOpenDatabaseOom708d_WhenCallersAreRead_ThenCorruptErrorWithoutAllocatingForTheIndex) {
    TempDir tmp;
    const std::string dir = writeSmallDatabase(tmp);
    {
        Writer w(optionsFor(dir), testWriterInfo());
        w.submitCaller(0x00f6ff00, "hostile");
        w.close();
    }
    Database db = Database::open(dir);
    AllocationProbe probe;
    EXPECT_THROW(db.callers(), CorruptError);
    EXPECT_LT(probe.largest(), size_t(1) << 20);
}

TEST(FuzzRegressions, GivenCallersWithASmallGap_WhenRead_ThenTheGapReadsAsEmpty) {
    TempDir tmp;
    const std::string dir = tmp.sub("db");
    {
        Writer w(optionsFor(dir), testWriterInfo());
        w.submitCaller(0, "__main__");
        w.submitCaller(3, "pkg");
        w.close();
    }
    EXPECT_EQ(Database::open(dir).callers(), (std::vector<std::string>{"__main__", "", "", "pkg"}));
}

// open_database, crash-eafd1883: meta-page bytes that left the main
// database's root at page 0 made LMDB abort the process
// ("mdb.c:5645: Assertion 'root > 1' failed in mdb_page_search()").
TEST(FuzzRegressions, GivenOpenDatabaseCrashEafd_WhenOpened_ThenCorruptErrorNamingTheMetaPage) {
    TempDir tmp;
    const std::string dir = writeSmallDatabase(tmp);
    editMetaPages(dir + "/data.mdb", {{0, 0, "000100000000000004"},
                                      {0, 0, "5f00030004000000"},
                                      {1, 120, "9820a100000089000004130000"},
                                      {0, 0, "00020004005f4d61"},
                                      {1, 110, "68720000002b00010000000000000000"},
                                      {1, 120, "9820a100000089130000000000"},
                                      {1, 97, "6e5468"},
                                      {0, 101, "64656164"}});
    try {
        Database::open(dir);
        FAIL() << "opened a database with damaged meta pages";
    } catch (const CorruptError& e) {
        EXPECT_NE(std::string(e.what()).find("meta page"), std::string::npos) << e.what();
    }
}

TEST(FuzzRegressions, GivenAMainRootPointingAtAMetaPage_WhenOpened_ThenCorruptErrorNotAnLmdbAbort) {
    TempDir tmp;
    const std::string dir = writeSmallDatabase(tmp);
    // MDB_db main at offset 88 of each meta page; its root (u64) at +40.
    editMetaPages(dir + "/data.mdb", {{0, 128, "0100000000000000"}, {1, 128, "0100000000000000"}});
    EXPECT_THROW(Database::open(dir), CorruptError);
}

TEST(FuzzRegressions, GivenAnUndamagedDatabase_WhenItsMetaPagesAreChecked_ThenItOpensAndReads) {
    TempDir tmp;
    const std::string dir = writeSmallDatabase(tmp);
    Database db = Database::open(dir);
    EXPECT_EQ(db.callers(), std::vector<std::string>{"__main__"});
    EXPECT_EQ(db.snapshot().lastInvocation(1), 1u);
}

}  // namespace callmonitor
