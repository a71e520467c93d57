// Big-endian key encodings (keys.h).
#include "codec/keys.h"

namespace callmonitor::format {
namespace {
void putBE(char* out, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) *out++ = static_cast<char>((v >> (8 * i)) & 0xFF);
}
uint64_t getBE(const char* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
}
}  // namespace

void encodeCallKey(const CallKey& key, char* out) {
    putBE(out, key.function, 4);
    putBE(out + 4, key.invocation, 8);
}

std::string encodeCallKey(const CallKey& key) {
    std::string out(kCallKeySize, '\0');
    encodeCallKey(key, out.data());
    return out;
}

bool decodeCallKey(std::string_view bytes, CallKey& out) {
    if (bytes.size() != kCallKeySize) return false;
    out.function = static_cast<uint32_t>(getBE(bytes.data(), 4));
    out.invocation = getBE(bytes.data() + 4, 8);
    return true;
}

std::string encodeBlobKey(const CallKey& call, uint32_t blobIndex) {
    std::string out(kBlobKeySize, '\0');
    encodeCallKey(call, out.data());
    putBE(out.data() + kCallKeySize, blobIndex, 4);
    return out;
}

std::string encodeFormatValue(uint32_t version) {
    std::string out(kMagic);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((version >> (8 * i)) & 0xFF));
    return out;
}

std::string encodeU32Key(uint32_t id) {
    std::string out(4, '\0');
    putBE(out.data(), id, 4);
    return out;
}

bool decodeU32Key(std::string_view bytes, uint32_t& out) {
    if (bytes.size() != 4) return false;
    out = static_cast<uint32_t>(getBE(bytes.data(), 4));
    return true;
}

}  // namespace callmonitor::format
