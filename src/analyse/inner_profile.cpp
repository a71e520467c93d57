// profileInnerCalls(): the per-call-site profile of a function's inner calls
// (@intercept(inner=True)) over every recorded invocation, streamed with the
// CallCursor from the outcome ext field InnerCalls.
#include "callmonitor/inner_profile.h"

#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/errors.h"

namespace callmonitor::analyse {

void addInnerCalls(const Database& db, uint32_t function, SiteProfileBuilder& builder, InnerProfileCounts& counts) {
    Snapshot snap = db.snapshot();  // one short read transaction per function
    CallCursor cursor = snap.calls(function);
    CallView v;
    while (cursor.nextRaw(v)) {  // moves on even when a record below does not parse
        ++counts.calls;
        try {
            const std::string_view record = v.record;
            parseCallRecord(record, v.key, v.formatVersion, v);
            if (v.innerCalls.empty()) {
                ++counts.withoutInnerCalls;
                continue;
            }
            builder.add(parseInnerCalls(v.innerCalls));
        } catch (const CorruptError&) {  // DecodeError too: count it, keep the rest
            ++counts.undecodable;
        }
    }
}

}  // namespace callmonitor::analyse
