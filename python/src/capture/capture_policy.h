// The capture policy: which calls of a function are recorded (issue 9,
// "record in production, forever"). The one place that decides; every front
// end (the Interceptor's vectorcall, watch, tracing, inner calls) asks it.
// Pure C++ (no Python.h): unit-tested on its own (tests/cpp/capture_policy_test.cpp),
// and the reader asks the same code why a call is missing.
//
// A call is decided in two steps:
//   before(n)          at the call, before anything is encoded: first=, every=,
//                      sample=, max_calls= (a dropped call costs a few compares);
//   after(raised, ns)  at its end, for keep="raised" and slower_than= (the
//                      inputs are captured before the call as always and held
//                      until then; dropped when the call does not qualify).
// max_db_bytes= is the session's (Recorder), max_bytes= and exclude= shape
// what a kept call stores (PolicyInputs).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace callmonitor::py {

// Why a call was not recorded. The names are the option names users write
// (and what meta["policy"] stores in "dropped"); one table: dropReasonName().
enum class DropReason : uint8_t {
    Kept = 0,
    First,       // first=N: invocation > N
    Every,       // every=K: (n - 1) % K != 0
    Sample,      // sample=P: the seeded draw for (function, n) was >= P
    MaxCalls,    // max_calls=N: N calls kept already
    KeepRaised,  // keep="raised": the call returned
    SlowerThan,  // slower_than=S: the call took S seconds or less
    MaxDbBytes,  // max_db_bytes=B: the database reached B bytes; recording stopped
    Count
};
constexpr size_t kDropReasons = static_cast<size_t>(DropReason::Count);
const char* dropReasonName(DropReason r);

enum class Keep : uint8_t { All, Raised };

struct PolicyOptions {
    uint64_t maxCalls = 0;      // 0: no limit
    uint64_t first = 0;         // 0: no limit
    uint64_t every = 1;         // 1: every call
    double sample = 1.0;        // probability a call is kept, in [0, 1]
    uint64_t maxBytes = 0;      // per value; 0: no limit (PolicyInputs)
    Keep keep = Keep::All;
    uint64_t slowerThanNs = 0;  // 0: no bound
    bool hasSlowerThan = false; // slower_than=0 keeps calls that took any time at all

    // True when nothing is dropped before the call (the fast path skips before()).
    bool keepsEveryCallBefore() const { return maxCalls == 0 && first == 0 && every <= 1 && sample >= 1.0; }
    // keep="raised" / slower_than=: the entry is held and decided at the end.
    bool decidedAtFinish() const { return keep == Keep::Raised || hasSlowerThan; }
    // "every=5, keep='raised'": the options that drop calls, as a user writes them ("" for none).
    std::string describe() const;
};

// The options as JSON, as meta["policy"] stores them per function (docs/format.md).
std::string policyOptionsJson(const PolicyOptions& o, const std::vector<std::string>& exclude);

// The seeded draw of sample=P: a pure function of (seed, function, n), so the
// same seed keeps the same calls and a reader can tell which ones.
uint64_t functionHash(const std::string& fullName);  // FNV-1a 64 of "module.qualname"
bool sampled(uint64_t seed, uint64_t function, uint64_t invocation, double p);

// Calls seen and kept by one function, and dropped per reason. Written on
// the capturing thread (GIL held: one writer at a time, plain load+store),
// read by the writer thread when it stores meta["policy"].
struct PolicyCounts {
    std::atomic<uint64_t> seen{0}, kept{0};
    std::atomic<uint64_t> dropped[kDropReasons] = {};

    void add(std::atomic<uint64_t>& c) { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
    void count(DropReason r) {
        if (r == DropReason::Kept) add(kept);
        else add(dropped[static_cast<size_t>(r)]);
    }
    // A call kept so far: one more than the limit would allow (max_calls=).
    uint64_t keptSoFar() const { return kept.load(std::memory_order_relaxed); }
};

// One function's policy in one session.
class CapturePolicy {
public:
    CapturePolicy(const PolicyOptions& options, uint64_t seed, uint64_t function)
        : options_(options), seed_(seed), function_(function), fast_(options.keepsEveryCallBefore()) {}

    const PolicyOptions& options() const { return options_; }
    // At the call (invocation n, counted from 1; `kept` calls kept so far).
    DropReason before(uint64_t n, uint64_t kept) const {
        if (fast_) return DropReason::Kept;
        return beforeSlow(n, kept);
    }
    // At the end of a call that passed before() (only when decidedAtFinish()).
    DropReason after(bool raised, uint64_t durationNs, uint64_t kept) const;
    // Why before() drops n, as the reader says it: "every=5 keeps 1, 6, 11, ...".
    std::string explain(DropReason r, uint64_t n) const;

private:
    DropReason beforeSlow(uint64_t n, uint64_t kept) const;
    PolicyOptions options_;
    uint64_t seed_, function_;
    bool fast_;
};

// The counts of every function (by function id) and the policy text, for
// meta["policy"]: one per writer (a writer's calls: its invocation numbers,
// first=, every=, max_calls= are per writer), and the session's, which holds
// each function's options (the writers' ledgers name it as `options`) and
// whether recording stopped at max_db_bytes. Entries have stable addresses
// (a deque); growth takes the lock that the writer thread reads under.
class PolicyLedger {
public:
    // `session`: the ledger holding the options, the seed and the stop (a
    // writer's ledger); null: this one is the session's.
    void reset(uint64_t seed, uint64_t maxDbBytes, PolicyLedger* session = nullptr);
    // The counts of function `fid` (created on first use). `options`: its
    // policy as JSON (the session's ledger; "" in a writer's). A function
    // intercepted twice with different options keeps the first as its
    // `options` and lists the others under `also`.
    PolicyCounts& counts(uint32_t fid, const std::string& options);
    // Recording stopped at max_db_bytes (first call not recorded: `invocation` of `fid`).
    void stopped(uint32_t fid, uint64_t invocation);
    bool isStopped() const { return stopped_.load(std::memory_order_relaxed); }
    // JSON for meta["policy"] (docs/format.md) into *out; false when
    // unchanged since it was last written (out null: only says whether it changed).
    bool snapshot(std::string* out);

private:
    struct Entry {
        bool used = false;
        std::string options;
        std::vector<std::string> also;  // other interceptors' options of the same function
        PolicyCounts counts;
    };
    mutable std::mutex mutex_;
    std::deque<Entry> entries_;
    PolicyLedger* session_ = nullptr;
    uint64_t seed_ = 0, maxDbBytes_ = 0;
    std::atomic<bool> stopped_{false};
    uint32_t stoppedFid_ = 0;
    uint64_t stoppedInvocation_ = 0;
    uint64_t lastSum_ = ~uint64_t(0);  // sum of all counts at the last snapshot
    uint64_t sumLocked() const;
    // Appends `fid`'s options (and "also") as JSON; the session's lock held.
    void appendOptionsLocked(std::string& out, uint32_t fid) const;
};

}  // namespace callmonitor::py
