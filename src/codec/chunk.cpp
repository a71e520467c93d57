#include "codec/chunk.h"

#include <cstring>

#include "callmonitor/errors.h"
#include "codec/varint.h"

namespace callmonitor::codec {
namespace {
size_t varintSize(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}
using detail::putVarint;
}  // namespace

ChunkReader::ChunkReader(std::string_view chunk, uint64_t first)
    : p_(chunk.data()), end_(chunk.data() + chunk.size()), first_(first) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(p_);
    const uint8_t* end = reinterpret_cast<const uint8_t*>(end_);
    uint64_t lastDelta = 0;
    if (!readVarint(p, end, count_) || !readVarint(p, end, lastDelta)) fail("truncated chunk header");
    if (count_ == 0) fail("chunk with no records");
    // Each entry takes at least a 1-byte head and a 1-byte record: a count
    // beyond that is hostile (it would otherwise only fail at the end).
    if (count_ > uint64_t(end - p) / 2) fail("chunk count larger than its bytes");
    if (lastDelta > UINT64_MAX - first || lastDelta < count_ - 1) fail("chunk range inconsistent with its count");
    last_ = first + lastDelta;
    prev_ = first - 1;
    p_ = reinterpret_cast<const char*>(p);
}

void ChunkReader::fail(const char* what) const {
    throw CorruptError(std::string("malformed chunk (first invocation ") + std::to_string(first_) + "): " + what +
                       "; the database is damaged (a file copy taken while the program was writing? copy a live "
                       "database with mdb_copy, or after the program ends)");
}

namespace {
// An entry's head: varint (recordLen << 1 | hasFlags) | [u8 flags] | [varint gap].
// Reads it at p (advancing p); the framing is checked by the caller.
struct EntryHead {
    uint64_t len = 0;
    uint64_t gap = 0;
    bool refs = false;
};
bool readEntryHead(const uint8_t*& p, const uint8_t* end, EntryHead& h, bool& badFlags) {
    uint64_t head = 0;
    if (p < end && *p < 0x80) head = *p++;  // one-byte head: the common case
    else if (!readVarint(p, end, head)) return false;
    h.len = head >> 1;
    h.gap = 0;
    h.refs = false;
    badFlags = false;
    if (head & 1) {
        if (p >= end) return false;
        const uint8_t flags = *p++;
        if (flags == 0 || (flags & ~uint8_t(kEntryHasGap | kEntryHasRefs))) {
            badFlags = true;
            return true;
        }
        h.refs = flags & kEntryHasRefs;
        if ((flags & kEntryHasGap) && !readVarint(p, end, h.gap)) return false;
    }
    return true;
}

}  // namespace

void ChunkReader::entryHead(const uint8_t*& p, const uint8_t* end, uint64_t& inv, uint64_t& len, bool& refs) {
    EntryHead h;
    bool badFlags = false;
    if (!readEntryHead(p, end, h, badFlags)) fail("truncated entry");
    if (badFlags) fail("unknown entry flags");
    if (seen_ == 0 && h.gap != 0) fail("first entry is not the chunk's first invocation");
    if (prev_ >= last_ || h.gap > last_ - prev_ - 1) fail("entry beyond the chunk's range");
    if (h.len == 0 || h.len > uint64_t(end - p)) fail("record length past the chunk");
    inv = prev_ + 1 + h.gap;
    len = h.len;
    refs = h.refs;
}

void ChunkReader::entryRefs(const uint8_t*& p, const uint8_t* end, uint64_t& nIn, uint64_t& nOut) {
    if (!readVarint(p, end, nIn) || !readVarint(p, end, nOut)) fail("truncated payload refs");
    const uint64_t room = uint64_t(end - p) / kHashSize;
    if (nIn > room || nOut > room - nIn) fail("payload refs past the chunk");
}

void ChunkReader::entryDone(uint64_t inv) {
    ++seen_;
    if (seen_ == count_ && inv != last_) fail("last entry disagrees with the chunk's range");
    prev_ = inv;
}

bool ChunkReader::next(ChunkEntry& out) {
    if (seen_ == count_) {
        if (p_ != end_) fail("bytes after the last record");
        return false;
    }
    const uint8_t* p = reinterpret_cast<const uint8_t*>(p_);
    const uint8_t* end = reinterpret_cast<const uint8_t*>(end_);
    uint64_t inv = 0, len = 0;
    bool refs = false;
    entryHead(p, end, inv, len, refs);
    out.invocation = inv;
    out.record = std::string_view(reinterpret_cast<const char*>(p), len);
    p += len;
    out.inputHashes = out.resultHashes = {};
    if (refs) {
        uint64_t nIn = 0, nOut = 0;
        entryRefs(p, end, nIn, nOut);
        out.inputHashes = std::string_view(reinterpret_cast<const char*>(p), nIn * kHashSize);
        p += nIn * kHashSize;
        out.resultHashes = std::string_view(reinterpret_cast<const char*>(p), nOut * kHashSize);
        p += nOut * kHashSize;
    }
    entryDone(inv);
    p_ = reinterpret_cast<const char*>(p);
    return true;
}

