// deriveApi(): feeds ApiAggregator from one writer environment through the
// public read API: the streaming CallCursor (format v1 and v2), with each
// call's caller module, call site (file:line) and label (v2 ext fields).
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
    for (const SiteInfo& site : db.sites()) {  // ids are dense from 0 (the writer numbers them)
        if (names.sites.size() <= site.id) names.sites.resize(size_t(site.id) + 1);
        names.sites[site.id] = site.file + ":" + std::to_string(site.line);
    }
    names.labels = db.labels();
    std::vector<FunctionApi> out;
    for (const FunctionInfo& f : db.functions()) {
        if (!only.empty() && std::find(only.begin(), only.end(), f.id) == only.end()) continue;
        ApiAggregator aggregator(f, options);
        // One snapshot per function keeps each read transaction short; the
        // cursor streams its calls (v1 and v2) as zero-copy views.
        Snapshot snap = db.snapshot();
        CallCursor cursor = snap.calls(f.id);
        CallView v;
        while (cursor.nextRaw(v)) {  // moves on even when the record below does not parse
            CallSample sample;
            try {
                const std::string_view record = v.record;
                parseCallRecord(record, v.key, v.formatVersion, v);
                sample.inputs = v.inputs;
                sample.outcome = v.outcome;
                sample.result = v.result;
                sample.exceptionType = v.exceptionType;
                sample.durationNs = v.durationNs;
                sample.callerModule = v.caller;
                if (v.site && *v.site < names.sites.size()) sample.site = *v.site;
                if (v.label && *v.label < names.labels.size()) sample.label = *v.label;
                sample.hasYields = v.yields.has_value();
                sample.yields = v.yields.value_or(0);
                sample.closed = v.closed.value_or(0);
                sample.outcomeExt = v.outcomeExt;
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
