// Packing and unpacking the per-call record whose layout is drawn in format.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "callmonitor/format.h"

namespace callmonitor {

// Appends the part of a call record known before the call runs: start,
// thread, caller. The caller then appends the inputs value and finally
// either appendPending() or one of the outcome sections.
void appendCallHeader(std::string& out, uint64_t startNs, uint32_t thread, uint32_t caller);
inline void appendPending(std::string& out) { out.push_back(static_cast<char>(format::Outcome::Pending)); }
// Outcome sections (a Returned section must be followed by the result value).
void appendReturned(std::string& out, uint64_t durationNs);
void appendResultSkipped(std::string& out, uint64_t durationNs);
void appendRaised(std::string& out, uint64_t durationNs, std::string_view type, std::string_view message);

// A call record split into its parts. Views point into the record bytes.
struct CallView {
    format::CallKey key;
    uint64_t startNs = 0;
    uint32_t thread = 0;
    uint32_t caller = 0;
    std::string_view inputs;          // one encoded value: (args tuple, kwargs dict)
    format::Outcome outcome = format::Outcome::Pending;
    uint64_t durationNs = 0;
    std::string_view result;          // encoded value, when outcome == Returned
    std::string_view exceptionType;   // when outcome == Raised
    std::string_view exceptionMessage;
};

// Throws DecodeError when the bytes are not a well-formed record.
CallView parseCallRecord(std::string_view record, const format::CallKey& key = {});

// The record with its trailing Pending byte replaced by `outcome` (an outcome
// section). Throws DecodeError when `record` does not end in Pending.
std::string completeRecord(std::string_view record, std::string_view outcome);

// The record with its thread and caller indices moved by the given offsets
// (merging writers into one environment); every other byte is kept. Throws
// DecodeError when the header is malformed or an index leaves the u32 range.
std::string rebaseCallRecord(std::string_view record, int64_t threadOffset, int64_t callerOffset);

}  // namespace callmonitor
