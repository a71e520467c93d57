// Chunks: the v2 `calls` values. Consecutive records of one function in one
// writer, packed into one LMDB value under the key of its first invocation
// (keys.h). Ranges of one function's chunks never overlap: a chunk holds the
// invocations from its key up to the next chunk's key (exclusive), in
// increasing order. Built by the writer and by merge, read by Snapshot.
//
//   chunk := varint count | varint lastDelta | count x entry
//            (lastDelta = last invocation - first invocation)
//   entry := varint head | (head & 1) u8 flags | (flags & 1) varint gap
//            | record (format.h) | (flags & 2) refs
//            head = recordLen << 1 | hasFlags   (flags = hasGap | hasRefs << 1,
//            never 0; other bits are a CorruptError)
//            invocation = previous + 1 + gap (gap 0 when absent), where
//            "previous" of the first entry is first - 1 (so it has no gap)
//   refs  := varint nInputs | varint nResults | (nInputs + nResults) x 16-byte hash
//            the payload slot -> content hash tables (payload_codec.h):
//            input slots 0.., then result slots 0..
//
// A small call (record < 64 bytes, next invocation, no payloads) costs one
// byte of framing; up to 8 KiB, two (a gap or payload refs add the flags
// byte). Every
// field is checked against the bytes present: hostile framing is a
// CorruptError, never a read past the value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace callmonitor::codec {

inline constexpr size_t kHashSize = 16;
// Entry flags (the byte after a head with its low bit set).
inline constexpr uint8_t kEntryHasGap = 1;
inline constexpr uint8_t kEntryHasRefs = 2;

struct ChunkEntry {
    uint64_t invocation = 0;
    std::string_view record;
    std::string_view inputHashes;   // kHashSize bytes per input slot
    std::string_view resultHashes;  // kHashSize bytes per result slot
};

// Reads a chunk whose key says its first invocation is `first`.
class ChunkReader {
public:
    ChunkReader() = default;
    // Throws CorruptError when the header is malformed.
    ChunkReader(std::string_view chunk, uint64_t first);
    uint64_t count() const { return count_; }
    uint64_t first() const { return first_; }
    uint64_t last() const { return last_; }
    // The next entry; false after the last. Throws CorruptError on bad framing
    // (including entries that disagree with the header's count or last).
    bool next(ChunkEntry& out);
    // Skips (framing only, no ChunkEntry) the entries before invocation
    // `inv`: the next next() returns the first entry >= inv. get(fn, n)'s scan.
    void skipBefore(uint64_t inv);
    // Bytes from the current position to the end (entries not read yet).
    std::string_view rest() const { return {p_, size_t(end_ - p_)}; }
    uint64_t previous() const { return prev_; }

private:
    [[noreturn]] void fail(const char* what) const;
    // One entry's framing, checked (next() and skipBefore() alike): its head
    // (invocation, record length, has refs), its refs' counts, and the count
    // and range checks once it is read.
    void entryHead(const uint8_t*& p, const uint8_t* end, uint64_t& inv, uint64_t& len, bool& refs);
    void entryRefs(const uint8_t*& p, const uint8_t* end, uint64_t& nIn, uint64_t& nOut);
    void entryDone(uint64_t inv);
    const char* p_ = nullptr;
    const char* end_ = nullptr;
    uint64_t first_ = 0, last_ = 0, count_ = 0, seen_ = 0, prev_ = 0;
};

// Appends one entry to a chunk body: the record is recordHead + recordTail
// (the writer completes a Pending entry with its outcome while copying).
// `previous` is the invocation of the entry before it (first - 1 for the first).
void appendChunkEntry(std::string& body, uint64_t previous, uint64_t invocation, std::string_view recordHead,
                      std::string_view recordTail, std::string_view inputHashes, std::string_view resultHashes);
// The two parts of an entry around its record (for writing a record that is
// not in memory in one piece): head (| gap), and the refs.
void appendEntryHead(std::string& out, uint64_t gap, size_t recordLen, bool hasRefs);
void appendEntryRefs(std::string& out, std::string_view inputHashes, std::string_view resultHashes);
// The writer's fast path: writes the entry at `out`, which has room for
// chunkEntrySize(...) bytes; returns the bytes written.
size_t writeChunkEntry(char* out, uint64_t gap, std::string_view recordHead, std::string_view recordTail,
                       std::string_view inputHashes, std::string_view resultHashes);
// Bytes an entry takes (for the chunk size limit), without building it.
size_t chunkEntrySize(uint64_t gap, size_t recordBytes, size_t inputSlots, size_t resultSlots);

// A chunk's header for `count` entries ending at `lastDelta`: written in
// front of the body (the writer reserves header + body in LMDB and copies
// both straight into the page).
struct ChunkHeader {
    char bytes[20];
    size_t size = 0;
    ChunkHeader(uint64_t count, uint64_t lastDelta);
    std::string_view view() const { return {bytes, size}; }
};

}  // namespace callmonitor::codec
