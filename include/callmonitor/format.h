// The on-disk format of a callmonitor writer environment: constants, key
// layouts and the byte layout of a call record. docs/format.md is the prose
// version of this file; change both together and bump kFormatVersion.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace callmonitor::format {

// Stored under meta["format"] as the 8 bytes of kMagic followed by a u32 LE
// version. A reader refuses a version newer than its own.
inline constexpr std::string_view kMagic = "CALLMON\x01";
inline constexpr uint32_t kFormatVersion = 1;
// Readers refuse versions below this one (VersionError): none was ever released.
inline constexpr uint32_t kOldestFormatVersion = 1;

// meta["format"]: kMagic followed by `version` as u32 LE.
std::string encodeFormatValue(uint32_t version = kFormatVersion);

// Named LMDB databases inside one writer environment.
inline constexpr const char* kMetaDb = "meta";            // str key -> bytes
inline constexpr const char* kFunctionsDb = "functions";  // u32 BE fid -> FunctionInfo (cereal)
inline constexpr const char* kCallsDb = "calls";          // CallKey -> call record
inline constexpr const char* kBlobsDb = "blobs";          // BlobKey -> raw payload bytes
inline constexpr const char* kThreadsDb = "threads";      // u32 BE index -> ThreadInfo (cereal)
inline constexpr const char* kCallersDb = "callers";      // u32 BE index -> module name (UTF-8)

// meta keys
inline constexpr const char* kMetaFormat = "format";  // magic + u32 LE version
inline constexpr const char* kMetaWriter = "writer";  // WriterInfo (cereal)
inline constexpr const char* kMetaStats = "stats";    // CaptureStats (cereal)
inline constexpr const char* kMetaSources = "sources";  // vector<SourceInfo> (cereal), merged environments only

// Keys are big-endian so that LMDB's lexicographic order is numeric order:
// a cursor over `calls` visits function 0's calls 1, 2, 3, ... then function 1's.
//
//   CallKey  (12 bytes): | fid u32 BE | invocation u64 BE |
//   BlobKey  (16 bytes): | fid u32 BE | invocation u64 BE | blob index u32 BE |
inline constexpr size_t kCallKeySize = 12;
inline constexpr size_t kBlobKeySize = 16;

struct CallKey {
    uint32_t function = 0;
    uint64_t invocation = 0;

    std::string encode() const;
    static bool decode(std::string_view bytes, CallKey& out);
    bool operator<(const CallKey& o) const {
        return function != o.function ? function < o.function : invocation < o.invocation;
    }
    bool operator==(const CallKey& o) const {
        return function == o.function && invocation == o.invocation;
    }
};

std::string encodeBlobKey(const CallKey& call, uint32_t blobIndex);
std::string encodeU32Key(uint32_t id);
bool decodeU32Key(std::string_view bytes, uint32_t& out);

// A call record (value in `calls`). varint = unsigned LEB128.
//
//   +--------------------+------------------+------------------+
//   | start varint (ns)  | thread varint    | caller varint    |
//   +--------------------+------------------+------------------+
//   | inputs: one value  (a 2-tuple: args tuple, kwargs dict;   |
//   |         one memo, so an object passed twice is shared)    |
//   +------------------------------------------------------------+
//   | outcome u8 | (outcome != Pending) duration varint (ns)     |
//   |            | Returned: result value (own memo)             |
//   |            | Raised: exception type str, message str       |
//   +------------------------------------------------------------+
//
// `start` counts ns since the writer's clock origin (WriterInfo.clockOrigin*).
// A record is first written with outcome Pending (its last byte), so a call in
// flight when the process dies is still on disk; when the call ends the writer
// drops that last byte and appends the outcome section (see Outcome).
enum class Outcome : uint8_t {
    Pending = 0,      // the call had not returned when the record was written
    Returned = 1,     // followed by duration and the result value
    Raised = 2,       // followed by duration, type name and message (str values)
    ResultSkipped = 3 // returned; the result was not recorded (option off)
};

}  // namespace callmonitor::format
