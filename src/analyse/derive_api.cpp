// deriveApi(): feeds ApiAggregator from one writer environment through the
// public read API (format v1: one record per call; no call sites or labels
// yet). The v2 run-level reader replaces this loop by its streaming
// iterator; the aggregator does not change.
#include <algorithm>

#include "callmonitor/api_model.h"
#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/errors.h"

namespace callmonitor::analyse {

std::vector<FunctionApi> deriveApi(const Database& db, const ApiOptions& options,
                                   const std::vector<uint32_t>& only) {
    ApiNames names;
    names.callers = db.callers();
    std::vector<FunctionApi> out;
    for (const FunctionInfo& f : db.functions()) {
        if (!only.empty() && std::find(only.begin(), only.end(), f.id) == only.end()) continue;
        ApiAggregator aggregator(f, options);
        // One snapshot per function keeps each read transaction short.
        Snapshot snap = db.snapshot();
        for (uint64_t inv : snap.invocations(f.id)) {
            format::CallKey key{f.id, inv};
            std::optional<std::string_view> record = snap.record(key);
            if (!record) continue;
            CallSample sample;
            try {
                CallView v = parseCallRecord(*record, key);
                sample.inputs = v.inputs;
                sample.outcome = v.outcome;
                sample.result = v.result;
                sample.exceptionType = v.exceptionType;
                sample.durationNs = v.durationNs;
                sample.callerModule = v.caller;
            } catch (const DecodeError&) {
                // empty inputs: the aggregator counts the call as undecodable
            }
            aggregator.add(sample);
        }
        out.push_back(aggregator.finish(names));
    }
    return out;
}

}  // namespace callmonitor::analyse
