// Format v2 end to end: chunk boundaries and packing, late records and late
// outcomes, payloads stored once (dedup, a returned argument), compression,
// ext fields a reader does not know, a chunk left open by a crash, merges of
// v1 and v2 sources, and a merge onto a full file system.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/merge.h"
#include "callmonitor/value.h"
#include "callmonitor/writer.h"
#include "codec/chunk.h"
#include "codec/payload_codec.h"
#include "store_fixtures.h"

namespace callmonitor {
namespace {

namespace fs = std::filesystem;
using namespace callmonitor::testing;
using format::CallKey;
using format::ExtTag;
using format::Outcome;

int64_t argOf(const CallView& v) {
    DecodedInputs in = decodeInputs(v.inputs);
    return in.args.at(0)->integer;
}

// Every call of `fid` through a cursor: (invocation, argument).
std::vector<std::pair<uint64_t, int64_t>> scan(const Snapshot& snap, uint32_t fid, uint64_t from = 1) {
    std::vector<std::pair<uint64_t, int64_t>> out;
    CallView v;
    for (CallCursor c = snap.calls(fid, from); c.next(v);) out.emplace_back(v.key.invocation, argOf(v));
    return out;
}

// A record for f(arg) with the given entry ext fields, Pending.
std::string entryWithExt(int64_t arg, const ExtFields& ext) {
    std::string out;
    appendCallHeader(out, 1000, 0, 0);
    ValueWriter w(out);
    w.beginTuple(2, false);
    w.beginTuple(1, false);
    w.integer(arg);
    w.beginDict(0, false);
    appendExt(out, ext);
    appendPending(out);
    return out;
}

// An entry whose one argument is an array stored as input payload slot 0 (u1, n bytes).
std::string arrayEntry(uint64_t nbytes) {
    std::string out;
    appendCallHeader(out, 1000, 0, 0);
    ValueWriter w(out);
    w.beginTuple(2, false);
    w.beginTuple(1, false);
    w.arrayBlob(ArrayHeader{"|u1", 'C', {nbytes}}, 0, nbytes, false);
    w.beginDict(0, false);
    appendEmptyExt(out);
    appendPending(out);
    return out;
}
// Returned: the same array, as result payload slot 0.
std::string arrayOutcome(uint64_t nbytes) {
    std::string out;
    appendReturned(out, 5);
    ValueWriter(out).arrayBlob(ArrayHeader{"|u1", 'C', {nbytes}}, 0, nbytes, false);
    appendEmptyExt(out);
    return out;
}

TEST(Chunks, GivenManySmallCallsThroughALane_WhenStored_ThenTheyArePackedAndEveryCallIsFoundAtEachBoundary) {
    TempDir tmp;
    const uint64_t n = 3000;
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        Writer::Lane* lane = writer.openLane();
        for (uint64_t i = 1; i <= n; ++i) {
            writer.submitEntry(lane, CallKey{1, i}, entryRecord(int64_t(i)));
            writer.submitOutcome(lane, CallKey{1, i}, returnedOutcome(int64_t(i)));
            if (i % 700 == 0) ASSERT_TRUE(writer.flush());  // commits mid-chunk: the tail chunk continues
        }
    }
    Database db = Database::open(tmp.path());
    DatabaseSizes s = db.sizes();
    EXPECT_EQ(s.calls, n);
    // Hundreds of calls per chunk (a ~21-byte record: about 370 per 8 KiB chunk).
    EXPECT_GE(s.chunks, n / 600);
    EXPECT_LE(s.chunks, n / 100);
    Snapshot snap = db.snapshot();
    EXPECT_EQ(snap.lastInvocation(1), n);
    EXPECT_EQ(snap.countCalls(1), n);
    // Every call by key (first and last of every chunk among them), and a
    // cursor from every invocation sees exactly the rest.
    for (uint64_t i = 1; i <= n; ++i) {
        CallView v = snap.call(CallKey{1, i});
        ASSERT_EQ(argOf(v), int64_t(i));
        ASSERT_EQ(v.outcome, Outcome::Returned);
        ASSERT_EQ(v.result, encodedInt(int64_t(i)));
    }
    for (uint64_t from = 1; from <= n; ++from) {  // every chunk's first and last call among them
        CallCursor c = snap.calls(1, from);
        CallView v;
        ASSERT_TRUE(c.nextRaw(v)) << from;
        ASSERT_EQ(v.key.invocation, from);
        uint64_t count = 1, last = from;
        for (; c.nextRaw(v); ++count) {
            ASSERT_EQ(v.key.invocation, last + 1);
            last = v.key.invocation;
        }
        ASSERT_EQ(count, n - from + 1) << from;
    }
    EXPECT_EQ(scan(snap, 1, 1).size(), n);
    EXPECT_TRUE(scan(snap, 1, n + 1).empty());
    EXPECT_TRUE(scan(snap, 2).empty());
    EXPECT_THROW(snap.call(CallKey{1, n + 1}), CallNotFoundError);
    EXPECT_FALSE(snap.record(CallKey{1, 0}).has_value());
}

TEST(Chunks, GivenTwoLanesWhoseCallsOfOneFunctionInterleave_WhenStoredInOneBatch_ThenChunksArePackedInOrderNotRewritten) {
    // Two threads taking turns: lane A holds the odd invocations, lane B the
    // even ones. Stored lane by lane, every call of B would be a late insert
    // growing an already written chunk (about half as many chunks, each
    // twice the size, and one chunk rewrite per call).
    TempDir tmp;
    const uint64_t n = 20000;
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        Writer::Lane* lanes[2] = {writer.openLane(), writer.openLane()};
        for (uint64_t i = 1; i <= n; ++i) {
            writer.submitEntry(lanes[i % 2], CallKey{1, i}, entryRecord(int64_t(i)));
            writer.submitOutcome(lanes[i % 2], CallKey{1, i}, returnedOutcome(int64_t(i)));
        }
        ASSERT_TRUE(writer.flush());
    }
    Database db = Database::open(tmp.path());
    const DatabaseSizes s = db.sizes();
    EXPECT_EQ(s.calls, n);
    EXPECT_GE(s.chunks, n / 450) << s.chunks;  // about as packed as one thread's calls (~370 a chunk); lane by lane: 31
    EXPECT_LE(s.chunks, n / 100);
    Snapshot snap = db.snapshot();
    uint64_t expect = 1;
    CallView v;
    for (CallCursor c = snap.calls(1); c.next(v); ++expect) {
        ASSERT_EQ(v.key.invocation, expect);
        ASSERT_EQ(argOf(v), int64_t(expect));
        ASSERT_EQ(v.outcome, Outcome::Returned);
    }
    EXPECT_EQ(expect, n + 1);
}

