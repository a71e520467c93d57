// The Writer: a bounded in-memory op stream filled by callers, and a
// background thread that swaps it out (double buffering) and commits it to
// LMDB in one transaction per batch, packing calls into chunks
// (store/chunk_writer.h).
#include "callmonitor/writer.h"

#include <pthread.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "callmonitor/call_record.h"
#include "callmonitor/errors.h"
#include "codec/keys.h"
#include "lmdb/env_registry.h"
#include "lmdb/lmdb.h"
#include "store/chunk_writer.h"
#include "store/write_env.h"

namespace callmonitor {
namespace {

// One op in the buffer: a fixed header, then `size` bytes.
//
//   +---------+-----+--------+----------------+----------+---------+----------+
//   | kind u8 | pad | id u32 | invocation u64 | size u64 | nIn u32 | nOut u32 |   (32 bytes)
//   +---------+-----+--------+----------------+----------+---------+----------+
//   Entry: the record ending in Pending, nIn input payloads.
//   Call: an Entry its outcome completed in the lane (record complete), then
//         nIn input and nOut result payloads.
//   Outcome: the outcome section, nOut result payloads.
//   The payloads of an op are the next nIn + nOut items of the batch's
//   payload vector. Native byte order: the buffer never leaves memory.
enum class OpKind : uint8_t { Function, Thread, Caller, Site, Label, Entry, Call, Outcome };

struct OpHeader {
    OpKind kind;
    uint8_t pad[3];
    uint32_t id;
    uint64_t invocation;
    uint64_t size;
    uint32_t nIn;
    uint32_t nOut;
};
static_assert(sizeof(OpHeader) == 32);

struct Batch {
    ByteBuffer ops;  // appends inline: submit*() is on the caller's thread
    std::vector<Payload> payloads;
    uint64_t bytes = 0;    // ops + payload bytes: what counts against the bound
    uint64_t entries = 0;  // calls submitted in this batch
    // Runs of call ops appended one after another: a lane drained (its calls
    // in the order its thread made them; drained again with no other run in
    // between, the same run), or call ops submitted without a lane. Two or
    // more: the calls of one function may interleave across runs (threads
    // taking turns), so the batch is sorted in large slices rather than
    // stored run by run (see storeSlice).
    uint32_t runs = 0;
    const void* lastRun = nullptr;  // the lane (or kDirectRun) that appended last
    void noteRun(const void* source) {
        if (source == lastRun) return;
        ++runs;
        lastRun = source;
    }

    bool empty() const { return ops.empty(); }
    void clear() {  // keeps the capacity: the next batch is about as big
        ops.clear();
        payloads.clear();
        bytes = 0;
        entries = 0;
        runs = 0;
        lastRun = nullptr;
    }
};

uint64_t payloadBytes(const std::vector<Payload>* payloads) {
    uint64_t n = 0;
    if (payloads)
        for (const Payload& p : *payloads) n += p.size;
    return n;
}

// Appends one op (header, bytes; its payloads are moved) to `batch`.
// Returns the bytes it adds against the buffer bound. Inlined: it is most
// of every submit on the caller's thread.
__attribute__((always_inline)) inline uint64_t appendOp(Batch& batch, OpKind kind, uint32_t id, uint64_t invocation, std::string_view bytes,
                  std::vector<Payload>* payloads) {
    const uint32_t n = payloads ? static_cast<uint32_t>(payloads->size()) : 0;
    OpHeader h{kind, {}, id, invocation, bytes.size(), kind == OpKind::Outcome ? 0 : n, kind == OpKind::Outcome ? n : 0};
    // One capacity check for the header and the bytes.
    char* at = batch.ops.space(sizeof h + bytes.size());
    std::memcpy(at, &h, sizeof h);
    if (!bytes.empty()) std::memcpy(at + sizeof h, bytes.data(), bytes.size());
    batch.ops.advanceTo(at + sizeof h + bytes.size());
    uint64_t added = sizeof h + bytes.size();
    if (n) {
        added += payloadBytes(payloads);
        for (Payload& p : *payloads) batch.payloads.push_back(std::move(p));
        payloads->clear();
    }
    if (kind == OpKind::Entry) ++batch.entries;
    batch.bytes += added;
    return added;
}

struct OpView {
    OpHeader h;
    std::string_view bytes;
};

// Reads the op at `pos` and advances it.
OpView readOp(const ByteBuffer& ops, size_t& pos) {
    OpView op;
    std::memcpy(&op.h, ops.data() + pos, sizeof op.h);
    pos += sizeof op.h;
    op.bytes = std::string_view(ops.data() + pos, op.h.size);
    pos += op.h.size;
    return op;
}

void defaultFailureReport(const std::string& message) {
    std::fprintf(stderr, "callmonitor: warning: %s\n", message.c_str());
}

constexpr size_t kNoEntry = ~size_t(0);
const char kDirectRun = 0;  // Batch::lastRun of call ops submitted without a lane

}  // namespace

// A lane publishes its size to the writer's counters in steps of this many
// bytes, so the buffer bound is exact to within this much per lane.
constexpr uint64_t kLaneAccountingBytes = 4096;

class Writer::Lane {
public:
    // A spin lock: held by the owning thread for one append, by the writer
    // thread for one drain; both are short and rarely meet.
    void lock() {
        while (busy_.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
    }
    void unlock() { busy_.clear(std::memory_order_release); }

    Batch batch;       // guarded by lock()
    uint64_t ops = 0;  // ops in `batch`
    // Bytes of `batch` not yet counted in the writer's shared counters: they
    // are published every kLaneAccountingBytes, sparing a locked add per op.
    uint64_t unaccounted = 0;
    // Offset of the last op when it is an Entry still waiting for its outcome.
    size_t lastEntry = kNoEntry;

private:
    std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
};

struct Writer::Impl {
    WriterOptions options;
    // Shared with any Database of this process on the same directory; closed
    // by whichever releases it last.
    std::shared_ptr<store::SharedEnv> shared;

