// Inner-call lists: bytes (layout drawn in include/callmonitor/inner_calls.h)
// and the per-site aggregation behind `callmonitor profile`.
#include "callmonitor/inner_calls.h"

#include <algorithm>
#include <cmath>

#include "callmonitor/errors.h"
#include "codec/varint.h"

namespace callmonitor {

void appendInnerCalls(std::string& out, const InnerCalls& calls) {
    out.push_back(static_cast<char>(kInnerCallsVersion));
    appendVarint(out, calls.entries.size());
    uint64_t previous = 0;
    for (const InnerCallEntry& e : calls.entries) {
        uint64_t start = std::max(e.startNs, previous);  // start order is the contract; never a negative delta
        appendVarint(out, e.site);
        appendVarint(out, e.raised ? 1 : 0);
        appendVarint(out, start - previous);
        appendVarint(out, e.durationNs);
        previous = start;
    }
    appendVarint(out, calls.summed.size());
    for (const InnerCallSum& s : calls.summed) {
        appendVarint(out, s.site);
        appendVarint(out, s.count);
        appendVarint(out, s.totalNs);
    }
}

namespace {

struct Cursor {
    const uint8_t* p;
    const uint8_t* end;
    const uint8_t* begin;

    uint64_t varint(const char* what) {
        uint64_t v;
        if (!readVarint(p, end, v))
            throw CorruptError(std::string("inner calls: truncated or bad varint (") + what + ") at byte " +
                               std::to_string(p - begin));
        return v;
    }
    uint32_t site() {
        uint64_t v = varint("site");
        if (v > 0xFFFFFFFFu) throw CorruptError("inner calls: site index over 2^32 at byte " + std::to_string(p - begin));
        return static_cast<uint32_t>(v);
    }
    // A count of items of at least `minBytes` each: bounded by what is left (hostile input).
    uint64_t count(const char* what, size_t minBytes) {
        uint64_t n = varint(what);
        if (n > static_cast<uint64_t>(end - p) / minBytes)
            throw CorruptError(std::string("inner calls: ") + what + " count " + std::to_string(n) +
                               " exceeds the bytes left");
        return n;
    }
};

}  // namespace

InnerCalls parseInnerCalls(std::string_view bytes) {
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    Cursor c{data, data + bytes.size(), data};
    if (bytes.empty()) throw CorruptError("inner calls: empty");
    if (*c.p != kInnerCallsVersion)
        throw CorruptError("inner calls: unknown version " + std::to_string(*c.p) + " (this reader knows 1)");
    ++c.p;
    InnerCalls out;
    uint64_t n = c.count("entries", 4);
    out.entries.reserve(n);
    uint64_t start = 0;
    for (uint64_t i = 0; i < n; ++i) {
        InnerCallEntry e;
        e.site = c.site();
        uint64_t flags = c.varint("flags");
        if (flags > 1) throw CorruptError("inner calls: unknown flags " + std::to_string(flags));
        e.raised = flags & 1;
        uint64_t delta = c.varint("start");
        if (delta > UINT64_MAX - start) throw CorruptError("inner calls: start time overflows");
        start += delta;
        e.startNs = start;
        e.durationNs = c.varint("duration");
        out.entries.push_back(e);
    }
    uint64_t m = c.count("summed", 3);
    out.summed.reserve(m);
    for (uint64_t i = 0; i < m; ++i) {
        InnerCallSum s;
        s.site = c.site();
        s.count = c.varint("count");
        s.totalNs = c.varint("total");
        out.summed.push_back(s);
    }
    if (c.p != c.end)
        throw CorruptError("inner calls: " + std::to_string(c.end - c.p) + " trailing bytes");
    return out;
}

void SiteProfileBuilder::add(const InnerCalls& calls) {
    ++invocations_;
    std::vector<uint32_t> seen;
    auto at = [&](uint32_t site) -> Site& {
        if (site >= sites_.size()) sites_.resize(static_cast<size_t>(site) + 1);
        Site& s = sites_[site];
        if (std::find(seen.begin(), seen.end(), site) == seen.end()) {
            seen.push_back(site);
            ++s.invocations;
        }
        return s;
    };
    for (const InnerCallEntry& e : calls.entries) {
        Site& s = at(e.site);
        s.durations.push_back(e.durationNs);
        s.count += 1;
        s.raised += e.raised ? 1 : 0;
        s.totalNs += e.durationNs;
    }
    for (const InnerCallSum& sum : calls.summed) {
        Site& s = at(sum.site);
        s.count += sum.count;
        s.summed += sum.count;
        s.totalNs += sum.totalNs;
    }
}

namespace {

// Nearest rank: the smallest value with at least p% of the values at or below it.
uint64_t nearestRank(const std::vector<uint64_t>& sorted, double p) {
    if (sorted.empty()) return 0;
    auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

std::vector<SiteStats> SiteProfileBuilder::finish() const {
    std::vector<SiteStats> out;
    for (uint32_t i = 0; i < sites_.size(); ++i) {
        const Site& s = sites_[i];
        if (!s.count) continue;
        std::vector<uint64_t> sorted = s.durations;
        std::sort(sorted.begin(), sorted.end());
        SiteStats r;
        r.site = i;
        r.count = s.count;
        r.raised = s.raised;
        r.totalNs = s.totalNs;
        r.meanNs = static_cast<double>(s.totalNs) / static_cast<double>(s.count);
        r.p50Ns = nearestRank(sorted, 50);
        r.p95Ns = nearestRank(sorted, 95);
        r.maxNs = sorted.empty() ? 0 : sorted.back();
        r.summed = s.summed;
        r.invocations = s.invocations;
        out.push_back(r);
    }
    return out;
}

}  // namespace callmonitor
