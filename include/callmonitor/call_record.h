// Packing and unpacking the per-call record whose layout is drawn in format.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "callmonitor/format.h"

namespace callmonitor {

// --- writing (the capture side) --------------------------------------------
//
// Entry:   appendCallHeader | inputs value (ValueWriter) | appendExt | appendPending
// Outcome: appendReturned | result value | appendExt
//          appendRaised (type, message) | appendExt
//          appendNotRecorded | appendExt
// The outcome section replaces the entry's Pending byte when the call ends.

// Appends the part of a call record known before the call runs: start,
// thread, caller.
void appendCallHeader(std::string& out, uint64_t startNs, uint32_t thread, uint32_t caller);
inline void appendPending(std::string& out) { out.push_back(static_cast<char>(format::Outcome::Pending)); }
// Outcome sections, each to be followed by its result value (Returned only)
// and then its ext area (appendExt / appendEmptyExt).
void appendReturned(std::string& out, uint64_t durationNs);
void appendNotRecorded(std::string& out, uint64_t durationNs);
inline void appendResultSkipped(std::string& out, uint64_t durationNs) { appendNotRecorded(out, durationNs); }
void appendRaised(std::string& out, uint64_t durationNs, std::string_view type, std::string_view message);

// The fields of one ext area, built before the area is appended (its length
// comes first). Reuse one ExtFields (clear()) to avoid allocating per call.
class ExtFields {
public:
    void clear() { bytes_.clear(); }
    bool empty() const { return bytes_.empty(); }
    const std::string& bytes() const { return bytes_; }
    // A field holding one varint (Site, Label, Yields).
    void addVarint(format::ExtTag tag, uint64_t value);
    // Parent: varint function id | varint invocation.
    void addParent(const format::CallKey& parent);
    // A field holding raw bytes (Traceback text, ExceptionArgs value bytes, or
    // a tag this build does not know).
    void addBytes(format::ExtTag tag, std::string_view bytes);
    void addBytes(uint32_t tag, std::string_view bytes) { addBytes(static_cast<format::ExtTag>(tag), bytes); }
    // The fields of `other`, after these.
    void append(const ExtFields& other) { bytes_ += other.bytes_; }

private:
    std::string bytes_;
};
// varint nbytes | fields.
void appendExt(std::string& out, const ExtFields& fields);
inline void appendEmptyExt(std::string& out) { out.push_back('\0'); }

// --- reading ------------------------------------------------------------------

// Walks the fields of one ext area (without its length prefix): visit(tag,
// bytes) for each. Throws DecodeError when a field runs past the area.
template <class F> void forEachExtField(std::string_view fields, F&& visit);

// A call record split into its parts. Views point into the record bytes
// (and, from a Snapshot or CallCursor, into the database: valid while the
// Snapshot lives).
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
    // From the ext areas (v2; empty / nullopt for v1 records and when absent).
    std::optional<uint32_t> site;     // -> Database::sites()
    std::optional<uint32_t> label;    // -> Database::labels()
    std::optional<format::CallKey> parent;
    std::string_view traceback;       // formatted text
    std::string_view exceptionArgs;   // encoded value (the args tuple)
    std::optional<uint64_t> yields;
    std::optional<uint64_t> closed;   // format::ExtTag::Closed (a generator closed before its end)
    std::string_view entryExt;        // the raw ext areas' fields (for tags this build does not know)
    std::string_view outcomeExt;
    // Payload lookup (v2): the chunk's slot -> hash tables, 16 bytes per
    // slot, inputs then result; used by Snapshot::payload. Empty for v1
    // (whose input slots are `blobs` keyed by the call).
    std::string_view inputHashes;
    std::string_view resultHashes;
    uint32_t formatVersion = format::kFormatVersion;
    std::string_view record;          // the whole record

    uint32_t inputPayloads() const { return static_cast<uint32_t>(inputHashes.size() / 16); }
    uint32_t resultPayloads() const { return static_cast<uint32_t>(resultHashes.size() / 16); }
};

// Throws DecodeError when the bytes are not a well-formed record of `version`.
CallView parseCallRecord(std::string_view record, const format::CallKey& key = {},
                         uint32_t version = format::kFormatVersion);
// Into an existing view (the cursor's fast path: no allocation).
void parseCallRecord(std::string_view record, const format::CallKey& key, uint32_t version, CallView& out);

// The (v2) record with its trailing Pending byte replaced by `outcome` (an
// outcome section). Throws DecodeError when `record` is not a Pending record.
std::string completeRecord(std::string_view record, std::string_view outcome);

// The record with its thread and caller indices moved by the given offsets
// (merging writers into one environment); every other byte is kept. Throws
// DecodeError when the header is malformed or an index leaves the u32 range.
std::string rebaseCallRecord(std::string_view record, int64_t threadOffset, int64_t callerOffset);
// The same for a v2 record, moving also the ids its entry ext names (Site,
// Label, Parent's function); other fields are kept byte for byte.
struct RecordRebase {
    int64_t thread = 0, caller = 0, function = 0, site = 0, label = 0;
};
std::string rebaseCallRecord(std::string_view record, const RecordRebase& by, uint32_t version);

// A v1 record as v2: the same fields with empty ext areas (merge writes v2).
std::string upgradeV1Record(std::string_view record);

// --- implementation of the template ---------------------------------------------
namespace detail {
// Reads a varint at p (< end); advances p. Throws DecodeError when truncated.
uint64_t readExtVarint(const char*& p, const char* end);
[[noreturn]] void badExt(const char* what);
}  // namespace detail

template <class F> void forEachExtField(std::string_view fields, F&& visit) {
    const char* p = fields.data();
    const char* end = p + fields.size();
    while (p < end) {
        const uint64_t tag = detail::readExtVarint(p, end);
        const uint64_t len = detail::readExtVarint(p, end);
        if (len > uint64_t(end - p)) detail::badExt("ext field runs past its area");
        if (tag > 0xFFFFFFFFu) detail::badExt("ext tag out of range");
        visit(static_cast<uint32_t>(tag), std::string_view(p, len));
        p += len;
    }
}

}  // namespace callmonitor
