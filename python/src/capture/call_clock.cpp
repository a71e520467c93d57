#include "capture/call_clock.h"

#include <time.h>

#include <cstring>
#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace callmonitor::py {
namespace {

// An invariant TSC ticks at a constant rate across frequency changes and
// sleep states; Linux reports it as constant_tsc + nonstop_tsc.
bool invariantTsc() {
#if defined(__x86_64__)
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) == 0)
            return line.find(" constant_tsc") != std::string::npos && line.find(" nonstop_tsc") != std::string::npos;
    }
#endif
    return false;
}

}  // namespace

int64_t CallClock::monotonicNs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint64_t CallClock::readTsc() {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return 0;
#endif
}

uint64_t CallClock::monotonicSinceOrigin() const {
    int64_t d = monotonicNs() - originNs_;
    return d > 0 ? static_cast<uint64_t>(d) : 0;
}

void CallClock::start(int64_t originNs) {
    originNs_ = originNs;
    useTsc_ = invariantTsc();
    if (!useTsc_) return;
    // A first rate from a 2 ms window; re-anchoring refines it over time.
    uint64_t c0 = readTsc();
    uint64_t t0 = monotonicSinceOrigin();
    uint64_t t1, c1;
    do {
        t1 = monotonicSinceOrigin();
        c1 = readTsc();
    } while (t1 - t0 < 2000000);
    if (c1 <= c0) {
        useTsc_ = false;
        return;
    }
    nsPerTick_ = static_cast<double>(t1 - t0) / static_cast<double>(c1 - c0);
    firstTicks_ = c0;
    firstNs_ = t0;
    anchorTicks_ = c1;
    anchorNs_ = t1;
    reanchorTicks_ = static_cast<uint64_t>(1e9 / nsPerTick_);  // about a second
}

void CallClock::reanchor(uint64_t ticks) {
    uint64_t now = monotonicSinceOrigin();
    if (ticks > firstTicks_ && now > firstNs_)
        nsPerTick_ = static_cast<double>(now - firstNs_) / static_cast<double>(ticks - firstTicks_);
    anchorTicks_ = ticks;
    anchorNs_ = now;
}

}  // namespace callmonitor::py