TEST(Chunks, GivenAFunctionCalledOncePerCommit_WhenManyCommitsPass_ThenItsCallsShareOneChunk) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    for (uint64_t i = 1; i <= 40; ++i) {
        writer.submitEntry(CallKey{3, i}, entryRecord(int64_t(i)));
        writer.submitOutcome(CallKey{3, i}, returnedOutcome(1));
        ASSERT_TRUE(writer.flush());
    }
    Database db = Database::open(tmp.path());
    EXPECT_EQ(db.sizes().chunks, 1u);
    EXPECT_EQ(db.sizes().calls, 40u);
    EXPECT_EQ(scan(db.snapshot(), 3).size(), 40u);
}

TEST(Chunks, GivenLateRecords_WhenTheyArriveAfterLaterOnesWereCommitted_ThenEachIsInsertedInOrderWithoutOverlap) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    std::set<uint64_t> expected;
    auto put = [&](uint64_t i) {
        writer.submitEntry(CallKey{1, i}, entryRecord(int64_t(i)));
        expected.insert(i);
    };
    for (uint64_t i = 100; i <= 400; ++i) put(i);  // several chunks
    ASSERT_TRUE(writer.flush());
    for (uint64_t i : {uint64_t(50), uint64_t(10), uint64_t(250), uint64_t(401), uint64_t(99), uint64_t(11)}) put(i);
    for (uint64_t i = 402; i <= 410; i += 2) put(i);  // gaps
    ASSERT_TRUE(writer.flush());
    put(403);  // into a gap, later
    ASSERT_TRUE(writer.flush());
    Database db = Database::open(tmp.path());
    Snapshot snap = db.snapshot();
    auto calls = scan(snap, 1);
    std::vector<uint64_t> got;
    for (auto& [inv, arg] : calls) {
        EXPECT_EQ(arg, int64_t(inv));
        got.push_back(inv);
    }
    EXPECT_EQ(got, std::vector<uint64_t>(expected.begin(), expected.end()));
    EXPECT_EQ(snap.lastInvocation(1), 410u);
    EXPECT_EQ(snap.countCalls(1), expected.size());
    for (uint64_t i : expected) EXPECT_EQ(argOf(snap.call(CallKey{1, i})), int64_t(i)) << i;
    EXPECT_FALSE(snap.record(CallKey{1, 405}).has_value());
}