void ChunkReader::skipBefore(uint64_t inv) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(p_);
    const uint8_t* end = reinterpret_cast<const uint8_t*>(end_);
    while (seen_ < count_) {
        const uint8_t* q = p;
        uint64_t at = 0, len = 0;
        bool refs = false;
        entryHead(q, end, at, len, refs);
        if (at >= inv) break;  // this one is next()'s
        q += len;
        if (refs) {
            uint64_t nIn = 0, nOut = 0;
            entryRefs(q, end, nIn, nOut);
            q += (nIn + nOut) * kHashSize;
        }
        entryDone(at);
        p = q;
    }
    p_ = reinterpret_cast<const char*>(p);
}

namespace {
// The head (varint, [flags], [gap]) of an entry at out; returns the end.
char* putEntryHead(char* out, uint64_t gap, size_t recordLen, bool hasRefs) {
    const uint8_t flags = (gap ? kEntryHasGap : 0) | (hasRefs ? kEntryHasRefs : 0);
    out = putVarint(out, (uint64_t(recordLen) << 1) | (flags ? 1 : 0));
    if (flags) *out++ = static_cast<char>(flags);
    if (gap) out = putVarint(out, gap);
    return out;
}
}  // namespace

size_t chunkEntrySize(uint64_t gap, size_t recordBytes, size_t inputSlots, size_t resultSlots) {
    const bool flags = gap || inputSlots || resultSlots;
    size_t n = varintSize(uint64_t(recordBytes) << 1) + (flags ? 1 : 0) + (gap ? varintSize(gap) : 0) + recordBytes;
    if (inputSlots || resultSlots) n += varintSize(inputSlots) + varintSize(resultSlots) + (inputSlots + resultSlots) * kHashSize;
    return n;
}

void appendEntryHead(std::string& out, uint64_t gap, size_t recordLen, bool hasRefs) {
    char head[24];
    out.append(head, size_t(putEntryHead(head, gap, recordLen, hasRefs) - head));
}

void appendEntryRefs(std::string& out, std::string_view inputHashes, std::string_view resultHashes) {
    if (inputHashes.empty() && resultHashes.empty()) return;
    char head[24];
    char* h = putVarint(head, inputHashes.size() / kHashSize);
    h = putVarint(h, resultHashes.size() / kHashSize);
    out.append(head, size_t(h - head));
    out.append(inputHashes.data(), inputHashes.size());
    out.append(resultHashes.data(), resultHashes.size());
}

size_t writeChunkEntry(char* out, uint64_t gap, std::string_view recordHead, std::string_view recordTail,
                       std::string_view inputHashes, std::string_view resultHashes) {
    const bool refs = !inputHashes.empty() || !resultHashes.empty();
    char* p = putEntryHead(out, gap, recordHead.size() + recordTail.size(), refs);
    std::memcpy(p, recordHead.data(), recordHead.size());
    p += recordHead.size();
    if (!recordTail.empty()) {
        std::memcpy(p, recordTail.data(), recordTail.size());
        p += recordTail.size();
    }
    if (refs) {
        p = putVarint(p, inputHashes.size() / kHashSize);
        p = putVarint(p, resultHashes.size() / kHashSize);
        if (!inputHashes.empty()) std::memcpy(p, inputHashes.data(), inputHashes.size());
        p += inputHashes.size();
        if (!resultHashes.empty()) std::memcpy(p, resultHashes.data(), resultHashes.size());
        p += resultHashes.size();
    }
    return size_t(p - out);
}

void appendChunkEntry(std::string& body, uint64_t previous, uint64_t invocation, std::string_view recordHead,
                      std::string_view recordTail, std::string_view inputHashes, std::string_view resultHashes) {
    const uint64_t gap = invocation - previous - 1;
    const size_t at = body.size();
    body.resize(at + chunkEntrySize(gap, recordHead.size() + recordTail.size(), inputHashes.size() / kHashSize,
                                    resultHashes.size() / kHashSize));
    body.resize(at + writeChunkEntry(body.data() + at, gap, recordHead, recordTail, inputHashes, resultHashes));
}

ChunkHeader::ChunkHeader(uint64_t count, uint64_t lastDelta) {
    char* p = putVarint(bytes, count);
    p = putVarint(p, lastDelta);
    size = size_t(p - bytes);
}

}  // namespace callmonitor::codec
