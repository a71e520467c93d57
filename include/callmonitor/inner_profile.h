// The inner calls of a function recorded with @intercept(inner=True),
// aggregated per call site over its invocations (`callmonitor profile`).
#pragma once

#include <cstdint>

#include "callmonitor/inner_calls.h"

namespace callmonitor {
class Database;

namespace analyse {

struct InnerProfileCounts {
    uint64_t calls = 0;              // invocations seen
    uint64_t withoutInnerCalls = 0;  // pending, or recorded without inner=True
    uint64_t undecodable = 0;        // records or inner-call bytes that did not parse
};

// Adds the inner calls of every recorded invocation of `function` in `db` to
// `builder` (its sites index the function record's innerSites). Several
// writers: call it once per writer with the same builder.
void addInnerCalls(const Database& db, uint32_t function, SiteProfileBuilder& builder, InnerProfileCounts& counts);

}  // namespace analyse
}  // namespace callmonitor