TEST(Chunks, GivenLateOutcomes_WhenTheirEntriesAreInEarlierCommits_ThenEachRecordIsCompletedOnceInItsChunk) {
    TempDir tmp;
    Writer writer(optionsFor(tmp.path()), testWriterInfo());
    for (uint64_t i = 1; i <= 300; ++i) writer.submitEntry(CallKey{1, i}, entryRecord(int64_t(i)));
    ASSERT_TRUE(writer.flush());
    for (int64_t i = 300; i >= 1; i -= 7) writer.submitOutcome(CallKey{1, uint64_t(i)}, returnedOutcome(i * 10));
    ASSERT_TRUE(writer.flush());
    writer.submitOutcome(CallKey{1, 300}, returnedOutcome(-1));  // a second outcome: ignored
    ASSERT_TRUE(writer.flush());
    Database db = Database::open(tmp.path());
    Snapshot snap = db.snapshot();
    for (uint64_t i = 1; i <= 300; ++i) {
        CallView v = snap.call(CallKey{1, i});
        ASSERT_EQ(argOf(v), int64_t(i));
        if ((300 - i) % 7 == 0) {
            ASSERT_EQ(v.outcome, Outcome::Returned) << i;
            ASSERT_EQ(v.result, encodedInt(int64_t(i) * 10)) << i;
        } else {
            ASSERT_EQ(v.outcome, Outcome::Pending) << i;
        }
    }
    EXPECT_EQ(db.sizes().calls, 300u);
}

TEST(Chunks, GivenAWriterKilledMidChunk_WhenRead_ThenEveryFlushedCallIsThereAndCallsInFlightArePendingWithInputs) {
    TempDir tmp;
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        Writer::Lane* lane = writer.openLane();
        for (uint64_t i = 1; i <= 130; ++i) {  // the tail chunk is open and partly filled
            writer.submitEntry(lane, CallKey{1, i}, entryRecord(int64_t(i)));
            if (i <= 125) writer.submitOutcome(lane, CallKey{1, i}, returnedOutcome(int64_t(i)));
        }
        writer.flush();
        ::kill(getpid(), SIGKILL);
        _exit(3);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    Database db = Database::open(tmp.path());
    Snapshot snap = db.snapshot();
    auto calls = scan(snap, 1);
    ASSERT_EQ(calls.size(), 130u);
    for (uint64_t i = 1; i <= 130; ++i) {
        CallView v = snap.call(CallKey{1, i});
        EXPECT_EQ(argOf(v), int64_t(i));
        EXPECT_EQ(v.outcome, i <= 125 ? Outcome::Returned : Outcome::Pending) << i;
    }
}

TEST(Payloads, GivenManyCallsWithFewDistinctLargeArrays_WhenStored_ThenEachArrayCostsItsSizeOnce) {
    // Scaled down from 1,000,000 x 1 MB (too slow for CI): 2,000 calls passing
    // one of 10 distinct 1 MB arrays.
    TempDir tmp;
    const uint64_t n = 2000, mb = 1 << 20;
    std::vector<std::string> arrays;
    for (int k = 0; k < 10; ++k) arrays.push_back(std::string(mb, char('A' + k)));
    {
        WriterOptions o = optionsFor(tmp.path());
        o.maxBufferBytes = 256 << 20;
        Writer writer(o, testWriterInfo());
        Writer::Lane* lane = writer.openLane();
        const std::string entry = arrayEntry(mb);
        for (uint64_t i = 1; i <= n; ++i) {
            writer.submitEntry(lane, CallKey{1, i}, entry, payloads({arrays[i % 10]}));
            writer.submitOutcome(lane, CallKey{1, i}, returnedOutcome(1));
            if (!writer.hasRoom()) writer.waitForRoom();
        }
    }
    Database db = Database::open(tmp.path());
    DatabaseSizes s = db.sizes();
    EXPECT_EQ(s.calls, n);
    EXPECT_EQ(s.blobs, 10u);
    EXPECT_LT(s.blobBytes, 10 * mb + 10 * 4096 + 65536);
    EXPECT_LT(s.fileBytes, 10 * mb + n * 64 + (1 << 20));  // about 10 MB + per-call records
    Snapshot snap = db.snapshot();
    for (uint64_t i : {uint64_t(1), uint64_t(2), uint64_t(1234), n}) {
        CallView v = snap.call(CallKey{1, i});
        ASSERT_EQ(v.inputPayloads(), 1u);
        EXPECT_EQ(snap.payload(v, Section::Inputs, 0), arrays[i % 10]);
        EXPECT_EQ(snap.blob(CallKey{1, i}, 0), arrays[i % 10]);
        ValuePtr args = decodeValue(v.inputs, snap.payloadResolver(v, Section::Inputs));
        EXPECT_EQ(args->items[0]->items[0]->bytes, arrays[i % 10]);
    }
}

