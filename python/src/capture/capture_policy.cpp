#include "capture/capture_policy.h"

#include <cmath>
#include <cstdio>

namespace callmonitor::py {

const char* dropReasonName(DropReason r) {
    switch (r) {
        case DropReason::Kept: return "kept";
        case DropReason::First: return "first";
        case DropReason::Every: return "every";
        case DropReason::Sample: return "sample";
        case DropReason::MaxCalls: return "max_calls";
        case DropReason::KeepRaised: return "keep";
        case DropReason::SlowerThan: return "slower_than";
        case DropReason::MaxDbBytes: return "max_db_bytes";
        case DropReason::Count: break;
    }
    return "?";
}

namespace {

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return buf;
}

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void appendJsonString(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

}  // namespace

std::string PolicyOptions::describe() const {
    std::string out;
    auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
    if (first) add("first=" + std::to_string(first));
    if (every > 1) add("every=" + std::to_string(every));
    if (sample < 1.0) add("sample=" + number(sample));
    if (maxCalls) add("max_calls=" + std::to_string(maxCalls));
    if (keep == Keep::Raised) add("keep='raised'");
    if (hasSlowerThan) add("slower_than=" + number(static_cast<double>(slowerThanNs) / 1e9));
    return out;
}

uint64_t functionHash(const std::string& fullName) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : fullName) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

bool sampled(uint64_t seed, uint64_t function, uint64_t invocation, double p) {
    if (p >= 1.0) return true;
    if (p <= 0.0) return false;
    const uint64_t draw = splitmix64(splitmix64(seed ^ function) ^ invocation);
    // draw / 2^64 < p, without the rounding of a double near 1.
    return static_cast<double>(draw >> 11) < std::ldexp(p, 53);
}

DropReason CapturePolicy::beforeSlow(uint64_t n, uint64_t kept) const {
    if (options_.first && n > options_.first) return DropReason::First;
    if (options_.every > 1 && (n - 1) % options_.every != 0) return DropReason::Every;
    if (options_.sample < 1.0 && !sampled(seed_, function_, n, options_.sample)) return DropReason::Sample;
    if (options_.maxCalls && kept >= options_.maxCalls) return DropReason::MaxCalls;
    return DropReason::Kept;
}

DropReason CapturePolicy::after(bool raised, uint64_t durationNs, uint64_t kept) const {
    if (options_.keep == Keep::Raised && !raised) return DropReason::KeepRaised;
    if (options_.hasSlowerThan && durationNs <= options_.slowerThanNs) return DropReason::SlowerThan;
    // Calls made inside this one may have been kept meanwhile.
    if (options_.maxCalls && kept >= options_.maxCalls) return DropReason::MaxCalls;
    return DropReason::Kept;
}

std::string CapturePolicy::explain(DropReason r, uint64_t n) const {
    const PolicyOptions& o = options_;
    switch (r) {
        case DropReason::First:
            return "first=" + std::to_string(o.first) + " keeps calls 1 to " + std::to_string(o.first);
        case DropReason::Every: {
            const uint64_t k = o.every;
            return "every=" + std::to_string(k) + " keeps 1, " + std::to_string(1 + k) + ", " +
                   std::to_string(1 + 2 * k) + ", ... (call " + std::to_string(n) + " is not one of them)";
        }
        case DropReason::Sample:
            return "sample=" + number(o.sample) + " did not draw it (seed " + std::to_string(seed_) + ")";
        case DropReason::MaxCalls:
            return "max_calls=" + std::to_string(o.maxCalls) + " calls were kept before it";
        case DropReason::KeepRaised: return "keep='raised' keeps only calls that raised; this one returned";
        case DropReason::SlowerThan:
            return "slower_than=" + number(static_cast<double>(o.slowerThanNs) / 1e9) +
                   " keeps only calls slower than that; this one was not";
        case DropReason::MaxDbBytes: return "the database reached max_db_bytes and recording stopped";
        case DropReason::Kept:
        case DropReason::Count: break;
    }
    return "";
}

void PolicyLedger::reset(uint64_t seed, uint64_t maxDbBytes, PolicyLedger* session) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.clear();
    session_ = session == this ? nullptr : session;
    seed_ = seed;
    maxDbBytes_ = maxDbBytes;
    stopped_.store(false);
    stoppedFid_ = 0;
    stoppedInvocation_ = 0;
    lastSum_ = ~uint64_t(0);
}

