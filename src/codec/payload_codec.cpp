#include "codec/payload_codec.h"

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include <cstring>

#include "callmonitor/errors.h"
#include "codec/varint.h"

namespace callmonitor::codec {

Hash contentHash(const void* data, size_t size) {
    const XXH128_hash_t h = XXH3_128bits(data, size);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    static_assert(sizeof c.digest == kHashSize);
    Hash out;
    std::memcpy(out.bytes, c.digest, kHashSize);
    return out;
}

PayloadHeader::PayloadHeader(PayloadCodec codec, uint64_t rawSize) {
    bytes[0] = static_cast<char>(codec);
    char* p = bytes + 1;
    while (rawSize >= 0x80) {
        *p++ = static_cast<char>((rawSize & 0x7F) | 0x80);
        rawSize >>= 7;
    }
    *p++ = static_cast<char>(rawSize);
    size = size_t(p - bytes);
}

PayloadView parsePayload(std::string_view stored) {
    if (stored.empty()) throw CorruptError("empty payload value");
    PayloadView v;
    const uint8_t codec = static_cast<uint8_t>(stored[0]);
    const uint8_t* p = reinterpret_cast<const uint8_t*>(stored.data()) + 1;
    const uint8_t* end = reinterpret_cast<const uint8_t*>(stored.data()) + stored.size();
    if (!readVarint(p, end, v.rawSize)) throw CorruptError("truncated payload header");
    v.bytes = std::string_view(reinterpret_cast<const char*>(p), size_t(end - p));
    if (codec == uint8_t(PayloadCodec::Raw)) {
        if (v.rawSize != v.bytes.size()) throw CorruptError("raw payload size disagrees with its header");
    } else if (codec == uint8_t(PayloadCodec::Zstd)) {
        if (v.rawSize > kMaxPayloadBytes || v.rawSize / kMaxCompressionRatio > v.bytes.size())
            throw CorruptError("compressed payload claims an implausible size (" + std::to_string(v.rawSize) +
                               " bytes from " + std::to_string(v.bytes.size()) + ")");
    } else {
        throw CorruptError("payload with unknown codec " + std::to_string(codec));
    }
    v.codec = static_cast<PayloadCodec>(codec);
    return v;
}

void decompressPayload(const PayloadView& p, std::string& out) {
    const unsigned long long declared = ZSTD_getFrameContentSize(p.bytes.data(), p.bytes.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR || declared != p.rawSize)
        throw CorruptError("compressed payload frame disagrees with its recorded size");
    out.resize(p.rawSize);
    const size_t n = ZSTD_decompress(out.data(), out.size(), p.bytes.data(), p.bytes.size());
    if (ZSTD_isError(n) || n != p.rawSize)
        throw CorruptError(std::string("compressed payload does not decompress: ") +
                           (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
}

bool compressPayload(std::string_view raw, int level, std::string& out) {
    out.resize(ZSTD_compressBound(raw.size()));
    const size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
    if (ZSTD_isError(n) || n > raw.size() - raw.size() / 16) return false;
    out.resize(n);
    return true;
}

}  // namespace callmonitor::codec