TEST(Payloads, GivenAnArgumentThatIsReturned_WhenStored_ThenItIsStoredOnceAndReadAsBothInputAndResult) {
    TempDir tmp;
    const uint64_t size = 8 << 20;
    std::string bytes(size, '\0');
    std::mt19937_64 rng(7);
    for (auto& c : bytes) c = char(rng());
    for (bool lane : {true, false}) {
        const std::string dir = tmp.sub(lane ? "lane" : "nolane");
        {
            Writer writer(optionsFor(dir), testWriterInfo());
            Writer::Lane* l = writer.openLane();
            std::vector<Payload> results;
            results.push_back(Payload::sameAs(0));
            if (lane) {
                writer.submitEntry(l, CallKey{1, 1}, arrayEntry(size), payloads({bytes}));
                writer.submitOutcome(l, CallKey{1, 1}, arrayOutcome(size), std::move(results));
            } else {  // a late outcome: the entry was committed before
                writer.submitEntry(CallKey{1, 1}, arrayEntry(size), payloads({bytes}));
                ASSERT_TRUE(writer.flush());
                writer.submitOutcome(CallKey{1, 1}, arrayOutcome(size), std::move(results));
            }
        }
        Database db = Database::open(dir);
        EXPECT_EQ(db.sizes().blobs, 1u) << lane;
        EXPECT_LT(db.sizes().fileBytes, size + (1 << 20)) << lane;
        Snapshot snap = db.snapshot();
        CallView v = snap.call(CallKey{1, 1});
        ASSERT_EQ(v.outcome, Outcome::Returned);
        ASSERT_EQ(v.resultPayloads(), 1u);
        EXPECT_EQ(v.inputHashes, v.resultHashes);
        EXPECT_EQ(snap.payload(v, Section::Result, 0), bytes);
        ValuePtr result = decodeValue(v.result, snap.payloadResolver(v, Section::Result));
        EXPECT_EQ(result->bytes, bytes);
        EXPECT_THROW(snap.payload(v, Section::Result, 1), CorruptError);
    }
}

TEST(Payloads, GivenZstdCompression_WhenPayloadsOfEveryItemSizeAreStored_ThenTheyReadBackEqualAndCompressibleOnesShrink) {
    TempDir tmp;
    std::vector<std::string> cases;
    std::mt19937_64 rng(11);
    for (size_t item : {1, 2, 4, 8, 16}) {          // bool/int8 ... complex128 element widths
        for (size_t count : {0, 1, 513, 4096, 100000}) {
            std::string smooth(item * count, '\0'), noise(item * count, '\0');
            for (size_t i = 0; i < count; ++i) {
                const uint64_t v = i / 16;              // slowly varying: compresses
                std::memcpy(&smooth[i * item], &v, std::min<size_t>(item, 8));
            }
            for (auto& c : noise) c = char(rng());     // random: does not
            cases.push_back(smooth);
            cases.push_back(noise);
        }
    }
    WriterOptions o = optionsFor(tmp.path());
    o.compression = Compression::Zstd;
    {
        Writer writer(o, testWriterInfo());
        for (size_t i = 0; i < cases.size(); ++i) {
            writer.submitEntry(CallKey{1, i + 1}, arrayEntry(cases[i].size()), payloads({cases[i]}));
        }
    }
    Database db = Database::open(tmp.path());
    EXPECT_EQ(db.compression(), "zstd:3");
    Snapshot snap = db.snapshot();
    for (size_t i = 0; i < cases.size(); ++i) {
        EXPECT_EQ(snap.payload(CallKey{1, i + 1}, Section::Inputs, 0), cases[i]) << i;
    }
    uint64_t raw = 0;
    for (const auto& c : cases) raw += c.size();
    EXPECT_LT(db.sizes().blobBytes, raw * 3 / 4);  // the smooth half shrinks
}