    lmdb::Env& env() const { return shared->env; }

    // Guarded by `mutex`.
    mutable std::mutex mutex;
    std::condition_variable wakeWriter;  // work for the writer thread
    std::condition_variable committed;   // a batch was committed (flush, waitForRoom)
    Batch pending;
    uint64_t submittedOps = 0;   // sequence number of the last submitted op
    uint64_t committedOps = 0;   // every op up to this one is committed (or dropped on failure)
    uint64_t flushTarget = 0;    // commit now when committedOps < flushTarget
    // lanes + pending + the batch being committed. Atomic: lanes add to it
    // without `mutex`, and hasRoom() (every recorded call) reads it lock-free.
    std::atomic<uint64_t> uncommittedBytes{0};
    bool stopping = false;
    std::string errorMessage;

    std::atomic<bool> failedFlag{false};
    std::atomic<uint64_t> currentMapSize{0};
    std::atomic<uint64_t> commitCount{0};
    std::atomic<uint64_t> usedBytes{0};  // pages in use after the last commit, in bytes
    std::string policyScratch;

    void measureUsedBytes() {
        MDB_stat st{};
        if (mdb_env_stat(env().handle(), &st) != 0) return;
        usedBytes.store((env().info().me_last_pgno + 1) * uint64_t(st.ms_psize), std::memory_order_relaxed);
    }
    // meta["policy"] into `txn` when it changed; true when written.
    bool putPolicy(const lmdb::Txn& txn) {
        if (!options.policyRecord || !options.policyRecord(&policyScratch)) return false;
        shared->meta.put(txn, format::kMetaPolicy, policyScratch);
        return true;
    }
    // An idle round: the policy counts changed without any call to store
    // (every call dropped).
    void commitPolicyOnly() {
        if (!options.policyRecord || failedFlag.load()) return;
        try {
            std::shared_lock<store::MapGate> mapInUse(shared->gate);
            lmdb::Txn txn(env(), 0);
            if (!putPolicy(txn)) return;  // the txn aborts, nothing written
            txn.commit();
        } catch (const std::exception&) {
            // Counts only: the next commit with calls stores them (or fails loudly).
        }
    }
    // Set by flushFromSignal(); `cycles` counts the writer loop's rounds
    // (drain + commit), so a waiter can tell a round began after it asked.
    std::atomic<bool> urgent{false};
    std::atomic<uint64_t> cycles{0};
    std::atomic<bool> finished{false};  // run() returned: nothing more will be committed
    std::atomic<uint64_t> opaque{0}, pickled{0}, captureErrors{0}, droppedCalls{0};

    std::thread thread;
    std::atomic<bool> closed{false};

    // Writer-thread only.
    Batch inflight;
    std::unique_ptr<store::ChunkWriter> chunks;

    // Producer lanes (the vector is guarded by `mutex`; each lane by its own lock).
    std::vector<std::unique_ptr<Lane>> lanes;
    std::atomic<uint64_t> laneBytes{0};  // bytes in lanes, not yet drained into `pending`

    // A lane keeps this much buffer capacity between drains (a 100 ms batch
    // is ~15 MB for small calls: re-growing it from empty costs the caller).
    size_t laneKeepBytes() const { return std::max<size_t>(size_t(4) << 20, options.maxBufferBytes / 2); }

    // Moves every lane's ops into `pending` (caller holds `mutex`). A call's
    // entry and outcome share a lane, so they stay in order.
    void drainLanes() {
        for (auto& lane : lanes) {
            lane->lock();
            if (lane->ops) {
                Batch& b = lane->batch;
                if (pending.ops.empty()) pending.ops.swap(b.ops);  // no copy; the lane gets pending's capacity
                else pending.ops.append(b.ops.view());
                if (pending.payloads.empty()) pending.payloads.swap(b.payloads);
                else
                    for (Payload& p : b.payloads) pending.payloads.push_back(std::move(p));
                pending.bytes += b.bytes;
                pending.entries += b.entries;
                pending.noteRun(lane.get());
                submittedOps += lane->ops;
                // The published part leaves the lanes; the unpublished part
                // is counted now, as it joins `pending`.
                laneBytes.fetch_sub(b.bytes - lane->unaccounted, std::memory_order_relaxed);
                uncommittedBytes.fetch_add(lane->unaccounted, std::memory_order_relaxed);
                lane->unaccounted = 0;
                b.clear();
                if (b.ops.capacity() > laneKeepBytes()) ByteBuffer().swap(b.ops);  // one huge call: give it back
                lane->ops = 0;
                lane->lastEntry = kNoEntry;
            }
            lane->unlock();
        }
    }

