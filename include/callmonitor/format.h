// The on-disk format of a callmonitor writer environment: constants, the
// named databases, ext tags and the byte layout of a call record. Chunk and
// payload framing (the writer's and reader's business, not the API's) is drawn
// in src/codec/chunk.h, keys in src/codec/keys.h. docs/format.md is the prose
// version of all of them; change them together.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace callmonitor::format {

// Stored under meta["format"] as the 8 bytes of kMagic followed by a u32 LE
// version. A reader refuses a version newer than its own.
//   v1: one call record per LMDB value, arrays in `blobs`, no ext areas.
//   v2: records packed in chunks, ext areas, payloads by content hash.
inline constexpr std::string_view kMagic = "CALLMON\x01";
inline constexpr uint32_t kFormatVersion = 2;
// Readers refuse versions below this one (VersionError).
inline constexpr uint32_t kOldestFormatVersion = 1;

// meta["format"]: kMagic followed by `version` as u32 LE.
std::string encodeFormatValue(uint32_t version = kFormatVersion);

// Named LMDB databases inside one writer environment.
inline constexpr const char* kMetaDb = "meta";            // str key -> bytes
inline constexpr const char* kFunctionsDb = "functions";  // u32 BE fid -> FunctionInfo (cereal)
inline constexpr const char* kCallsDb = "calls";          // v1: call key -> record; v2: chunk key -> chunk
inline constexpr const char* kBlobsDb = "blobs";          // v1 only: blob key -> raw array bytes
inline constexpr const char* kPayloadsDb = "payloads";    // v2: 16-byte content hash -> payload
inline constexpr const char* kThreadsDb = "threads";      // u32 BE index -> ThreadInfo (cereal)
inline constexpr const char* kCallersDb = "callers";      // u32 BE index -> module name (UTF-8)
inline constexpr const char* kSitesDb = "sites";          // v2: u32 BE site id -> SiteInfo (cereal)
inline constexpr const char* kLabelsDb = "labels";        // v2: u32 BE label id -> label (UTF-8)
inline constexpr unsigned kMaxDbs = 16;                   // mdb_env_set_maxdbs: room for more tables

// meta keys
inline constexpr const char* kMetaFormat = "format";  // magic + u32 LE version
inline constexpr const char* kMetaWriter = "writer";  // WriterInfo (cereal)
inline constexpr const char* kMetaStats = "stats";    // CaptureStats (cereal)
inline constexpr const char* kMetaPolicy = "policy";  // v2: capture policies, UTF-8 JSON (docs/format.md), kept current by the writer
// Merged: meta["policy/" + SourceInfo::identity()] per source, that source's meta["policy"] as is.
inline constexpr const char* kMetaSourcePolicyPrefix = "policy/";
inline constexpr const char* kMetaSources = "sources";  // vector<SourceInfo> (cereal), merged environments only
inline constexpr const char* kMetaCompression = "compression";  // v2: "none" or "zstd:<level>" (informative;
                                                                // each payload names its own codec)

// Which call: a function id and its invocation number (1, 2, ...).
struct CallKey {
    uint32_t function = 0;
    uint64_t invocation = 0;

    bool operator<(const CallKey& o) const {
        return function != o.function ? function < o.function : invocation < o.invocation;
    }
    bool operator==(const CallKey& o) const {
        return function == o.function && invocation == o.invocation;
    }
    bool operator!=(const CallKey& o) const { return !(*this == o); }
};

// A call record (v2). varint = unsigned LEB128; str = varint n | n bytes.
//
//   +--------------------+------------------+-------------------------+
//   | start varint (ns)  | thread varint    | caller (module) varint  |
//   +--------------------+------------------+-------------------------+
//   | inputs: one value  (a 2-tuple: args tuple, kwargs dict;          |
//   |         one memo, so an object passed twice is shared)           |
//   +------------------------------------------------------------------+
//   | entry ext   (see Ext below)                                      |
//   +------------------------------------------------------------------+
//   | outcome u8 | Pending:     (nothing more)                         |
//   |            | Returned:    duration varint | result value | [ext] |
//   |            | Raised:      duration varint | type str | msg str | [ext]
//   |            | NotRecorded: duration varint | [ext]                |
//   +------------------------------------------------------------------+
//   [ext]: the outcome ext, left out when empty (the record ends there;
//   the capture stage does, saving a byte per call).
//
//   ext := varint nbytes | fields (nbytes in all)
//   field := varint (tag << 1) | varint len | len bytes
//          | varint (tag << 1 | 1) | varint value   (short form: one varint,
//            its bytes are the field's; Site, Label, Yields)
//   Either form can be skipped by a reader that does not know the tag.
//
// A v1 record is the same without the two ext areas.
// `start` counts ns since the writer's clock origin (WriterInfo.clockOrigin*).
// A record is first written ending in Pending (its last byte), so a call in
// flight when the process dies is still on disk; when the call ends the
// Pending byte is replaced by the outcome section.
enum class Outcome : uint8_t {
    Pending = 0,      // the call had not returned when the record was written
    Returned = 1,     // followed by duration and the result value
    Raised = 2,       // followed by duration, type name and message (str values)
    NotRecorded = 3,  // returned; the result was not recorded (result=False), distinct from None
    ResultSkipped = NotRecorded,  // v1 name
};

// Ext field tags: a reader skips a tag it does not know, so adding one is
// not a format version bump. Owners in docs/format.md.
enum class ExtTag : uint32_t {
    // entry ext
    Site = 1,           // varint site id -> `sites` (file, line, function of the calling frame)
    Parent = 2,         // varint function id | varint invocation: the call this one ran inside
    Label = 3,          // varint label id -> `labels`
    Policy = 4,         // reserved (capture policies, sampling counts)
    // outcome ext
    Traceback = 16,     // UTF-8 text: the formatted traceback (bounded by the capture side)
    ExceptionArgs = 17, // one value: the exception's args tuple
    Yields = 18,        // varint: items a generator (or async generator) yielded
    InnerCalls = 19,    // inner-calls bytes of the invocation (inner_calls.h): @intercept(inner=True)
    Yielded = 20,       // one value: an item the generator yielded (yields=True), one field per item, in order
    Closed = 21,        // varint: the generator ended before its end (1 closed, 2 dropped); outcome NotRecorded
    ItemsRecorded = 22, // varint 1: the items yielded are recorded (yields=True): the Yielded fields are all of
                        // them, none for a generator that yielded nothing
};

}  // namespace callmonitor::format