TEST(ExtFields, GivenFieldsThisReaderKnowsAndOnesItDoesNot_WhenRead_ThenKnownOnesAreParsedAndUnknownOnesSkipped) {
    TempDir tmp;
    ExtFields entry;
    entry.addVarint(ExtTag::Site, 7);
    entry.addBytes(99, "from a future version");
    entry.addParent(CallKey{2, 41});
    entry.addVarint(ExtTag::Label, 3);
    std::string outcome;
    appendRaised(outcome, 12, "ValueError", "bad");
    ExtFields out;
    out.addBytes(ExtTag::Traceback, "Traceback (most recent call last): ...");
    out.addBytes(77, std::string("\x00\x01\x02", 3));
    std::string args;
    ValueWriter(args).beginTuple(0, false);
    out.addBytes(ExtTag::ExceptionArgs, args);
    appendExt(outcome, out);
    {
        Writer writer(optionsFor(tmp.path()), testWriterInfo());
        writer.submitSite(7, SiteInfo{0, "/src/model.py", 42, "run"});
        writer.submitLabel(3, "test_solver[fast]");
        writer.submitEntry(CallKey{1, 1}, entryWithExt(5, entry));
        writer.submitOutcome(CallKey{1, 1}, outcome);
    }
    Database db = Database::open(tmp.path());
    CallView v = db.snapshot().call(CallKey{1, 1});
    EXPECT_EQ(argOf(v), 5);
    EXPECT_EQ(v.site, 7u);
    EXPECT_EQ(v.label, 3u);
    ASSERT_TRUE(v.parent.has_value());
    EXPECT_EQ(*v.parent, (CallKey{2, 41}));
    EXPECT_EQ(v.outcome, Outcome::Raised);
    EXPECT_EQ(v.exceptionType, "ValueError");
    EXPECT_EQ(v.traceback, "Traceback (most recent call last): ...");
    EXPECT_EQ(decodeValue(v.exceptionArgs)->items.size(), 0u);
    // The unknown fields are kept in the raw areas for a reader that wants them.
    std::vector<uint32_t> tags;
    forEachExtField(v.entryExt, [&](uint32_t tag, std::string_view) { tags.push_back(tag); });
    EXPECT_EQ(tags, (std::vector<uint32_t>{1, 99, 2, 3}));
    bool seen77 = false;
    forEachExtField(v.outcomeExt, [&](uint32_t tag, std::string_view b) {
        if (tag == 77) seen77 = b == std::string("\x00\x01\x02", 3);
    });
    EXPECT_TRUE(seen77);
    ASSERT_EQ(db.sites().size(), 1u);
    EXPECT_EQ(db.sites()[0].id, 7u);
    EXPECT_EQ(db.sites()[0].file, "/src/model.py");
    EXPECT_EQ(db.sites()[0].line, 42u);
    EXPECT_EQ(db.sites()[0].function, "run");
    ASSERT_EQ(db.labels().size(), 4u);
    EXPECT_EQ(db.labels()[3], "test_solver[fast]");
}

TEST(ExtFields, GivenShortFormFields_WhenRead_ThenKnownOnesParseAndAnUnknownOneIsSkippedWithItsVarintBytes) {
    ExtFields ext;
    ext.addVarint(ExtTag::Site, 300);                      // two-byte varint value
    ext.addVarint(static_cast<ExtTag>(123), 5);            // a tag this build does not know
    ext.addBytes(ExtTag::Label, std::string("\x04", 1));  // the long form still reads
    // Site short form: key 1 << 1 | 1, then the varint; no length byte.
    EXPECT_EQ(ext.bytes().substr(0, 3), std::string("\x03\xac\x02", 3));
    const std::string rec = entryWithExt(1, ext);
    const CallView v = parseCallRecord(rec);
    EXPECT_EQ(v.site, 300u);
    EXPECT_EQ(v.label, 4u);
    std::vector<std::pair<uint32_t, std::string>> fields;
    forEachExtField(v.entryExt, [&](uint32_t tag, std::string_view b) { fields.emplace_back(tag, std::string(b)); });
    ASSERT_EQ(fields.size(), 3u);
    EXPECT_EQ(fields[1], (std::pair<uint32_t, std::string>{123, "\x05"}));
    // Truncated inside a short field's varint: an error, not a read past the area.
    std::string bad = rec;
    const size_t at = size_t(v.entryExt.data() - rec.data());
    bad[at - 1] = 2;  // the area now ends inside Site's varint
    EXPECT_THROW(parseCallRecord(bad), DecodeError);
}

