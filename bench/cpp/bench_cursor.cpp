// Reading format v2: streaming decode of call headers with CallCursor (the
// target is >= 10 M records/s), and get(fn, n) by key.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <random>

#include "callmonitor/database.h"
#include "callmonitor/writer.h"
#include "small_call.h"

namespace callmonitor {
namespace {

namespace fs = std::filesystem;

// 1,000,000 small calls f(1, "two", [3]) of one function, through a lane.
struct SmallCallsDb {
    std::string dir;
    static constexpr uint64_t kCalls = 1000000;
    SmallCallsDb() {
        std::string tmpl = (fs::temp_directory_path() / "callmonitor-bench-XXXXXX").string();
        dir = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
        WriterOptions o;
        o.directory = dir;
        o.initialMapSize = uint64_t(1) << 30;
        Writer writer(o, WriterInfo{});
        Writer::Lane* lane = writer.openLane();
        std::string entry, outcome;
        for (uint64_t i = 1; i <= kCalls; ++i) {
            bench::smallEntry(entry, 1000000000 + 1000 * i);
            writer.submitEntry(lane, format::CallKey{1, i}, entry);
            bench::smallOutcome(outcome, 700);
            writer.submitOutcome(lane, format::CallKey{1, i}, outcome);
            if (!writer.hasRoom()) writer.waitForRoom();
        }
    }
    ~SmallCallsDb() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    static const SmallCallsDb& get() {
        static SmallCallsDb db;
        return db;
    }
};

// Every call's header fields parsed (start, thread, caller, inputs and
// result views, outcome, duration, ext): the streaming reader's loop.
void BM_CursorDecodeCallHeaders(benchmark::State& state) {
    Database db = Database::open(SmallCallsDb::get().dir);
    uint64_t n = 0;
    for (auto _ : state) {
        Snapshot snap = db.snapshot();
        CallView v;
        uint64_t sum = 0;
        for (CallCursor c = snap.calls(1); c.next(v);) sum += v.startNs + v.durationNs;
        benchmark::DoNotOptimize(sum);
        n += SmallCallsDb::kCalls;
    }
    state.SetItemsProcessed(int64_t(n));
}
BENCHMARK(BM_CursorDecodeCallHeaders)->Unit(benchmark::kMillisecond);

// Keys and raw records only (nextRaw): the chunk framing walk.
void BM_CursorRawRecords(benchmark::State& state) {
    Database db = Database::open(SmallCallsDb::get().dir);
    uint64_t n = 0;
    for (auto _ : state) {
        Snapshot snap = db.snapshot();
        CallView v;
        uint64_t sum = 0;
        for (CallCursor c = snap.calls(1); c.nextRaw(v);) sum += v.record.size();
        benchmark::DoNotOptimize(sum);
        n += SmallCallsDb::kCalls;
    }
    state.SetItemsProcessed(int64_t(n));
}
BENCHMARK(BM_CursorRawRecords)->Unit(benchmark::kMillisecond);

// call(key) of a random call inside one snapshot: seek + short chunk scan.
void BM_CallByKeyInChunks(benchmark::State& state) {
    Database db = Database::open(SmallCallsDb::get().dir);
    Snapshot snap = db.snapshot();
    std::mt19937_64 rng(1);
    for (auto _ : state) {
        CallView v = snap.call(format::CallKey{1, 1 + rng() % SmallCallsDb::kCalls});
        benchmark::DoNotOptimize(v.inputs.data());
    }
}
BENCHMARK(BM_CallByKeyInChunks);

}  // namespace
}  // namespace callmonitor
