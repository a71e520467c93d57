// The inner calls of one invocation (callmonitor.wrap_calls / flat_profile /
// @intercept(inner=True)) as bytes, and their per-call-site aggregation.
//
// These bytes are the payload that a call record's extension area carries for
// its invocation (format v2; see docs/inner-calls.md): what was called from
// where inside the function, for how long, and whether it raised. Sites are
// the indices of the function's call-site table (callee as written, line),
// which is stored with the function, not per call.
//
//   inner calls := version:u8 = 1
//                  entries:varint   { site:varint  flags:varint  start_delta:varint  duration:varint }*
//                  summed:varint    { site:varint  count:varint  total_ns:varint }*
//
//   entries are in start order; start_delta is the entry's start minus the
//   previous entry's start (the first: minus the invocation's start), in ns;
//   flags bit 0: the call raised (other bits: 0, reserved). `summed` holds,
//   per site, the calls past the recorder's entry limit (only counted and
//   summed, not kept one by one).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace callmonitor {

struct InnerCallEntry {
    uint32_t site = 0;
    bool raised = false;
    uint64_t startNs = 0;      // from the invocation's start
    uint64_t durationNs = 0;
};

struct InnerCallSum {
    uint32_t site = 0;
    uint64_t count = 0;
    uint64_t totalNs = 0;
};

struct InnerCalls {
    std::vector<InnerCallEntry> entries;  // in start order
    std::vector<InnerCallSum> summed;
};

inline constexpr uint8_t kInnerCallsVersion = 1;

// Appends the bytes of `calls` (entries must be in start order) to `out`.
void appendInnerCalls(std::string& out, const InnerCalls& calls);

// Parses bytes made by appendInnerCalls. Throws CorruptError (truncated,
// unknown version, start order broken, trailing bytes).
InnerCalls parseInnerCalls(std::string_view bytes);

// Per call site, over many invocations. Percentiles are nearest-rank over the
// calls kept one by one (summed calls count in count/total/mean only).
struct SiteStats {
    uint32_t site = 0;
    uint64_t count = 0;        // all calls, summed ones included
    uint64_t raised = 0;
    uint64_t totalNs = 0;
    double meanNs = 0;
    uint64_t p50Ns = 0;
    uint64_t p95Ns = 0;
    uint64_t maxNs = 0;
    uint64_t summed = 0;       // calls known only through their site's sum
    uint64_t invocations = 0;  // invocations in which the site was called
};

class SiteProfileBuilder {
public:
    void add(const InnerCalls& calls);
    // One row per site that was called, by site index. Keeps the builder usable.
    std::vector<SiteStats> finish() const;
    uint64_t invocations() const { return invocations_; }

private:
    struct Site {
        std::vector<uint64_t> durations;
        uint64_t count = 0, raised = 0, totalNs = 0, summed = 0, invocations = 0;
    };
    std::vector<Site> sites_;
    uint64_t invocations_ = 0;
};

}  // namespace callmonitor