TEST(CallRecord, GivenAnOutcomeWithoutItsEmptyExt_WhenParsed_ThenItReadsAsAnEmptyExtWrittenOut) {
    std::string left, written;
    for (std::string* out : {&left, &written}) {
        *out = entryWithExt(3, ExtFields{});
        out->pop_back();  // the Pending byte
        appendReturned(*out, 250);
        ValueWriter(*out).str("done");
    }
    appendEmptyExt(written);
    EXPECT_EQ(left.size() + 1, written.size());
    for (const std::string& rec : {left, written}) {
        const CallView v = parseCallRecord(rec);
        EXPECT_EQ(v.outcome, Outcome::Returned);
        EXPECT_EQ(v.durationNs, 250u);
        EXPECT_EQ(decodeValue(v.result)->bytes, "done");
        EXPECT_TRUE(v.outcomeExt.empty());
    }
    EXPECT_THROW(parseCallRecord(written + '\x01'), DecodeError);  // a byte after the outcome ext
}

TEST(Chunks, GivenRecordsUnder64Bytes_WhenFramed_ThenOneByteEachAndGapsAndRefsAddTheFlagsByte) {
    const std::string rec(63, 'r'), hash(codec::kHashSize, 'h');
    EXPECT_EQ(codec::chunkEntrySize(0, rec.size(), 0, 0), 1 + rec.size());
    EXPECT_EQ(codec::chunkEntrySize(0, 64, 0, 0), 2 + 64u);
    EXPECT_EQ(codec::chunkEntrySize(3, rec.size(), 0, 0), 3 + rec.size());                // flags, gap
    EXPECT_EQ(codec::chunkEntrySize(0, rec.size(), 1, 0), 1 + 1 + rec.size() + 2 + 16);  // flags, refs
    std::string body;
    codec::appendChunkEntry(body, 9, 10, rec, {}, {}, {});
    EXPECT_EQ(body.size(), 1 + rec.size());
    codec::appendChunkEntry(body, 10, 14, rec, {}, hash, {});
    EXPECT_EQ(body.size(), codec::chunkEntrySize(0, rec.size(), 0, 0) + codec::chunkEntrySize(3, rec.size(), 1, 0));
    const std::string chunk = std::string(codec::ChunkHeader(2, 4).view()) + body;
    codec::ChunkReader r(chunk, 10);
    codec::ChunkEntry e;
    ASSERT_TRUE(r.next(e));
    EXPECT_EQ(e.invocation, 10u);
    EXPECT_EQ(e.record, rec);
    ASSERT_TRUE(r.next(e));
    EXPECT_EQ(e.invocation, 14u);
    EXPECT_EQ(e.inputHashes, hash);
    EXPECT_FALSE(r.next(e));
    // A flags byte of 0, or with an unknown bit, is damage.
    for (char flags : {'\x00', '\x04'}) {
        std::string bad = chunk;
        bad[codec::ChunkHeader(2, 4).size + 1 + rec.size() + 1] = flags;
        codec::ChunkReader b(bad, 10);
        ASSERT_TRUE(b.next(e));
        EXPECT_THROW(b.next(e), CorruptError);
    }
}

TEST(ExtFields, GivenAFieldRunningPastItsArea_WhenParsed_ThenDecodeError) {
    std::string rec;
    appendCallHeader(rec, 1, 0, 0);
    ValueWriter w(rec);
    w.beginTuple(2, false);
    w.beginTuple(0, false);
    w.beginDict(0, false);
    rec += std::string("\x03\x02\x05\x07", 4);  // area of 3 bytes: tag 1 (long form), len 5 (past it)
    appendPending(rec);
    EXPECT_THROW(parseCallRecord(rec), DecodeError);
}

