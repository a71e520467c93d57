// The capture stage's clock: nanoseconds since the session's origin, read
// twice per call. On x86-64 with an invariant TSC it reads the TSC (~10 ns
// here, against ~28 ns for clock_gettime) and converts with a rate measured
// against CLOCK_MONOTONIC, re-anchored about once a second so the error does
// not accumulate. Elsewhere it reads CLOCK_MONOTONIC. Not thread-safe by
// itself: callers hold the GIL.
#pragma once

#include <cstdint>

namespace callmonitor::py {

class CallClock {
public:
    // Starts the clock; `originNs` is the CLOCK_MONOTONIC value that 0 means.
    void start(int64_t originNs);
    uint64_t nowNs() {
        if (!useTsc_) return monotonicSinceOrigin();
        uint64_t ticks = readTsc();
        if (ticks - anchorTicks_ > reanchorTicks_) reanchor(ticks);
        // Through int64: one conversion instruction (to uint64 needs a range fix-up).
        const int64_t ns = static_cast<int64_t>(static_cast<double>(static_cast<int64_t>(ticks - anchorTicks_)) * nsPerTick_);
        return anchorNs_ + static_cast<uint64_t>(ns > 0 ? ns : 0);
    }

    static int64_t monotonicNs();

private:
    static uint64_t readTsc();
    uint64_t monotonicSinceOrigin() const;
    void reanchor(uint64_t ticks);

    bool useTsc_ = false;
    int64_t originNs_ = 0;
    double nsPerTick_ = 1.0;
    uint64_t anchorTicks_ = 0, anchorNs_ = 0;    // last re-anchor point
    uint64_t firstTicks_ = 0, firstNs_ = 0;      // calibration start (rate baseline)
    uint64_t reanchorTicks_ = ~uint64_t(0);
};

}  // namespace callmonitor::py
