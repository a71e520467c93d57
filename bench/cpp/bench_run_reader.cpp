// The run reader's streaming iteration: RunCallCursor over one function's
// calls across writers, through each Snapshot's CallCursor over chunks
// (issue 8 asks >= 10 M call headers/s in C++).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>

#include "callmonitor/call_record.h"
#include "callmonitor/run.h"
#include "callmonitor/value_writer.h"
#include "callmonitor/writer.h"

namespace callmonitor {
namespace {

namespace fs = std::filesystem;

// A run directory of `writers` writers, each with `calls` small calls of one function.
struct BenchRun {
    std::string path;
    BenchRun(int writers, uint64_t calls) {
        std::string tmpl = (fs::temp_directory_path() / "callmonitor-bench-run-XXXXXX").string();
        path = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
        for (int k = 0; k < writers; ++k) {
            WriterInfo info;
            info.writerId = "rank-" + std::to_string(k);
            info.rank = k;
            info.runId = "bench";
            info.startedUnixNs = k;
            WriterOptions o;
            o.directory = path + "/" + info.writerId;
            Writer w(o, info);
            FunctionInfo f;
            f.qualname = f.name = "step";
            f.module = "bench";
            w.submitFunction(f);
            for (uint64_t i = 1; i <= calls; ++i) {
                std::string entry, outcome;
                appendCallHeader(entry, i, 0, 0);
                ValueWriter v(entry);
                v.beginTuple(2, false);
                v.beginTuple(1, false);
                v.integer(int64_t(i));
                v.beginDict(0, false);
                appendEmptyExt(entry);
                appendPending(entry);
                appendReturned(outcome, 10);
                ValueWriter(outcome).integer(0);
                appendEmptyExt(outcome);
                w.submitEntry(format::CallKey{0, i}, entry);
                w.submitOutcome(format::CallKey{0, i}, outcome);
                if (!w.hasRoom()) w.waitForRoom();
            }
            w.close();
        }
    }
    ~BenchRun() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void BM_RunCallCursor(benchmark::State& state) {
    static BenchRun run(4, 250000);
    Run r = Run::open(run.path);
    const std::vector<RunFunction> step = r.resolve("step");
    uint64_t n = 0, sum = 0;
    for (auto _ : state) {
        RunCallCursor c = r.calls(step);
        RunCall call;
        while (c.next(call)) {
            sum += call.view.startNs + call.view.durationNs;
            ++n;
        }
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(int64_t(n));
    state.counters["calls/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RunCallCursor)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace callmonitor
