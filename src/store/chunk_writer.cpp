#include "store/chunk_writer.h"

#include <cstring>

#include "callmonitor/call_record.h"
#include "callmonitor/errors.h"
#include "codec/keys.h"
#include "lmdb/chunk_seek.h"

namespace callmonitor::store {
namespace {
// Payloads smaller than this are never compressed (zstd's frame overhead and
// the per-call time are not worth it).
constexpr size_t kCompressMinBytes = 4096;

char* reserve(const lmdb::Txn& txn, const lmdb::Dbi& dbi, std::string_view key, size_t size, unsigned flags,
              bool& existed) {
    MDB_val k = lmdb::val(key);
    MDB_val v{size, nullptr};
    const int rc = mdb_put(txn.handle(), dbi.handle(), &k, &v, flags | MDB_RESERVE);
    existed = rc == MDB_KEYEXIST;
    if (existed) return nullptr;
    if (rc) lmdb::raise(rc, "mdb_put", txn.env().path(), lmdb::Side::Write);
    return static_cast<char*>(v.mv_data);
}
}  // namespace

size_t ChunkWriter::chunkLimit(unsigned pageSize) {
    // A full chunk fills kChunkPages overflow pages exactly (16-byte page
    // header; the chunk header takes <= 20 bytes). Smaller (in-leaf) chunks
    // would leave LMDB's leaf pages half empty: its page split keeps one
    // 2 KiB node per page when keys arrive in order without MDB_APPEND.
    return size_t(kChunkPages) * pageSize - 16 - 20;
}

ChunkWriter::ChunkWriter(const SharedEnv& env, Compression compression, int level)
    : env_(env), compression_(compression), level_(level), limit_(chunkLimit(env.env.pageSize())) {
    tail_.buffer.reset(new char[limit_]);
}

void ChunkWriter::begin(const lmdb::Txn& txn) {
    txn_ = &txn;
    tail_.loaded = false;
}

void ChunkWriter::loadTail(uint32_t function) {
    Tail& t = tail_;
    t.exists = t.dirty = t.full = false;
    t.function = function;
    t.first = t.last = t.count = 0;
    t.size = 0;
    t.loaded = true;
    lmdb::Cursor c(*txn_, env_.calls);
    format::CallKey key;
    std::string_view chunk;
    if (!lmdb::seekLastChunk(c, function, key, chunk)) return;
    codec::ChunkReader r(chunk, key.invocation);
    t.exists = true;
    t.first = key.invocation;
    t.last = r.last();
    t.count = r.count();
    const std::string_view body = r.rest();
    if (body.size() >= limit_) {
        t.full = true;
    } else {
        std::memcpy(t.buffer.get(), body.data(), body.size());
        t.size = body.size();
    }
}

void ChunkWriter::putChunk(uint32_t function, uint64_t first, uint64_t count, uint64_t last, std::string_view body) {
    char key[format::kCallKeySize];
    format::encodeCallKey(format::CallKey{function, first}, key);
    const codec::ChunkHeader h(count, last - first);
    bool existed = false;
    char* out = reserve(*txn_, env_.calls, std::string_view(key, sizeof key), h.size + body.size(), 0, existed);
    std::memcpy(out, h.bytes, h.size);
    std::memcpy(out + h.size, body.data(), body.size());
}

void ChunkWriter::putSingle(const CallToStore& call) {
    const size_t record = call.recordHead.size() + call.recordTail.size();
    std::string head, refBytes;
    codec::appendEntryHead(head, 0, record, !call.inputHashes.empty() || !call.resultHashes.empty());
    codec::appendEntryRefs(refBytes, call.inputHashes, call.resultHashes);
    char key[format::kCallKeySize];
    format::encodeCallKey(call.key, key);
    const codec::ChunkHeader h(1, 0);
    bool existed = false;
    const size_t size = h.size + head.size() + record + refBytes.size();
    char* out = reserve(*txn_, env_.calls, std::string_view(key, sizeof key), size, 0, existed);
    for (std::string_view part : {h.view(), std::string_view(head), call.recordHead, call.recordTail, std::string_view(refBytes)}) {
        if (!part.empty()) std::memcpy(out, part.data(), part.size());
        out += part.size();
    }
}

void ChunkWriter::flushTail() {
    Tail& t = tail_;
    if (t.loaded && t.exists && t.dirty) putChunk(t.function, t.first, t.count, t.last, t.body());
    t.dirty = false;
}

void ChunkWriter::finishFunction() {
    flushTail();
    tail_.loaded = false;
}

void ChunkWriter::add(const CallToStore& call) {
    Tail& t = tail_;
    if (!t.loaded || t.function != call.key.function) {
        flushTail();
        loadTail(call.key.function);
    }
    if (t.exists && call.key.invocation <= t.last) {  // late (or a duplicate key)
        flushTail();
        insertLate(call);
        t.loaded = false;  // reload: the insert may have changed the tail chunk
        return;
    }
    const size_t record = call.recordHead.size() + call.recordTail.size();
    const uint64_t gap = t.exists ? call.key.invocation - t.last - 1 : 0;
    const size_t need = codec::chunkEntrySize(gap, record, call.inputHashes.size() / codec::kHashSize,
                                              call.resultHashes.size() / codec::kHashSize);
    if (need > limit_) {
        // Larger than a chunk: a chunk of its own, written straight into the
        // page LMDB reserves (no copy through the tail's buffer).
        flushTail();
        putSingle(call);
        t.exists = true;
        t.full = true;
        t.first = t.last = call.key.invocation;
        t.count = 1;
        t.size = 0;
        return;
    }
    if (!t.exists || t.full || t.size + need > limit_) {
        flushTail();
        t.exists = true;
        t.full = false;
        t.first = call.key.invocation;
        t.last = call.key.invocation - 1;
        t.count = 0;
        t.size = 0;
    }
    t.size += codec::writeChunkEntry(t.buffer.get() + t.size, call.key.invocation - t.last - 1, call.recordHead,
                                     call.recordTail, call.inputHashes, call.resultHashes);
    t.last = call.key.invocation;
    ++t.count;
    t.dirty = true;
}

bool ChunkWriter::findChunk(const format::CallKey& key, uint64_t& first, std::string_view& chunk) const {
    lmdb::Cursor c(*txn_, env_.calls);
    format::CallKey at;
    if (!lmdb::seekChunk(c, key, at, chunk)) return false;
    first = at.invocation;
    return true;
}

void ChunkWriter::insertLate(const CallToStore& call) {
    uint64_t first = 0;
    std::string_view chunk;
    std::string body;
    if (!findChunk(call.key, first, chunk)) {
        // Before every chunk of the function: a chunk of its own.
        codec::appendChunkEntry(body, call.key.invocation - 1, call.key.invocation, call.recordHead, call.recordTail,
                                call.inputHashes, call.resultHashes);
        putChunk(call.key.function, call.key.invocation, 1, call.key.invocation, body);
        return;
    }
    codec::ChunkReader r(chunk, first);
    codec::ChunkEntry e;
    uint64_t prev = first - 1, count = 0;
    bool placed = false;
    auto put = [&](uint64_t inv, std::string_view head, std::string_view tail, std::string_view in, std::string_view out) {
        codec::appendChunkEntry(body, prev, inv, head, tail, in, out);
        prev = inv;
        ++count;
    };
    while (r.next(e)) {
        if (!placed && e.invocation >= call.key.invocation) {
            put(call.key.invocation, call.recordHead, call.recordTail, call.inputHashes, call.resultHashes);
            placed = true;
            if (e.invocation == call.key.invocation) continue;  // replaced
        }
        put(e.invocation, e.record, {}, e.inputHashes, e.resultHashes);
    }
    if (!placed) put(call.key.invocation, call.recordHead, call.recordTail, call.inputHashes, call.resultHashes);
    putChunk(call.key.function, first, count, prev, body);
}

bool ChunkWriter::complete(const format::CallKey& key, std::string_view outcome, Payload* results, size_t nResults) {
    flushTail();
    tail_.loaded = false;
    uint64_t first = 0;
    std::string_view chunk;
    if (!findChunk(key, first, chunk)) return false;
    codec::ChunkReader r(chunk, first);
    codec::ChunkEntry e;
    while (r.next(e)) {
        if (e.invocation < key.invocation) continue;
        if (e.invocation > key.invocation) return false;
        CallView v;
        try {
            parseCallRecord(e.record, key, format::kFormatVersion, v);
        } catch (const DecodeError&) {
            return false;  // a malformed entry stays as stored
        }
        if (v.outcome != format::Outcome::Pending) return false;  // keep the first outcome
        // Copies: the chunk is rewritten below, in the same transaction.
        const std::string record(e.record.substr(0, e.record.size() - 1));
        const std::string inputs(e.inputHashes);
        std::string resultHashes;
        storeResults(results, nResults, inputs, resultHashes);
        CallToStore c{key, record, outcome, inputs, resultHashes};
        insertLate(c);
        return true;
    }
    return false;
}

void ChunkWriter::storeRaw(const codec::Hash& h, std::string_view raw) {
    bool existed = false;
    if (compression_ == Compression::Zstd && raw.size() >= kCompressMinBytes) {
        std::string_view have;
        if (env_.payloads.get(*txn_, h.view(), have)) return;
        if (codec::compressPayload(raw, level_, compressed_)) {
            const codec::PayloadHeader head(codec::PayloadCodec::Zstd, raw.size());
            char* out = reserve(*txn_, env_.payloads, h.view(), head.size + compressed_.size(), MDB_NOOVERWRITE, existed);
            if (existed) return;
            std::memcpy(out, head.bytes, head.size);
            std::memcpy(out + head.size, compressed_.data(), compressed_.size());
            ++payloadsStored_;
            payloadBytes_ += head.size + compressed_.size();
            return;
        }
    }
    const codec::PayloadHeader head(codec::PayloadCodec::Raw, raw.size());
    // The one copy of the bytes into the database: straight into the page
    // LMDB reserved (then the kernel's, when LMDB writes the page).
    char* out = reserve(*txn_, env_.payloads, h.view(), head.size + raw.size(), MDB_NOOVERWRITE, existed);
    if (existed) return;
    std::memcpy(out, head.bytes, head.size);
    if (!raw.empty()) std::memcpy(out + head.size, raw.data(), raw.size());
    ++payloadsStored_;
    payloadBytes_ += head.size + raw.size();
}

codec::Hash ChunkWriter::storePayload(std::string_view raw) {
    const codec::Hash h = codec::contentHash(raw.data(), raw.size());
    storeRaw(h, raw);
    return h;
}

void ChunkWriter::storeResults(Payload* results, size_t n, std::string_view inputHashes, std::string& out) {
    for (size_t i = 0; i < n; ++i) {
        const Payload& p = results[i];
        const int32_t k = p.sameAsInput;
        if (k >= 0 && size_t(k) < inputHashes.size() / codec::kHashSize) {
            out.append(inputHashes.substr(size_t(k) * codec::kHashSize, codec::kHashSize));
        } else {
            out.append(storePayload(k >= 0 ? std::string_view() : p.view()).view());
        }
    }
}

void ChunkWriter::copyStoredPayload(std::string_view hash, std::string_view stored) {
    bool existed = false;
    char* out = reserve(*txn_, env_.payloads, hash, stored.size(), MDB_NOOVERWRITE, existed);
    if (existed) return;
    std::memcpy(out, stored.data(), stored.size());
    ++payloadsStored_;
    payloadBytes_ += stored.size();
}

}  // namespace callmonitor::store