TEST(HostileChunks, GivenEveryTruncationAndByteFlipOfAChunk_WhenRead_ThenOnlyCorruptErrorsNeverACrash) {
    std::string body;
    uint64_t prev = 9;
    for (uint64_t i = 10; i < 20; ++i) {
        const std::string rec = entryRecord(int64_t(i));
        const std::string hash(codec::kHashSize, char(i));
        codec::appendChunkEntry(body, prev, i + (i > 15 ? 3 : 0), rec, {}, i % 3 ? "" : hash, i % 4 ? "" : hash);
        prev = i + (i > 15 ? 3 : 0);
    }
    const std::string chunk = std::string(codec::ChunkHeader(10, prev - 10).view()) + body;
    auto readAll = [](std::string_view c) {
        codec::ChunkReader r(c, 10);
        codec::ChunkEntry e;
        size_t n = 0;
        while (r.next(e)) {
            parseCallRecord(e.record);
            ++n;
        }
        return n;
    };
    EXPECT_EQ(readAll(chunk), 10u);
    for (size_t n = 0; n < chunk.size(); ++n) EXPECT_THROW(readAll(std::string_view(chunk).substr(0, n)), CorruptError) << n;
    for (size_t at = 0; at < chunk.size(); ++at) {
        for (uint8_t flip : {0x01, 0x80, 0xFF}) {
            std::string bad = chunk;
            bad[at] = char(bad[at] ^ flip);
            try {
                readAll(bad);
            } catch (const CorruptError&) {
            }
        }
    }
}

TEST(HostileChunks, GivenAPayloadClaimingAHugeDecompressedSize_WhenRead_ThenCorruptErrorWithoutAllocating) {
    std::string stored(codec::PayloadHeader(codec::PayloadCodec::Zstd, uint64_t(1) << 39).view());
    stored += std::string(64, 'x');
    EXPECT_THROW(codec::parsePayload(stored), CorruptError);
    std::string compressed;
    ASSERT_TRUE(codec::compressPayload(std::string(1 << 20, 'a'), 3, compressed));
    std::string lying(codec::PayloadHeader(codec::PayloadCodec::Zstd, 1000).view());  // frame says 1 MiB
    lying += compressed;
    std::string out;
    EXPECT_THROW(codec::decompressPayload(codec::parsePayload(lying), out), CorruptError);
    std::string unknown = "\x07\x01x";
    EXPECT_THROW(codec::parsePayload(unknown), CorruptError);
    std::string shortRaw(codec::PayloadHeader(codec::PayloadCodec::Raw, 10).view());
    EXPECT_THROW(codec::parsePayload(shortRaw + "abc"), CorruptError);
}

// --- merge -------------------------------------------------------------------

fs::path v1Fixture(const std::string& rel) {
    return fs::path(__FILE__).parent_path().parent_path() / "fixtures" / "format-v1" / rel;
}

// Equal vectors, or the first difference (a whole-vector diff is unreadable).
void expectSameCalls(const std::vector<std::string>& got, const std::vector<std::string>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "call " << i;
}

// Text of a decoded value, then the value freed: decoded values may be cyclic
// graphs of shared_ptr (value.h), which only freeing their edges releases.
std::string textThenFree(const ValuePtr& root) {
    std::string text = root->toText(1000);
    std::vector<ValuePtr> stack{root}, seen;
    std::set<const Value*> visited;
    while (!stack.empty()) {
        ValuePtr v = std::move(stack.back());
        stack.pop_back();
        if (!v || !visited.insert(v.get()).second) continue;
        for (const ValuePtr& c : v->items) stack.push_back(c);
        for (const auto& [k, x] : v->pairs) {
            stack.push_back(k);
            stack.push_back(x);
        }
        seen.push_back(std::move(v));
    }
    for (const ValuePtr& v : seen) {
        v->items.clear();
        v->pairs.clear();
    }
    return text;
}

