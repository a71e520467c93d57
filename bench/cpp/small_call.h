// The "small call" of the benchmarks, f(1, "two", [3]) returning None, encoded
// the way the capture stage encodes it (python/src/capture/interceptor.cpp):
// header, inputs, empty entry ext, Pending; then Returned, duration, result
// (the empty outcome ext left out). Shared by the Google Benchmarks and the callgrind driver.
#pragma once

#include <cstdint>
#include <string>

#include "callmonitor/call_record.h"
#include "callmonitor/value_writer.h"

namespace callmonitor::bench {

// The inputs value of f(1, "two", [3]): ((1, "two", [3]), {}).
inline void smallInputs(std::string& out) {
    ValueWriter w(out);
    w.beginTuple(2, false);
    w.beginTuple(3, false);
    w.integer(1);
    w.str("two");
    w.beginList(1, false);
    w.integer(3);
    w.beginDict(0, false);
}

// Into `out` (cleared; its capacity reused, as the capture scratch is).
inline void smallEntry(std::string& out, uint64_t startNs) {
    out.clear();
    appendCallHeader(out, startNs, 0, 0);
    smallInputs(out);
    appendEmptyExt(out);
    appendPending(out);
}

inline void smallOutcome(std::string& out, uint64_t durationNs) {
    out.clear();
    appendReturned(out, durationNs);
    ValueWriter(out).none();
}

}  // namespace callmonitor::bench
