#include "callmonitor/call_record.h"

#include "callmonitor/errors.h"
#include "callmonitor/value_parser.h"
#include "codec/varint.h"

namespace callmonitor {

using format::ExtTag;
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

void appendNotRecorded(std::string& out, uint64_t durationNs) {
    out.push_back(static_cast<char>(Outcome::NotRecorded));
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

void ExtFields::addVarint(ExtTag tag, uint64_t value) {
    std::string v;
    appendVarint(v, value);
    addBytes(tag, v);
}

void ExtFields::addParent(const format::CallKey& parent) {
    std::string v;
    appendVarint(v, parent.function);
    appendVarint(v, parent.invocation);
    addBytes(ExtTag::Parent, v);
}

void ExtFields::addBytes(ExtTag tag, std::string_view bytes) {
    appendVarint(bytes_, static_cast<uint32_t>(tag));
    appendVarint(bytes_, bytes.size());
    bytes_.append(bytes.data(), bytes.size());
}

void appendExt(std::string& out, const ExtFields& fields) {
    appendVarint(out, fields.bytes().size());
    out.append(fields.bytes());
}

namespace detail {
uint64_t readExtVarint(const char*& p, const char* end) {
    const uint8_t* q = reinterpret_cast<const uint8_t*>(p);
    uint64_t v = 0;
    if (!readVarint(q, reinterpret_cast<const uint8_t*>(end), v)) badExt("truncated ext field");
    p = reinterpret_cast<const char*>(q);
    return v;
}
void badExt(const char* what) { throw DecodeError(std::string("malformed call record: ") + what); }
}  // namespace detail

namespace {

// Reads an ext area (varint nbytes | fields) at the parser's position.
std::string_view readExt(ValueParser& p, std::string_view record) {
    const uint64_t n = p.readVarint();
    if (n > p.remaining()) p.fail("ext area runs past the record");
    const size_t at = p.offset();
    p.skipBytes(n);
    return record.substr(at, n);
}

uint64_t varintOf(std::string_view bytes, bool& ok) {
    const uint8_t* q = reinterpret_cast<const uint8_t*>(bytes.data());
    const uint8_t* end = q + bytes.size();
    uint64_t v = 0;
    ok = readVarint(q, end, v);
    return v;
}

void readEntryExt(std::string_view fields, CallView& v) {
    if (fields.empty()) return;
    forEachExtField(fields, [&](uint32_t tag, std::string_view bytes) {
        bool ok = true;
        switch (static_cast<ExtTag>(tag)) {
            case ExtTag::Site: {
                const uint64_t id = varintOf(bytes, ok);
                if (ok && id <= 0xFFFFFFFFu) v.site = static_cast<uint32_t>(id);
                else ok = false;
                break;
            }
            case ExtTag::Label: {
                const uint64_t id = varintOf(bytes, ok);
                if (ok && id <= 0xFFFFFFFFu) v.label = static_cast<uint32_t>(id);
                else ok = false;
                break;
            }
            case ExtTag::Parent: {
                const uint8_t* q = reinterpret_cast<const uint8_t*>(bytes.data());
                const uint8_t* end = q + bytes.size();
                uint64_t f = 0, i = 0;
                ok = readVarint(q, end, f) && readVarint(q, end, i) && f <= 0xFFFFFFFFu;
                if (ok) v.parent = format::CallKey{static_cast<uint32_t>(f), i};
                break;
            }
            default: break;  // a tag this build does not know: skipped
        }
        if (!ok) detail::badExt("malformed entry ext field");
    });
}

void readOutcomeExt(std::string_view fields, CallView& v) {
    if (fields.empty()) return;
    forEachExtField(fields, [&](uint32_t tag, std::string_view bytes) {
        switch (static_cast<ExtTag>(tag)) {
            case ExtTag::Traceback: v.traceback = bytes; break;
            case ExtTag::ExceptionArgs: v.exceptionArgs = bytes; break;
            case ExtTag::Yields: {
                bool ok = true;
                v.yields = varintOf(bytes, ok);
                if (!ok) detail::badExt("malformed Yields ext field");
                break;
            }
            case ExtTag::Closed: {
                bool ok = true;
                v.closed = varintOf(bytes, ok);
                if (!ok) detail::badExt("malformed Closed ext field");
                break;
            }
            default: break;  // Yielded values: read from outcomeExt by whoever decodes them
        }
    });
}

}  // namespace

void parseCallRecord(std::string_view record, const format::CallKey& key, uint32_t version, CallView& v) {
    // Every field is set below or reset here (cheaper than v = CallView{}).
    v.durationNs = 0;
    v.result = v.exceptionType = v.exceptionMessage = v.traceback = v.exceptionArgs = {};
    v.entryExt = v.outcomeExt = v.inputHashes = v.resultHashes = {};
    v.site.reset();
    v.label.reset();
    v.parent.reset();
    v.yields.reset();
    v.closed.reset();
    v.key = key;
    v.record = record;
    v.formatVersion = version;
    const bool ext = version >= 2;
    ValueParser p(record);
    v.startNs = p.readVarint();
    uint64_t thread = p.readVarint(), caller = p.readVarint();
    if (thread > 0xFFFFFFFFu || caller > 0xFFFFFFFFu) p.fail("thread or caller index out of range");
    v.thread = static_cast<uint32_t>(thread);
    v.caller = static_cast<uint32_t>(caller);
    size_t start = p.offset();
    p.skipValue();
    v.inputs = record.substr(start, p.offset() - start);
    if (ext) v.entryExt = readExt(p, record);
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
        case Outcome::NotRecorded:
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
    if (ext && outcome != uint8_t(Outcome::Pending)) v.outcomeExt = readExt(p, record);
    if (!p.atEnd()) p.fail("trailing bytes after the call record");
    v.outcome = static_cast<Outcome>(outcome);
    readEntryExt(v.entryExt, v);
    readOutcomeExt(v.outcomeExt, v);
}

CallView parseCallRecord(std::string_view record, const format::CallKey& key, uint32_t version) {
    CallView v;
    parseCallRecord(record, key, version, v);
    return v;
}

std::string completeRecord(std::string_view record, std::string_view outcome) {
    // v2 records end in a 0 byte whether pending or not (an empty ext area
    // reads like Pending): only parsing tells.
    if (record.empty() || static_cast<uint8_t>(record.back()) != static_cast<uint8_t>(Outcome::Pending) ||
        parseCallRecord(record).outcome != Outcome::Pending)
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

namespace {
uint32_t moved(uint64_t id, int64_t by) {
    const int64_t v = int64_t(id) + by;
    if (id > 0xFFFFFFFFu || v < 0 || v > 0xFFFFFFFF) detail::badExt("id out of range after rebasing");
    return static_cast<uint32_t>(v);
}
}  // namespace

std::string rebaseCallRecord(std::string_view record, const RecordRebase& by, uint32_t version) {
    std::string out = rebaseCallRecord(record, by.thread, by.caller);
    if (version < 2 || (!by.function && !by.site && !by.label)) return out;
    const CallView v = parseCallRecord(out, {}, version);
    if (v.entryExt.empty()) return out;
    ExtFields fields;
    forEachExtField(v.entryExt, [&](uint32_t tag, std::string_view bytes) {
        switch (static_cast<ExtTag>(tag)) {
            case ExtTag::Site: fields.addVarint(ExtTag::Site, moved(*v.site, by.site)); break;
            case ExtTag::Label: fields.addVarint(ExtTag::Label, moved(*v.label, by.label)); break;
            case ExtTag::Parent:
                fields.addParent(format::CallKey{moved(v.parent->function, by.function), v.parent->invocation});
                break;
            default: fields.addBytes(tag, bytes);
        }
    });
    const size_t inputsEnd = size_t(v.inputs.data() + v.inputs.size() - out.data());
    const size_t extEnd = size_t(v.entryExt.data() + v.entryExt.size() - out.data());
    std::string rebased = out.substr(0, inputsEnd);
    appendExt(rebased, fields);
    rebased.append(out, extEnd, std::string::npos);
    return rebased;
}

std::string upgradeV1Record(std::string_view record) {
    const CallView v = parseCallRecord(record, {}, 1);  // validates
    std::string out;
    out.reserve(record.size() + 2);
    const size_t inputsEnd = size_t(v.inputs.data() + v.inputs.size() - record.data());
    out.append(record.data(), inputsEnd);
    appendEmptyExt(out);
    out.append(record.data() + inputsEnd, record.size() - inputsEnd);
    if (v.outcome != Outcome::Pending) appendEmptyExt(out);
    return out;
}

}  // namespace callmonitor