// (invocation, inputs decoded to text, outcome, result text) of every call of every function.
std::vector<std::string> describeCalls(const Database& db) {
    std::vector<std::string> out;
    Snapshot snap = db.snapshot();
    for (const FunctionInfo& f : db.functions()) {
        CallView v;
        for (CallCursor c = snap.calls(f.id); c.next(v);) {
            std::string line = f.qualname + "#" + std::to_string(v.key.invocation) + " " +
                               textThenFree(decodeValue(v.inputs, snap.payloadResolver(v, Section::Inputs))) + " -> " +
                               std::to_string(int(v.outcome));
            if (v.outcome == Outcome::Returned) line += " " + textThenFree(decodeValue(v.result, snap.payloadResolver(v, Section::Result)));
            if (v.outcome == Outcome::Raised) line += " " + std::string(v.exceptionType) + ": " + std::string(v.exceptionMessage);
            line += " s" + std::to_string(v.startNs) + " d" + std::to_string(v.durationNs);
            out.push_back(line);
        }
    }
    return out;
}

TEST(MergeV2, GivenAV1FixtureAndAV2Writer_WhenMerged_ThenTheOutputIsV2AndEveryCallReadsBackEqual) {
    TempDir tmp;
    fs::copy(v1Fixture("values"), tmp.sub("values"), fs::copy_options::recursive);
    const std::string v1 = tmp.sub("values/main"), v2 = tmp.sub("v2");
    {
        Writer writer(optionsFor(v2), testWriterInfo());
        FunctionInfo fn;
        fn.id = 0;
        fn.qualname = "g";
        writer.submitFunction(fn);
        for (uint64_t i = 1; i <= 200; ++i) {
            writer.submitEntry(CallKey{0, i}, arrayEntry(1000), payloads({std::string(1000, char(i % 5))}));
            std::vector<Payload> same;
            same.push_back(Payload::sameAs(0));
            writer.submitOutcome(CallKey{0, i}, arrayOutcome(1000), std::move(same));
        }
    }
    const std::vector<std::string> before1 = describeCalls(Database::open(v1));
    const std::vector<std::string> before2 = describeCalls(Database::open(v2));
    ASSERT_GT(before1.size(), 100u);
    MergeResult r = mergeWriters(tmp.sub("out"), {{v1, "values"}, {v2, "fresh"}});
    EXPECT_EQ(r.writers, 2u);
    EXPECT_EQ(r.calls, before1.size() + before2.size());
    Database out = Database::open(tmp.sub("out"));
    EXPECT_EQ(out.formatVersion(), format::kFormatVersion);
    std::vector<std::string> after = describeCalls(out);
    std::vector<std::string> expected = before1;
    // The merged functions of the v2 source keep their qualname; ids moved.
    expected.insert(expected.end(), before2.begin(), before2.end());
    expectSameCalls(after, expected);
    EXPECT_EQ(out.sizes().blobs, 8u + 5u);  // v1's 8 distinct blobs, v2's 5 distinct payloads: once each
    // A merge of the merge is idempotent and still equal.
    mergeWriters(tmp.sub("again"), {{tmp.sub("out"), ""}});
    expectSameCalls(describeCalls(Database::open(tmp.sub("again"))), expected);
}

TEST(MergeV2, GivenAFullFileSystem_WhenMerging_ThenStoreErrorSaysItIsFullAndNothingPartialIsLeft) {
    ReadOnlyPlace place(2 << 20);  // a 2 MiB tmpfs (root only)
    if (!place.isTmpfs()) GTEST_SKIP() << "needs a small tmpfs (root)";
    TempDir tmp;
    {
        Writer writer(optionsFor(tmp.sub("big")), testWriterInfo());
        FunctionInfo fn;
        fn.id = 1;
        fn.qualname = "big";
        writer.submitFunction(fn);
        for (uint64_t i = 1; i <= 400; ++i) {
            std::string bytes(20000, '\0');
            std::mt19937_64 rng(i);
            for (auto& c : bytes) c = char(rng());
            writer.submitEntry(CallKey{1, i}, arrayEntry(bytes.size()), payloads({bytes}));
        }
    }
    ASSERT_GT(Database::open(tmp.sub("big")).sizes().blobBytes, uint64_t(7) << 20);
    const std::string out = place.path() + "/merged";
    try {
        MergeResult r = mergeWriters(out, {{tmp.sub("big"), "run"}});
        FAIL() << "merge onto a full file system succeeded: " << r.bytes << " bytes, " << r.calls << " calls";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("full"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(fs::is_empty(place.path())) << "left behind: " << fs::directory_iterator(place.path())->path();
}

}  // namespace
}  // namespace callmonitor
