// Payload values (v2 `payloads`, keyed by content hash, keys.h) and content
// hashes. Private to the core.
//
//   payload := u8 codec | varint rawSize | bytes
//       codec 0 raw:  bytes = the rawSize bytes
//       codec 1 zstd: bytes = one zstd frame that decompresses to exactly rawSize bytes
//
//   hash = XXH3-128 of the raw bytes, canonical (big-endian) 16 bytes: the
//   same bytes always get the same key, whatever the codec, so a payload
//   is stored once per database.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codec/chunk.h"

namespace callmonitor::codec {

enum class PayloadCodec : uint8_t { Raw = 0, Zstd = 1 };

// Sanity bounds for hostile payload headers: a rawSize above kMaxPayloadBytes
// or above kMaxCompressionRatio x the compressed size is refused before any
// allocation (a decompression bomb is a CorruptError).
inline constexpr uint64_t kMaxPayloadBytes = uint64_t(1) << 40;
inline constexpr uint64_t kMaxCompressionRatio = 1 << 16;

struct Hash {
    char bytes[kHashSize];
    std::string_view view() const { return {bytes, kHashSize}; }
};
Hash contentHash(const void* data, size_t size);

// The header in front of a payload's bytes.
struct PayloadHeader {
    char bytes[11];
    size_t size = 0;
    PayloadHeader(PayloadCodec codec, uint64_t rawSize);
    std::string_view view() const { return {bytes, size}; }
};

struct PayloadView {
    PayloadCodec codec = PayloadCodec::Raw;
    uint64_t rawSize = 0;
    std::string_view bytes;  // as stored (compressed for Zstd)
};
// Throws CorruptError when the header is malformed or the sizes disagree.
PayloadView parsePayload(std::string_view stored);
// The raw bytes of a Zstd payload into `out` (resized to rawSize). Throws
// CorruptError when the frame is bad or does not give exactly rawSize bytes.
void decompressPayload(const PayloadView& p, std::string& out);
// Compresses `raw` into `out` at zstd `level`. Returns false (out unspecified)
// when compressing does not save at least 1/16 of the bytes.
bool compressPayload(std::string_view raw, int level, std::string& out);

}  // namespace callmonitor::codec
