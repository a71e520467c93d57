// Key encodings of the named databases (private to the core: readers and
// writers go through Database / Writer). Big-endian, so LMDB's lexicographic
// order is numeric order: a cursor over `calls` visits function 0's calls
// (or chunks) in invocation order, then function 1's.
//
//   CallKey  (12 bytes): | fid u32 BE | invocation u64 BE |
//       v1 `calls`: one record per key; v2 `calls`: the chunk whose first
//       record has this invocation (src/codec/chunk.h).
//   BlobKey  (16 bytes): | fid u32 BE | invocation u64 BE | blob index u32 BE |   (v1 `blobs`)
//   U32Key   (4 bytes):  | id u32 BE |   (functions, threads, callers, sites, labels)
//   HashKey  (16 bytes): the payload's xxh3-128 in canonical (big-endian) form  (v2 `payloads`)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "callmonitor/format.h"

namespace callmonitor::format {

inline constexpr size_t kCallKeySize = 12;
inline constexpr size_t kBlobKeySize = 16;

// The one encoder of a call key: into `out` (kCallKeySize bytes).
void encodeCallKey(const CallKey& key, char* out);
std::string encodeCallKey(const CallKey& key);
bool decodeCallKey(std::string_view bytes, CallKey& out);

std::string encodeBlobKey(const CallKey& call, uint32_t blobIndex);
std::string encodeU32Key(uint32_t id);
bool decodeU32Key(std::string_view bytes, uint32_t& out);

}  // namespace callmonitor::format