    // failedFlag || closed, in one flag: lane submits read it on every op.
    std::atomic<bool> refusing{false};
    bool dropping() const { return refusing.load(std::memory_order_relaxed); }

    // Counts `added` bytes of `lane` (called with the lane unlocked).
    void publish(uint64_t publish) {
        if (!publish) return;
        uncommittedBytes.fetch_add(publish, std::memory_order_relaxed);
        uint64_t inLanes = laneBytes.fetch_add(publish, std::memory_order_relaxed) + publish;
        const uint64_t quarter = quarterBound();
        if (inLanes >= quarter && inLanes - publish < quarter) wakeWriter.notify_one();
    }

    uint64_t accountLocked(Lane& lane, uint64_t added) {
        lane.unaccounted += added;
        if (lane.unaccounted < kLaneAccountingBytes) return 0;
        const uint64_t p = lane.unaccounted;
        lane.unaccounted = 0;
        return p;
    }

    __attribute__((always_inline)) void appendToLane(Lane& lane, OpKind kind, uint32_t id, uint64_t invocation, std::string_view bytes,
                      std::vector<Payload>* payloads) {
        if (dropping()) {
            if (kind == OpKind::Entry) droppedCalls.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        lane.lock();
        const size_t at = lane.batch.ops.size();
        const uint64_t added = appendOp(lane.batch, kind, id, invocation, bytes, payloads);
        lane.lastEntry = kind == OpKind::Entry ? at : kNoEntry;
        ++lane.ops;
        const uint64_t p = accountLocked(lane, added);
        lane.unlock();
        publish(p);
    }

    // The outcome of the lane's last op, when that op is the call's entry:
    // completes it in place (one op per call, no copy of the record).
    __attribute__((always_inline)) void outcomeToLane(Lane& lane, const format::CallKey& key, std::string_view outcome,
                       std::vector<Payload>* results) {
        if (dropping()) return;
        lane.lock();
        if (lane.lastEntry != kNoEntry) {
            ByteBuffer& ops = lane.batch.ops;
            OpHeader h;
            std::memcpy(&h, ops.data() + lane.lastEntry, sizeof h);
            // A huge entry is not grown in place (that could reallocate a
            // copy of it): the writer joins the two while storing them.
            if (h.kind == OpKind::Entry && h.id == key.function && h.invocation == key.invocation && h.size > 0 &&
                h.size + outcome.size() <= ops.capacity() - lane.lastEntry - sizeof h &&
                ops.data()[ops.size() - 1] == static_cast<char>(format::Outcome::Pending)) {
                // The outcome replaces the Pending byte (room checked above: no growth).
                char* at = ops.data() + ops.size() - 1;
                detail::copyBytes(at, outcome.data(), outcome.size());
                ops.advanceTo(at + outcome.size());
                h.kind = OpKind::Call;
                h.size = h.size - 1 + outcome.size();
                h.nOut = results ? static_cast<uint32_t>(results->size()) : 0;
                std::memcpy(ops.data() + lane.lastEntry, &h, sizeof h);
                uint64_t added = outcome.size() - 1;
                if (h.nOut) {
                    added += payloadBytes(results);
                    for (Payload& p : *results) lane.batch.payloads.push_back(std::move(p));
                    results->clear();
                }
                lane.batch.bytes += added;
                lane.lastEntry = kNoEntry;
                const uint64_t p = accountLocked(lane, added);
                lane.unlock();
                publish(p);
                return;
            }
        }
        lane.unlock();
        appendToLane(lane, OpKind::Outcome, key.function, key.invocation, outcome, results);
    }

    uint64_t quarterBound() const { return std::max<uint64_t>(options.maxBufferBytes / 4, 1); }

    CaptureStats stats() const {
        CaptureStats s;
        s.opaque = opaque.load(std::memory_order_relaxed);
        s.pickled = pickled.load(std::memory_order_relaxed);
        s.captureErrors = captureErrors.load(std::memory_order_relaxed);
        s.droppedCalls = droppedCalls.load(std::memory_order_relaxed);
        return s;
    }

    // Appends one op under the lock. Never blocks on the writer thread's work.
    void append(OpKind kind, uint32_t id, uint64_t invocation, std::string_view bytes,
                std::vector<Payload>* payloads) {
        if (failedFlag.load(std::memory_order_relaxed)) {
            if (kind == OpKind::Entry) droppedCalls.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        std::lock_guard<std::mutex> lock(mutex);
        if (failedFlag.load(std::memory_order_relaxed) || closed) {
            if (kind == OpKind::Entry) droppedCalls.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        const uint64_t added = appendOp(pending, kind, id, invocation, bytes, payloads);
        if (kind == OpKind::Entry || kind == OpKind::Outcome) pending.noteRun(&kDirectRun);
        const uint64_t quarter = quarterBound();
        const bool crossedQuarter = pending.bytes - added < quarter && pending.bytes >= quarter;
        uncommittedBytes.fetch_add(added, std::memory_order_relaxed);  // lanes add without `mutex`
        ++submittedOps;
        if (crossedQuarter) wakeWriter.notify_one();
    }

    void fail(const std::string& cause) {
        const std::string message = "could not store calls in " + options.directory + " (" + cause +
                                    fullDiskHint() + "); capture stopped for this writer, later calls are not recorded";
        {
            std::lock_guard<std::mutex> lock(mutex);
            errorMessage = message;
            failedFlag.store(true);
            refusing.store(true);
            drainLanes();
            droppedCalls.fetch_add(pending.entries, std::memory_order_relaxed);
            uncommittedBytes -= pending.bytes;
            pending.clear();
            committedOps = submittedOps;
        }
        committed.notify_all();
        try {
            if (options.onFailure) options.onFailure(message);
            else defaultFailureReport(message);
        } catch (...) {
            // A reporting callback must not take the writer thread down.
        }
    }

    std::string fullDiskHint() const { return store::fullDiskHint(options.directory); }

    static constexpr std::chrono::milliseconds kUrgentPoll{50};

    void run() {
        // Signals go to the program's threads, never to this one: a handler
        // that waits for this thread (flushFromSignal) must not run on it.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        std::unique_lock<std::mutex> lock(mutex);
        for (;;) {
            // Waits in slices of at most kUrgentPoll: a signal handler cannot
            // notify a condition variable, it can only set `urgent`.
            const auto due = std::chrono::steady_clock::now() + options.flushInterval;
            auto ready = [&] {
                return stopping || committedOps < flushTarget || urgent.load(std::memory_order_relaxed) ||
                       pending.bytes + laneBytes.load(std::memory_order_relaxed) >= quarterBound();
            };
            for (auto now = std::chrono::steady_clock::now(); now < due && !ready();
                 now = std::chrono::steady_clock::now()) {
                wakeWriter.wait_for(lock, std::min<std::chrono::steady_clock::duration>(due - now, kUrgentPoll), ready);
            }
            urgent.store(false, std::memory_order_relaxed);
            drainLanes();
            if (!pending.empty() && !failedFlag.load()) {
                std::swap(pending, inflight);
                const uint64_t batchOps = submittedOps;
                lock.unlock();
                bool ok = true;
                try {
                    commitBatch(inflight);
                } catch (const std::exception& e) {
                    ok = false;
                    droppedCalls.fetch_add(inflight.entries, std::memory_order_relaxed);
                    fail(e.what());
                } catch (...) {
                    ok = false;
                    fail("unknown error while committing");
                }
                const uint64_t batchBytes = inflight.bytes;
                inflight.clear();
                if (inflight.ops.capacity() > 2 * options.maxBufferBytes + (1 << 20)) {
                    ByteBuffer().swap(inflight.ops);  // do not keep a huge one-off buffer
                }
                lock.lock();
                if (ok) committedOps = std::max(committedOps, batchOps);
                uncommittedBytes -= std::min(uncommittedBytes.load(), batchBytes);
                committed.notify_all();
            } else if (pending.empty()) {
                if (options.policyRecord) {
                    lock.unlock();
                    commitPolicyOnly();
                    lock.lock();
                }
                committedOps = submittedOps;  // nothing left: wake any flush()
                committed.notify_all();
            }
            cycles.fetch_add(1, std::memory_order_release);
            if (stopping) {
                // Producers may have filled their lanes while this round committed.
                drainLanes();
                if (pending.empty() || failedFlag.load()) break;
            }
        }
        cycles.fetch_add(1, std::memory_order_release);
        finished.store(true, std::memory_order_release);
    }

    // One transaction for the whole batch; on MDB_MAP_FULL the map doubles
    // and the same batch is retried. The failed transaction is aborted before
    // the resize; the resize waits until no Snapshot of this process is live
    // in the environment (mdb_env_set_mapsize remaps under their views).
    void commitBatch(Batch& batch) {
        for (;;) {
            try {
                commitOnce(batch);
                return;
            } catch (const lmdb::MapFullError&) {
                std::lock_guard<store::MapGate> resizing(shared->gate);
                env().setMapSize(env().info().me_mapsize * 2);
                currentMapSize.store(env().info().me_mapsize);
            }
        }
    }

    struct EntryRef {
        format::CallKey key;
        std::string_view record;   // as submitted (complete when `complete` and outcome is empty)
        std::string_view outcome;  // set when its outcome op is in the same batch
        uint32_t inBegin, nIn;     // into batch.payloads
        uint32_t outBegin, nOut;
        bool complete;             // a Call op, or an outcome was matched
        size_t hashBegin;          // into `hashes`: nIn input then nOut result hashes
    };
    struct LateOutcome {
        format::CallKey key;
        std::string_view outcome;
        uint32_t outBegin, nOut;
    };
    // What gets sorted: small, so the sort moves 16 bytes per entry.
    struct SortKey {
        uint64_t invocation;
        uint32_t function;
        uint32_t index;  // into entries; breaks ties so a key submitted twice keeps submission order
        bool operator<(const SortKey& o) const {
            if (function != o.function) return function < o.function;
            if (invocation != o.invocation) return invocation < o.invocation;
            return index < o.index;
        }
    };
    // Scratch of commitOnce, kept across commits (no allocation per batch).
    std::vector<EntryRef> entries;
    std::vector<LateOutcome> lateOutcomes;
    std::vector<SortKey> order;
    std::string hashes;

    void putU32(const lmdb::Txn& txn, const lmdb::Dbi& dbi, uint32_t id, std::string_view value) {
        dbi.put(txn, format::encodeU32Key(id), value);
    }

    // A Function, Thread, Caller, Site or Label op: one value under its id.
    void storeMetadata(const lmdb::Txn& txn, const OpView& op) {
        const store::SharedEnv& dbs = *shared;
        switch (op.h.kind) {
            case OpKind::Function: putU32(txn, dbs.functions, op.h.id, op.bytes); break;
            case OpKind::Thread: putU32(txn, dbs.threads, op.h.id, op.bytes); break;
            case OpKind::Caller: putU32(txn, dbs.callers, op.h.id, op.bytes); break;
            case OpKind::Site: putU32(txn, dbs.sites, op.h.id, op.bytes); break;
            case OpKind::Label: putU32(txn, dbs.labels, op.h.id, op.bytes); break;
            default: break;
        }
    }

    // Stores the ops from `pos` up to about kSliceEntries calls (and the
    // outcomes right after them) into `txn`; returns where the next slice
    // begins. An outcome whose entry is in an earlier slice or batch is a late
    // outcome: ChunkWriter::complete() patches the stored chunk.
    size_t storeSlice(const lmdb::Txn& txn, Batch& batch, size_t pos, uint32_t& payloadIndex) {
        // One run (one thread's calls): slices in order, stored as they come.
        // Several: each run is in order by itself, but the runs interleave;
        // stored run by run, every call of a later run below the function's
        // last stored one would be a late insert that rewrites its chunk
        // (8 threads x 10,000 calls of one function: ~80,000 chunk rewrites).
        // One large sorted slice stores them in order instead.
        const bool interleaved = batch.runs > 1;
        const size_t sliceEntries = interleaved ? kInterleavedSliceEntries : kSliceEntries;
        if (!interleaved)
            if (const size_t end = inOrderSliceEnd(batch.ops, pos)) return storeInOrderSlice(txn, batch.ops, pos, end);
        entries.clear();
        lateOutcomes.clear();
        hashes.clear();
        size_t hashSlots = 0;  // payload slots of this slice's entries and outcomes
        while (pos < batch.ops.size()) {
            if (entries.size() >= sliceEntries) {
                // Ends the slice before the next op that is not an outcome: the
                // outcomes of nested calls just after the limit still find
                // their entries here.
                OpHeader next;
                std::memcpy(&next, batch.ops.data() + pos, sizeof next);
                if (next.kind != OpKind::Outcome) break;
            }
            // The caller wrote these ops on another core: ask for them well
            // ahead (the hardware prefetcher stops at each 4 KiB page).
            __builtin_prefetch(batch.ops.data() + std::min(pos + kPrefetchBytes, batch.ops.size() - 1));
            const OpView op = readOp(batch.ops, pos);
            const OpHeader& h = op.h;
            switch (h.kind) {
                case OpKind::Entry:
                case OpKind::Call:
                    entries.push_back(EntryRef{{h.id, h.invocation}, op.bytes, {}, payloadIndex, h.nIn,
                                               payloadIndex + h.nIn, h.nOut, h.kind == OpKind::Call, 0});
                    payloadIndex += h.nIn + h.nOut;
                    hashSlots += h.nIn + h.nOut;
                    break;
                case OpKind::Outcome: {
                    // Usually its entry is among the last few submitted: look there first.
                    const format::CallKey key{h.id, h.invocation};
                    bool matched = false;
                    for (size_t back = 0; back < 16 && back < entries.size(); ++back) {
                        EntryRef& e = entries[entries.size() - 1 - back];
                        if (e.key == key && !e.complete) {
                            e.outcome = op.bytes;
                            e.outBegin = payloadIndex;
                            e.nOut = h.nOut;
                            e.complete = matched = true;
                            break;
                        }
                    }
                    if (!matched) lateOutcomes.push_back(LateOutcome{key, op.bytes, payloadIndex, h.nOut});
                    payloadIndex += h.nOut;
                    hashSlots += h.nOut;
                    break;
                }
                default: storeMetadata(txn, op); break;
            }
        }
        order.resize(entries.size());
        bool sorted = true;
        for (size_t i = 0; i < entries.size(); ++i) {
            order[i] = SortKey{entries[i].key.invocation, entries[i].key.function, uint32_t(i)};
            if (i && order[i] < order[i - 1]) sorted = false;
        }
        if (!sorted) std::sort(order.begin(), order.end());
        // The remaining outcomes: an entry elsewhere in this slice, or one stored earlier.
        size_t unmatched = 0;
        for (LateOutcome& late : lateOutcomes) {
            auto it = std::upper_bound(order.begin(), order.end(),
                                       SortKey{late.key.invocation, late.key.function, UINT32_MAX});
            EntryRef* e = it != order.begin() ? &entries[std::prev(it)->index] : nullptr;
            if (e && e->key == late.key && !e->complete) {
                e->outcome = late.outcome;
                e->outBegin = late.outBegin;
                e->nOut = late.nOut;
                e->complete = true;
            } else {
                lateOutcomes[unmatched++] = late;
            }
        }
        lateOutcomes.resize(unmatched);

        store::ChunkWriter& cw = *chunks;
        Payload* payloads = batch.payloads.data();
        // Payloads first (hashed here, on the writer thread), then the chunks naming them.
        // Room for every slot: `hashes` never reallocates, so views into it stay valid.
        if (hashSlots) {
            hashes.reserve(hashSlots * codec::kHashSize);
            for (EntryRef& e : entries) {
                if (!e.nIn && !e.nOut) continue;
                e.hashBegin = hashes.size();
                for (uint32_t i = 0; i < e.nIn; ++i)
                    hashes.append(cw.storePayload(payloads[e.inBegin + i].view()).view());
                cw.storeResults(payloads + e.outBegin, e.nOut,
                                std::string_view(hashes.data() + e.hashBegin, size_t(e.nIn) * codec::kHashSize), hashes);
            }
        }
        uint32_t function = entries.empty() ? 0 : entries[order[0].index].key.function;
        for (const SortKey& s : order) {
            const EntryRef& e = entries[s.index];
            if (e.key.function != function) {
                cw.finishFunction();
                function = e.key.function;
            }
            store::CallToStore c;
            c.key = e.key;
            if (!e.outcome.empty() && !e.record.empty() &&
                e.record.back() == static_cast<char>(format::Outcome::Pending)) {
                c.recordHead = e.record.substr(0, e.record.size() - 1);
                c.recordTail = e.outcome;
            } else {  // complete already, or no outcome yet (or malformed: stored as submitted)
                c.recordHead = e.record;
            }
            if (e.nIn || e.nOut) {
                c.inputHashes = std::string_view(hashes.data() + e.hashBegin, size_t(e.nIn) * codec::kHashSize);
                c.resultHashes = std::string_view(hashes.data() + e.hashBegin + c.inputHashes.size(),
                                                  size_t(e.nOut) * codec::kHashSize);
            }
            if (c.recordHead.empty() && c.recordTail.empty()) continue;  // nothing to store
            cw.add(c);
        }
        // The tail chunk stays open into the next slice (commitOnce() writes it
        // at the end); complete() writes it first when it must patch a chunk.
        // Outcomes of entries stored in an earlier slice or batch: patch the stored chunk.
        for (const LateOutcome& late : lateOutcomes) {
            cw.complete(late.key, late.outcome, payloads + late.outBegin, late.nOut);
        }
        return pos;
    }

    // The usual slice: every call completed in its lane (no separate
    // outcome), no payloads, keys increasing. Returns the end of such a slice
    // of up to kSliceEntries calls from `pos`, or 0 when the slice is not one.
    // Reads only the op headers; the slice's ops stay in L2 for the store.
    static size_t inOrderSliceEnd(const ByteBuffer& ops, size_t pos) {
        size_t calls = 0;
        format::CallKey prev{0, 0};
        while (pos < ops.size() && calls < kSliceEntries) {
            __builtin_prefetch(ops.data() + std::min(pos + kPrefetchBytes, ops.size() - 1));
            OpHeader h;
            std::memcpy(&h, ops.data() + pos, sizeof h);
            if (h.kind == OpKind::Outcome) return 0;
            if (h.kind == OpKind::Entry || h.kind == OpKind::Call) {
                const format::CallKey key{h.id, h.invocation};
                if (h.nIn || h.nOut) return 0;
                if (calls && !(prev.function < key.function ||
                               (prev.function == key.function && prev.invocation < key.invocation)))
                    return 0;
                prev = key;
                ++calls;
            }
            pos += sizeof h + h.size;
        }
        return pos;
    }

    // Stores an in-order slice (inOrderSliceEnd) straight from its ops: no
    // entry list, no sort. Stores what storeSlice would.
    size_t storeInOrderSlice(const lmdb::Txn& txn, const ByteBuffer& ops, size_t pos, size_t end) {
        store::ChunkWriter& cw = *chunks;
        while (pos < end) {
            const OpView op = readOp(ops, pos);
            const OpHeader& h = op.h;
            switch (h.kind) {
                case OpKind::Entry:
                case OpKind::Call:
                    if (op.bytes.empty()) break;  // nothing to store
                    {
                        store::CallToStore c;
                        c.key = format::CallKey{h.id, h.invocation};
                        c.recordHead = op.bytes;  // complete, or an entry still Pending
                        cw.add(c);
                    }
                    break;
                case OpKind::Outcome: break;  // not in an in-order slice
                default: storeMetadata(txn, op); break;
            }
        }
        return end;
    }

    // A batch is stored in slices of about this many calls: each slice's
    // scratch (entries, order, hashes) and its stretch of the op buffer stay
    // in the writer core's L2 from the pass that reads the ops to the pass
    // that stores them. One pass over the whole batch per step (100,000
    // calls: 8 MB of ops, 8 MB of EntryRefs) cost ~4 cache misses per call,
    // most of the writer thread's time (bench/README.md, "The writer thread").
    static constexpr size_t kSliceEntries = 2048;
    // Slices of a batch whose runs interleave (several threads): as large as
    // a 100 ms batch of small calls usually is, so that its calls are sorted
    // together; its scratch (~100 B per call) is bounded by this.
    static constexpr size_t kInterleavedSliceEntries = size_t(1) << 18;
    static constexpr size_t kPrefetchBytes = 2048;

    void commitOnce(Batch& batch) {
        std::shared_lock<store::MapGate> mapInUse(shared->gate);  // declared first: released after the txn ends
        lmdb::Txn txn(env(), 0);
        store::ChunkWriter& cw = *chunks;
        cw.begin(txn);
        uint32_t payloadIndex = 0;
        for (size_t pos = 0; pos < batch.ops.size();) pos = storeSlice(txn, batch, pos, payloadIndex);
        cw.finishFunction();
        const store::SharedEnv& dbs = *shared;
        dbs.meta.put(txn, format::kMetaStats, encodeCaptureStats(stats()));
        putPolicy(txn);
        txn.commit();
        measureUsedBytes();
        if (options.syncEachCommit) {
            if (int rc = mdb_env_sync(env().handle(), 1)) lmdb::raise(rc, "mdb_env_sync", options.directory, lmdb::Side::Write);
        }
        commitCount.fetch_add(1, std::memory_order_relaxed);
    }
};

Writer::Writer(WriterOptions options, const WriterInfo& info) : impl_(std::make_unique<Impl>()) {
    Impl& w = *impl_;
    w.options = std::move(options);
    const std::string& dir = w.options.directory;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw StoreError("cannot create the output directory " + dir + ": " + ec.message());
    const uint64_t mapSize = w.options.initialMapSize;
    w.shared = store::acquireEnv(store::envKey(dir, true), [&] { return store::openForWriting(dir, mapSize); });
    if (w.shared->access != store::Access::Write) {
        throw StoreError("cannot write to " + dir +
                         ": this process has it open read-only (a Database, e.g. callmonitor.load()); "
                         "release that before writing to the same directory");
    }
    {
        const store::SharedEnv& dbs = *w.shared;
        std::shared_lock<store::MapGate> mapInUse(w.shared->gate);
        lmdb::Txn txn(w.env(), 0);
        std::string_view format;
        if (dbs.meta.get(txn, format::kMetaFormat, format) && format != format::encodeFormatValue()) {
            // Chunks written into a v1 `calls` would garble both.
            lmdb::Cursor c(txn, dbs.calls);
            MDB_val k{}, v{};
            if (c.get(k, v, MDB_FIRST)) {
                throw StoreError("cannot record into " + dir + ": it holds calls in another callmonitor format "
                                 "version; record into a new directory (or merge it, which converts it)");
            }
        }
        dbs.meta.put(txn, format::kMetaFormat, format::encodeFormatValue());
        dbs.meta.put(txn, format::kMetaWriter, encodeWriterInfo(info));
        dbs.meta.put(txn, format::kMetaStats, encodeCaptureStats(CaptureStats{}));
        dbs.meta.put(txn, format::kMetaCompression,
                     w.options.compression == Compression::Zstd ? "zstd:" + std::to_string(w.options.compressionLevel)
                                                                : std::string("none"));
        txn.commit();
    }
    w.chunks = std::make_unique<store::ChunkWriter>(*w.shared, w.options.compression, w.options.compressionLevel);
    w.currentMapSize.store(w.env().info().me_mapsize);
    w.measureUsedBytes();
    w.thread = std::thread([&w] { w.run(); });
}

Writer::~Writer() { close(); }

void Writer::submitFunction(const FunctionInfo& fn) {
    impl_->append(OpKind::Function, fn.id, 0, encodeFunctionInfo(fn), nullptr);
}

void Writer::submitThread(const ThreadInfo& thread) {
    impl_->append(OpKind::Thread, thread.index, 0, encodeThreadInfo(thread), nullptr);
}

void Writer::submitCaller(uint32_t index, std::string_view moduleName) {
    impl_->append(OpKind::Caller, index, 0, moduleName, nullptr);
}

void Writer::submitSite(uint32_t siteId, const SiteInfo& site) {
    SiteInfo s = site;
    s.id = siteId;
    impl_->append(OpKind::Site, siteId, 0, encodeSiteInfo(s), nullptr);
}

void Writer::submitLabel(uint32_t labelId, std::string_view label) {
    impl_->append(OpKind::Label, labelId, 0, label, nullptr);
}

void Writer::submitEntry(const format::CallKey& key, std::string_view record, std::vector<Payload>&& inputs) {
    impl_->append(OpKind::Entry, key.function, key.invocation, record, &inputs);
}

void Writer::submitOutcome(const format::CallKey& key, std::string_view outcome, std::vector<Payload>&& results) {
    impl_->append(OpKind::Outcome, key.function, key.invocation, outcome, &results);
}

Writer::Lane* Writer::openLane() {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->lanes.push_back(std::make_unique<Lane>());
    return impl_->lanes.back().get();
}

void Writer::closeLane(Lane* lane) {
    if (!impl_) return;  // abandoned (a forked child): nothing may be touched
    Impl& w = *impl_;
    std::lock_guard<std::mutex> lock(w.mutex);
    // The writer thread reads lanes only under `mutex` (drainLanes): once
    // drained and erased here, nothing refers to this one.
    w.drainLanes();
    auto it = std::find_if(w.lanes.begin(), w.lanes.end(), [&](const auto& l) { return l.get() == lane; });
    if (it != w.lanes.end()) w.lanes.erase(it);
}

size_t Writer::openLanes() const {
    if (!impl_) return 0;
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->lanes.size();
}

void Writer::submitEntry(Lane* lane, const format::CallKey& key, std::string_view record,
                         std::vector<Payload>&& inputs) {
    impl_->appendToLane(*lane, OpKind::Entry, key.function, key.invocation, record, &inputs);
}

bool Writer::submitOutcome(Lane* lane, const format::CallKey& key, std::string_view outcome,
                           std::vector<Payload>&& results) {
    impl_->outcomeToLane(*lane, key, outcome, &results);
    return hasRoom();
}

void Writer::countOpaque(uint64_t n) { impl_->opaque.fetch_add(n, std::memory_order_relaxed); }
void Writer::countPickled(uint64_t n) { impl_->pickled.fetch_add(n, std::memory_order_relaxed); }
void Writer::countCaptureError(uint64_t n) { impl_->captureErrors.fetch_add(n, std::memory_order_relaxed); }
void Writer::countDropped(uint64_t n) { impl_->droppedCalls.fetch_add(n, std::memory_order_relaxed); }
CaptureStats Writer::stats() const { return impl_->stats(); }

bool Writer::hasRoom() const {
    return impl_->uncommittedBytes.load(std::memory_order_relaxed) < impl_->options.maxBufferBytes ||
           impl_->failedFlag.load() || impl_->closed.load();
}

void Writer::waitForRoom() {
    Impl& w = *impl_;
    std::unique_lock<std::mutex> lock(w.mutex);
    auto room = [&] { return w.uncommittedBytes < w.options.maxBufferBytes || w.uncommittedBytes == 0 || w.failedFlag.load() || w.closed; };
    if (room()) return;
    w.drainLanes();
    // Ask for a commit of what is buffered now rather than waiting for the interval.
    w.flushTarget = std::max(w.flushTarget, w.submittedOps);
    w.wakeWriter.notify_one();
    w.committed.wait(lock, room);
}

bool Writer::flush() {
    Impl& w = *impl_;
    std::unique_lock<std::mutex> lock(w.mutex);
    if (w.failedFlag.load()) return false;
    if (w.closed) return true;
    w.drainLanes();
    const uint64_t target = w.submittedOps;
    if (w.committedOps >= target) {
        if (!w.options.policyRecord || !w.options.policyRecord(nullptr)) return true;
        // Nothing to commit but changed policy counts (calls dropped): two
        // writer rounds, the second begun after this call, store them.
        const uint64_t start = w.cycles.load(std::memory_order_acquire);
        while (w.cycles.load(std::memory_order_acquire) < start + 2 && !w.failedFlag.load() &&
               !w.finished.load(std::memory_order_acquire)) {
            w.urgent.store(true);
            w.wakeWriter.notify_one();
            w.committed.wait_for(lock, std::chrono::milliseconds(2));
        }
        return !w.failedFlag.load();
    }
    w.flushTarget = std::max(w.flushTarget, target);
    w.wakeWriter.notify_one();
    w.committed.wait(lock, [&] { return w.committedOps >= target || w.failedFlag.load(); });
    return !w.failedFlag.load();
}

void Writer::close() {
    if (!impl_) return;  // abandoned
    Impl& w = *impl_;
    {
        std::lock_guard<std::mutex> lock(w.mutex);
        if (w.closed) return;
        w.stopping = true;
    }
    w.wakeWriter.notify_one();
    if (w.thread.joinable()) w.thread.join();  // commits what is pending first
    {
        std::lock_guard<std::mutex> lock(w.mutex);
        w.closed = true;
        w.refusing.store(true);
    }
    w.committed.notify_all();
    w.shared.reset();  // closes the environment unless a Database of this process still uses it
}

bool Writer::flushFromSignal(std::chrono::milliseconds timeout) noexcept {
    Impl* w = impl_.get();
    if (!w || w->failedFlag.load()) return false;
    // Only atomics and nanosleep: this runs in a signal handler. The writer
    // thread notices `urgent` within kUrgentPoll; two rounds later
    // everything submitted before the signal is committed.
    const uint64_t start = w->cycles.load(std::memory_order_acquire);
    const struct timespec step{0, 1000000};  // 1 ms
    for (auto waited = std::chrono::milliseconds(0); waited < timeout; waited += std::chrono::milliseconds(1)) {
        // A writer being closed (at exit) commits everything before its thread ends.
        if (w->cycles.load(std::memory_order_acquire) >= start + 2 || w->finished.load(std::memory_order_acquire))
            return !w->failedFlag.load();
        w->urgent.store(true);  // cleared by each round the writer starts
        nanosleep(&step, nullptr);
    }
    return false;
}

void Writer::abandon() {
    // In a forked child the writer thread does not exist and the environment
    // belongs to the parent: joining would hang, mdb_env_close would touch
    // the parent's lock state and the mutex may be held forever by the
    // vanished thread. So the Impl (thread object, env handle, buffers) is
    // deliberately leaked: no destructor runs, no LMDB call is made.
    (void)impl_.release();
}

bool Writer::failed() const { return impl_ && impl_->failedFlag.load(); }

std::string Writer::error() const {
    if (!impl_) return "writer abandoned";
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->errorMessage;
}

const std::string& Writer::directory() const {
    static const std::string none;
    return impl_ ? impl_->options.directory : none;
}

uint64_t Writer::mapSize() const { return impl_ ? impl_->currentMapSize.load() : 0; }
uint64_t Writer::commits() const { return impl_ ? impl_->commitCount.load() : 0; }
uint64_t Writer::storedBytes() const {
    return impl_ ? impl_->usedBytes.load(std::memory_order_relaxed) +
                       impl_->uncommittedBytes.load(std::memory_order_relaxed)
                 : 0;
}

}  // namespace callmonitor