PolicyCounts& PolicyLedger::counts(uint32_t fid, const std::string& options) {
    if (fid < entries_.size() && entries_[fid].used && (options.empty() || entries_[fid].options == options))
        return entries_[fid].counts;
    std::lock_guard<std::mutex> lock(mutex_);
    while (entries_.size() <= fid) entries_.emplace_back();
    Entry& e = entries_[fid];
    if (!e.used) {
        e.used = true;
        e.options = options;
    } else if (!options.empty() && options != e.options) {
        bool known = false;
        for (const std::string& o : e.also) known |= o == options;
        if (!known) e.also.push_back(options);
    }
    return e.counts;
}

void PolicyLedger::stopped(uint32_t fid, uint64_t invocation) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_.load()) return;
    stoppedFid_ = fid;
    stoppedInvocation_ = invocation;
    stopped_.store(true);
}

uint64_t PolicyLedger::sumLocked() const {
    uint64_t sum = stopped_.load() ? 1 : 0;
    if (session_ && session_->isStopped()) sum += 1;
    for (const Entry& e : entries_) sum += e.used + e.counts.seen.load(std::memory_order_relaxed);
    return sum;
}

void PolicyLedger::appendOptionsLocked(std::string& out, uint32_t fid) const {
    const Entry* e = fid < entries_.size() && entries_[fid].used ? &entries_[fid] : nullptr;
    out += e && !e->options.empty() ? e->options : "{}";
    if (!e || e->also.empty()) return;
    out += ",\"also\":[";
    for (size_t i = 0; i < e->also.size(); ++i) out += (i ? "," : "") + e->also[i];
    out += ']';
}

bool PolicyLedger::snapshot(std::string* target) {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t sum = sumLocked();
    if (sum == lastSum_) return false;
    if (!target) return true;
    lastSum_ = sum;
    std::string& out = *target;
    // The session's options, seed and stop; this ledger's counts. Lock
    // order: a writer's ledger, then the session's (which takes no other).
    const PolicyLedger& s = session_ ? *session_ : *this;
    std::unique_lock<std::mutex> sessionLock(s.mutex_, std::defer_lock);
    if (session_) sessionLock.lock();
    // Layout: docs/format.md, meta["policy"].
    out = "{\"seed\":" + std::to_string(s.seed_) + ",\"max_db_bytes\":" + std::to_string(s.maxDbBytes_);
    if (s.stopped_.load()) {
        out += ",\"stopped\":{\"function\":" + std::to_string(s.stoppedFid_) +
               ",\"invocation\":" + std::to_string(s.stoppedInvocation_) + "}";
    }
    out += ",\"functions\":{";
    bool firstEntry = true;
    for (size_t fid = 0; fid < entries_.size(); ++fid) {
        const Entry& e = entries_[fid];
        if (!e.used) continue;
        if (!firstEntry) out += ',';
        firstEntry = false;
        out += '"' + std::to_string(fid) + "\":{\"options\":";
        s.appendOptionsLocked(out, static_cast<uint32_t>(fid));
        out += ",\"seen\":" + std::to_string(e.counts.seen.load(std::memory_order_relaxed));
        out += ",\"kept\":" + std::to_string(e.counts.kept.load(std::memory_order_relaxed));
        out += ",\"dropped\":{";
        bool firstReason = true;
        for (size_t r = 1; r < kDropReasons; ++r) {
            const uint64_t n = e.counts.dropped[r].load(std::memory_order_relaxed);
            if (!n) continue;
            if (!firstReason) out += ',';
            firstReason = false;
            appendJsonString(out, dropReasonName(static_cast<DropReason>(r)));
            out += ':' + std::to_string(n);
        }
        out += "}}";
    }
    out += "}}";
    return true;
}

std::string policyOptionsJson(const PolicyOptions& o, const std::vector<std::string>& exclude) {
    std::string out = "{\"max_calls\":" + std::to_string(o.maxCalls) + ",\"first\":" + std::to_string(o.first) +
                      ",\"every\":" + std::to_string(o.every) + ",\"sample\":" + number(o.sample) +
                      ",\"max_bytes\":" + std::to_string(o.maxBytes) + ",\"keep\":" +
                      (o.keep == Keep::Raised ? "\"raised\"" : "\"all\"") + ",\"slower_than\":" +
                      (o.hasSlowerThan ? number(static_cast<double>(o.slowerThanNs) / 1e9) : "null") +
                      ",\"exclude\":[";
    for (size_t i = 0; i < exclude.size(); ++i) {
        if (i) out += ',';
        appendJsonString(out, exclude[i]);
    }
    return out + "]}";
}

}  // namespace callmonitor::py
