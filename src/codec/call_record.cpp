#include "callmonitor/call_record.h"

#include "callmonitor/errors.h"
#include "callmonitor/value_parser.h"
#include "codec/varint.h"

namespace callmonitor {

using format::Outcome;

void appendCallHeader(std::string& out, uint64_t startNs, uint32_t thread, uint32_t caller) {
    appendVarint(out, startNs);
    appendVarint(out, thread);
    appendVarint(out, caller);
}

void appendReturned(std::string& out, uint64_t durationNs) {
    out.push_back(static_cast<char>(Outcome::Returned));
    appendVarint(out, durationNs);
}

void appendResultSkipped(std::string& out, uint64_t durationNs) {
    out.push_back(static_cast<char>(Outcome::ResultSkipped));
    appendVarint(out, durationNs);
}

void appendRaised(std::string& out, uint64_t durationNs, std::string_view type, std::string_view message) {
    out.push_back(static_cast<char>(Outcome::Raised));
    appendVarint(out, durationNs);
    appendVarint(out, type.size());
    out.append(type.data(), type.size());
    appendVarint(out, message.size());
    out.append(message.data(), message.size());
}

CallView parseCallRecord(std::string_view record, const format::CallKey& key) {
    CallView v;
    v.key = key;
    ValueParser p(record);
    v.startNs = p.readVarint();
    uint64_t thread = p.readVarint(), caller = p.readVarint();
    if (thread > 0xFFFFFFFFu || caller > 0xFFFFFFFFu) p.fail("thread or caller index out of range");
    v.thread = static_cast<uint32_t>(thread);
    v.caller = static_cast<uint32_t>(caller);
    size_t start = p.offset();
    p.skipValue();
    v.inputs = record.substr(start, p.offset() - start);
    uint8_t outcome = p.readByte();
    switch (static_cast<Outcome>(outcome)) {
        case Outcome::Pending:
            break;
        case Outcome::Returned: {
            v.durationNs = p.readVarint();
            size_t r = p.offset();
            p.skipValue();
            v.result = record.substr(r, p.offset() - r);
            break;
        }
        case Outcome::ResultSkipped:
            v.durationNs = p.readVarint();
            break;
        case Outcome::Raised:
            v.durationNs = p.readVarint();
            v.exceptionType = p.readText();
            v.exceptionMessage = p.readText();
            break;
        default:
            p.fail("unknown call outcome");
    }
    if (!p.atEnd()) p.fail("trailing bytes after the call record");
    v.outcome = static_cast<Outcome>(outcome);
    return v;
}

std::string completeRecord(std::string_view record, std::string_view outcome) {
    if (record.empty() || static_cast<uint8_t>(record.back()) != static_cast<uint8_t>(Outcome::Pending))
        throw DecodeError("call record to complete does not end in a pending outcome");
    std::string out;
    out.reserve(record.size() - 1 + outcome.size());
    out.append(record.data(), record.size() - 1);
    out.append(outcome.data(), outcome.size());
    return out;
}

std::string rebaseCallRecord(std::string_view record, int64_t threadOffset, int64_t callerOffset) {
    ValueParser p(record);
    const uint64_t start = p.readVarint();
    const uint64_t oldThread = p.readVarint(), oldCaller = p.readVarint();
    if (oldThread > 0xFFFFFFFFu || oldCaller > 0xFFFFFFFFu) p.fail("thread or caller index out of range");
    const int64_t thread = int64_t(oldThread) + threadOffset, caller = int64_t(oldCaller) + callerOffset;
    if (thread < 0 || caller < 0 || thread > 0xFFFFFFFF || caller > 0xFFFFFFFF) p.fail("thread or caller index out of range");
    const size_t rest = p.offset();
    std::string out;
    out.reserve(record.size() + 8);
    appendCallHeader(out, start, static_cast<uint32_t>(thread), static_cast<uint32_t>(caller));
    out.append(record.data() + rest, record.size() - rest);
    return out;
}

}  // namespace callmonitor
