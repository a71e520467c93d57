// Store and read benchmarks: the caller's cost of submitting a record, the
// writer thread's commit throughput, and the latency of reading one call.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <random>

#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/value_writer.h"
#include "callmonitor/writer.h"

namespace callmonitor {
namespace {

namespace fs = std::filesystem;

struct BenchDir {
    std::string path;
    BenchDir() {
        std::string tmpl = (fs::temp_directory_path() / "callmonitor-bench-XXXXXX").string();
        path = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
    }
    ~BenchDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// A Pending call record of exactly `size` bytes: f(b"...") with padding.
std::string recordOfSize(size_t size) {
    for (size_t pad = 0;; ++pad) {
        std::string out;
        appendCallHeader(out, 123456789, 0, 0);
        ValueWriter w(out);
        w.beginTuple(2, false);
        w.beginTuple(1, false);
        w.bytes(std::string(pad, 'x'));
        w.beginDict(0, false);
        appendEmptyExt(out);
        appendPending(out);
        if (out.size() >= size) return out;
    }
}

std::string returned() {
    std::string out;
    appendReturned(out, 1500);
    ValueWriter(out).integer(7);
    appendEmptyExt(out);
    return out;
}

WriterOptions options(const std::string& dir) {
    WriterOptions o;
    o.directory = dir;
    o.initialMapSize = uint64_t(1) << 30;
    return o;
}

// Caller side: one submitEntry of a 40-byte record (the writer commits in
// the background with default bounds).
void BM_SubmitEntry40B(benchmark::State& state) {
    BenchDir dir;
    Writer writer(options(dir.path), WriterInfo{});
    const std::string record = recordOfSize(40);
    uint64_t i = 0;
    for (auto _ : state) {
        writer.submitEntry(format::CallKey{1, ++i}, record);
        if (!writer.hasRoom()) writer.waitForRoom();
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    writer.close();
}
BENCHMARK(BM_SubmitEntry40B);

// Caller side of a whole call: entry before, outcome after.
void BM_SubmitEntryAndOutcome40B(benchmark::State& state) {
    BenchDir dir;
    Writer writer(options(dir.path), WriterInfo{});
    const std::string record = recordOfSize(40);
    const std::string outcome = returned();
    uint64_t i = 0;
    for (auto _ : state) {
        format::CallKey key{1, ++i};
        writer.submitEntry(key, record);
        writer.submitOutcome(key, outcome);
        if (!writer.hasRoom()) writer.waitForRoom();
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    writer.close();
}
BENCHMARK(BM_SubmitEntryAndOutcome40B);

// Writer thread alone: 1,000,000 records of 40 bytes (entry + outcome merged)
// are buffered first, then timed from flush() to commit: one big batch.
void BM_CommitOneBatch(benchmark::State& state) {
    const uint64_t n = uint64_t(state.range(0));
    const std::string record = recordOfSize(40);
    const std::string outcome = returned();
    for (auto _ : state) {
        state.PauseTiming();
        BenchDir dir;
        WriterOptions o = options(dir.path);
        o.maxBufferBytes = uint64_t(4) << 30;  // no early commit
        o.flushInterval = std::chrono::hours(1);
        Writer writer(o, WriterInfo{});
        for (uint64_t i = 1; i <= n; ++i) {
            writer.submitEntry(format::CallKey{uint32_t(i % 4), i}, record);
            writer.submitOutcome(format::CallKey{uint32_t(i % 4), i}, outcome);
        }
        state.ResumeTiming();
        if (!writer.flush()) state.SkipWithError("flush failed");
        state.PauseTiming();
        writer.close();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(int64_t(state.iterations() * n));
}
BENCHMARK(BM_CommitOneBatch)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// End to end with default bounds: submit n calls, then flush.
void BM_SubmitAndFlushEndToEnd(benchmark::State& state) {
    const uint64_t n = uint64_t(state.range(0));
    const std::string record = recordOfSize(40);
    const std::string outcome = returned();
    for (auto _ : state) {
        state.PauseTiming();
        BenchDir dir;
        Writer writer(options(dir.path), WriterInfo{});
        state.ResumeTiming();
        for (uint64_t i = 1; i <= n; ++i) {
            writer.submitEntry(format::CallKey{1, i}, record);
            writer.submitOutcome(format::CallKey{1, i}, outcome);
            if (!writer.hasRoom()) writer.waitForRoom();
        }
        if (!writer.flush()) state.SkipWithError("flush failed");
        state.PauseTiming();
        writer.close();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(int64_t(state.iterations() * n));
}
BENCHMARK(BM_SubmitAndFlushEndToEnd)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

struct ReadFixture {
    BenchDir dir;
    uint64_t calls = 100000;
    ReadFixture() {
        Writer writer(options(dir.path), WriterInfo{});
        const std::string record = recordOfSize(40);
        const std::string outcome = returned();
        for (uint64_t i = 1; i <= calls; ++i) {
            writer.submitEntry(format::CallKey{1, i}, record);
            writer.submitOutcome(format::CallKey{1, i}, outcome);
        }
        writer.close();
    }
};

// snapshot() + call() of a random small call: what db.get costs in C++.
void BM_SnapshotCall(benchmark::State& state) {
    ReadFixture fx;
    Database db = Database::open(fx.dir.path);
    std::mt19937_64 rng(1);
    for (auto _ : state) {
        Snapshot snap = db.snapshot();
        CallView v = snap.call(format::CallKey{1, 1 + rng() % fx.calls});
        benchmark::DoNotOptimize(v.inputs.data());
    }
}
BENCHMARK(BM_SnapshotCall);

// call() inside one long-lived snapshot.
void BM_CallInOneSnapshot(benchmark::State& state) {
    ReadFixture fx;
    Database db = Database::open(fx.dir.path);
    Snapshot snap = db.snapshot();
    std::mt19937_64 rng(1);
    for (auto _ : state) {
        CallView v = snap.call(format::CallKey{1, 1 + rng() % fx.calls});
        benchmark::DoNotOptimize(v.inputs.data());
    }
}
BENCHMARK(BM_CallInOneSnapshot);

// Open a 1,000,000-call database and count its calls (what `print(db)` needs).
void BM_OpenAndCountMillionCalls(benchmark::State& state) {
    BenchDir dir;
    {
        Writer writer(options(dir.path), WriterInfo{});
        const std::string record = recordOfSize(40);
        for (uint64_t i = 1; i <= 1000000; ++i) {
            writer.submitEntry(format::CallKey{uint32_t(i % 10), i}, record);
            if (!writer.hasRoom()) writer.waitForRoom();
        }
    }
    for (auto _ : state) {
        Database db = Database::open(dir.path);
        Snapshot snap = db.snapshot();
        uint64_t total = 0;
        for (uint32_t f = 0; f < 10; ++f) total += snap.lastInvocation(f);
        benchmark::DoNotOptimize(total);
    }
}
BENCHMARK(BM_OpenAndCountMillionCalls)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace callmonitor
