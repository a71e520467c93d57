// Writing calls into chunks and payloads into the payload store, inside a
// write transaction (the format is drawn in src/codec/chunk.h and
// src/codec/payload_codec.h). Used by the Writer (each commit) and by merge.
//
// Chunks per function: a call after the function's last stored invocation is
// appended to the function's tail chunk while it has room (so a function
// called 10x/s still fills chunks across commits), else it starts a new one;
// a late call (an invocation at or below the last stored one) is inserted
// into the chunk whose range holds it, so ranges never overlap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "callmonitor/format.h"
#include "callmonitor/payload.h"
#include "codec/chunk.h"
#include "codec/payload_codec.h"
#include "lmdb/env_registry.h"

namespace callmonitor::store {

struct CallToStore {
    format::CallKey key;
    // The record is head + tail: a complete record, or a Pending entry
    // without its Pending byte (head) and its outcome section (tail).
    std::string_view recordHead;
    std::string_view recordTail;
    std::string_view inputHashes;   // 16 bytes per input slot
    std::string_view resultHashes;  // 16 bytes per result slot
};

class ChunkWriter {
public:
    // Chunk bodies stay below this unless one record alone is larger: two
    // LMDB pages (8 KiB, about 250 small calls; measured in bench/README.md).
    static constexpr unsigned kChunkPages = 2;
    static size_t chunkLimit(unsigned pageSize);

    ChunkWriter(const SharedEnv& env, Compression compression, int level);

    // Starts work in `txn` (forgets any cached tail: a new transaction).
    void begin(const lmdb::Txn& txn);
    // Calls of one function in increasing invocation order are appended to
    // its tail chunk; a call at or below its last stored invocation is
    // inserted into the chunk holding it (a rewrite of that chunk), and a
    // call whose key is already stored replaces it.
    void add(const CallToStore& call);
    // Writes the open tail chunk. Call before the transaction commits and
    // before complete().
    void finishFunction();

    // A late outcome: completes `key`'s Pending record in its chunk with
    // `outcome` and the result payloads. Returns false (nothing written) when
    // no Pending record of `key` is stored.
    bool complete(const format::CallKey& key, std::string_view outcome, Payload* results, size_t nResults);

    // Stores a payload unless its hash is stored already; returns the hash.
    codec::Hash storePayload(std::string_view raw);
    // Result slots: hashes appended to `out` (sameAsInput refers to `inputHashes`).
    void storeResults(Payload* results, size_t n, std::string_view inputHashes, std::string& out);
    // Merge: a stored payload value (codec | size | bytes) under its hash, unless present.
    void copyStoredPayload(std::string_view hash, std::string_view stored);

    uint64_t payloadsStored() const { return payloadsStored_; }
    uint64_t payloadBytesStored() const { return payloadBytes_; }

private:
    struct Tail {
        bool loaded = false;    // state below describes the function's last chunk
        bool exists = false;    // a last chunk exists (stored, or being built)
        bool dirty = false;     // body changed since stored
        bool full = false;      // the stored last chunk has no room: body not loaded
        uint32_t function = 0;
        uint64_t first = 0, last = 0, count = 0;
        // Entries (without the chunk header): a buffer of limit_ bytes, filled
        // through writeChunkEntry (no per-append checks or zero fill).
        std::unique_ptr<char[]> buffer;
        size_t size = 0;
        std::string_view body() const { return {buffer.get(), size}; }
    };
    void loadTail(uint32_t function);
    void flushTail();
    void putSingle(const CallToStore& call);
    void putChunk(uint32_t function, uint64_t first, uint64_t count, uint64_t last, std::string_view body);
    // Finds the chunk holding `key` (greatest chunk key <= key of the same function).
    bool findChunk(const format::CallKey& key, uint64_t& first, std::string_view& chunk) const;
    void insertLate(const CallToStore& call);
    void storeRaw(const codec::Hash& h, std::string_view raw);

    const SharedEnv& env_;
    const lmdb::Txn* txn_ = nullptr;
    Compression compression_;
    int level_;
    size_t limit_;
    Tail tail_;
    std::string scratch_, compressed_;
    uint64_t payloadsStored_ = 0, payloadBytes_ = 0;
};

}  // namespace callmonitor::store
