// The Writer: a bounded in-memory op stream filled by callers, and a
// background thread that swaps it out (double buffering) and commits it to
// LMDB in one transaction per batch.
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
#include "lmdb/env_registry.h"
#include "lmdb/lmdb.h"
#include "store/write_env.h"

namespace callmonitor {
namespace {

// One op in the buffer: a header, then `size` payload bytes.
//
//   +---------+-------------+-------------------+-----------+------------------+
//   | kind u8 | id u32      | invocation u64    | size u64  | blobCount u32    |
//   +---------+-------------+-------------------+-----------+------------------+
//   blobCount only for Entry; an Entry's blobs are the next blobCount items of
//   the batch's side vector. Native byte order: the buffer never leaves memory.
enum class OpKind : uint8_t { Function, Thread, Caller, Entry, Outcome };

constexpr size_t kOpHeaderSize = 1 + 4 + 8 + 8;

struct Batch {
    std::string ops;
    std::vector<Blob> blobs;
    uint64_t bytes = 0;    // ops + blob payloads: what counts against the bound
    uint64_t entries = 0;  // submitEntry() calls in this batch

    bool empty() const { return ops.empty(); }
    void clear() {
        ops.clear();
        blobs.clear();
        bytes = 0;
        entries = 0;
    }
};

// Appends one op (header, payload; an entry's blobs are moved) to `batch`.
// Returns the bytes it adds against the buffer bound.
uint64_t appendOp(Batch& batch, OpKind kind, uint32_t id, uint64_t invocation, std::string_view payload,
                  std::vector<Blob>* entryBlobs) {
    std::string& ops = batch.ops;
    const size_t before = ops.size();
    const uint64_t size = payload.size();
    char header[kOpHeaderSize + 4];
    header[0] = static_cast<char>(kind);
    std::memcpy(header + 1, &id, 4);
    std::memcpy(header + 5, &invocation, 8);
    std::memcpy(header + 13, &size, 8);
    size_t headerSize = kOpHeaderSize;
    uint64_t blobBytes = 0;
    if (kind == OpKind::Entry) {
        uint32_t n = entryBlobs ? static_cast<uint32_t>(entryBlobs->size()) : 0;
        std::memcpy(header + kOpHeaderSize, &n, 4);
        headerSize += 4;
        if (n) {
            for (Blob& b : *entryBlobs) {
                blobBytes += b.size;
                batch.blobs.push_back(std::move(b));
            }
        }
        ++batch.entries;
    }
    ops.append(header, headerSize);
    ops.append(payload.data(), payload.size());
    const uint64_t added = (ops.size() - before) + blobBytes;
    batch.bytes += added;
    return added;
}

struct OpView {
    OpKind kind;
    uint32_t id;
    uint64_t invocation;
    std::string_view payload;
    uint32_t blobCount = 0;
};

// Reads the op at `pos` and advances it.
OpView readOp(const std::string& ops, size_t& pos) {
    OpView op{};
    const char* p = ops.data() + pos;
    uint64_t size = 0;
    op.kind = static_cast<OpKind>(p[0]);
    std::memcpy(&op.id, p + 1, 4);
    std::memcpy(&op.invocation, p + 5, 8);
    std::memcpy(&size, p + 13, 8);
    pos += kOpHeaderSize;
    if (op.kind == OpKind::Entry) {
        std::memcpy(&op.blobCount, ops.data() + pos, 4);
        pos += 4;
    }
    op.payload = std::string_view(ops.data() + pos, size);
    pos += size;
    return op;
}

void defaultFailureReport(const std::string& message) {
    std::fprintf(stderr, "callmonitor: warning: %s\n", message.c_str());
}

}  // namespace

// A lane publishes its size to the writer's counters in steps of this many
// bytes, so the buffer bound is exact to within this much per lane.
constexpr uint64_t kLaneAccountingBytes = 4096;
// A lane keeps at most this much buffer capacity between drains.
constexpr size_t kLaneKeepBytes = size_t(4) << 20;

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

private:
    std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
};

struct Writer::Impl {
    WriterOptions options;
    // Shared with any Database of this process on the same directory; closed
    // by whichever releases it last.
    std::shared_ptr<store::SharedEnv> shared;
    lmdb::Dbi meta, functions, calls, blobs, threads, callers;  // copies of shared's handles

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

    // Producer lanes (the vector is guarded by `mutex`; each lane by its own lock).
    std::vector<std::unique_ptr<Lane>> lanes;
    std::atomic<uint64_t> laneBytes{0};  // bytes in lanes, not yet drained into `pending`

    // Moves every lane's ops into `pending` (caller holds `mutex`). A call's
    // entry and outcome share a lane, so they stay in order.
    void drainLanes() {
        for (auto& lane : lanes) {
            lane->lock();
            if (lane->ops) {
                Batch& b = lane->batch;
                if (pending.ops.empty()) pending.ops.swap(b.ops);  // no copy of a large op
                else pending.ops.append(b.ops);
                for (Blob& blob : b.blobs) pending.blobs.push_back(std::move(blob));
                pending.bytes += b.bytes;
                pending.entries += b.entries;
                submittedOps += lane->ops;
                // The published part leaves the lanes; the unpublished part
                // is counted now, as it joins `pending`.
                laneBytes.fetch_sub(b.bytes - lane->unaccounted, std::memory_order_relaxed);
                uncommittedBytes.fetch_add(lane->unaccounted, std::memory_order_relaxed);
                lane->unaccounted = 0;
                b.clear();
                if (b.ops.capacity() > kLaneKeepBytes) std::string().swap(b.ops);  // one huge call: give it back
                lane->ops = 0;
            }
            lane->unlock();
        }
    }

    void appendToLane(Lane& lane, OpKind kind, uint32_t id, uint64_t invocation, std::string_view payload,
                      std::vector<Blob>* entryBlobs) {
        if (failedFlag.load(std::memory_order_relaxed) || closed.load(std::memory_order_relaxed)) {
            if (kind == OpKind::Entry) droppedCalls.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        lane.lock();
        lane.unaccounted += appendOp(lane.batch, kind, id, invocation, payload, entryBlobs);
        ++lane.ops;
        uint64_t publish = 0;
        if (lane.unaccounted >= kLaneAccountingBytes) {
            publish = lane.unaccounted;
            lane.unaccounted = 0;
        }
        lane.unlock();
        if (!publish) return;
        uncommittedBytes.fetch_add(publish, std::memory_order_relaxed);
        uint64_t inLanes = laneBytes.fetch_add(publish, std::memory_order_relaxed) + publish;
        const uint64_t quarter = quarterBound();
        if (inLanes >= quarter && inLanes - publish < quarter) wakeWriter.notify_one();
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
    void append(OpKind kind, uint32_t id, uint64_t invocation, std::string_view payload,
                std::vector<Blob>* entryBlobs) {
        if (failedFlag.load(std::memory_order_relaxed)) {
            if (kind == OpKind::Entry) droppedCalls.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        std::lock_guard<std::mutex> lock(mutex);
        if (failedFlag.load(std::memory_order_relaxed) || closed) {
            if (kind == OpKind::Entry) droppedCalls.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        const uint64_t added = appendOp(pending, kind, id, invocation, payload, entryBlobs);
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

    // LMDB reports a short write on a full disk as EIO: say what it most likely was.
    std::string fullDiskHint() const {
        struct statvfs fs {};
        if (statvfs(options.directory.c_str(), &fs) == 0 && fs.f_bavail * fs.f_frsize < (uint64_t(1) << 20))
            return "; the file system holding it is full";
        return "";
    }

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
                    std::string().swap(inflight.ops);  // do not keep a huge one-off buffer
                }
                lock.lock();
                if (ok) committedOps = std::max(committedOps, batchOps);
                uncommittedBytes -= std::min(uncommittedBytes.load(), batchBytes);
                committed.notify_all();
            } else if (pending.empty()) {
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

    // Puts `value` under `key`, appending (no page split) when the key sorts
    // after every key in the database so far.
    static void putOrdered(const lmdb::Cursor& cursor, std::string& lastKey, std::string_view key,
                           std::string_view value) {
        if (key > std::string_view(lastKey)) {
            if (cursor.put(key, value, MDB_APPEND) == 0) {
                lastKey.assign(key);
                return;
            }
        }
        cursor.put(key, value, 0);
    }

    static std::string lastKeyOf(const lmdb::Txn& txn, const lmdb::Dbi& dbi) {
        lmdb::Cursor c(txn, dbi);
        MDB_val k{}, v{};
        return c.get(k, v, MDB_LAST) ? std::string(lmdb::view(k)) : std::string();
    }

    // One transaction for the whole batch; on MDB_MAP_FULL the map doubles
    // and the same batch is retried. The failed transaction is aborted before
    // the resize; the resize waits until no Snapshot of this process is live
    // in the environment (mdb_env_set_mapsize remaps under their views).
    void commitBatch(const Batch& batch) {
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
        std::string_view record;
        size_t blobBegin;
        uint32_t blobCount;
        std::string_view outcome;  // set when its outcome is in the same batch
        bool hasOutcome = false;
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

    static void encodeCallKey(const format::CallKey& key, char* out) {
        for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(key.function >> (8 * (3 - i)));
        for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<char>(key.invocation >> (8 * (7 - i)));
    }

    void commitOnce(const Batch& batch) {
        std::vector<EntryRef> entries;
        std::vector<std::pair<format::CallKey, std::string_view>> lateOutcomes;
        entries.reserve(batch.entries);
        std::shared_lock<store::MapGate> mapInUse(shared->gate);  // declared first: released after the txn ends
        lmdb::Txn txn(env(), 0);
        size_t blobIndex = 0;
        for (size_t pos = 0; pos < batch.ops.size();) {
            OpView op = readOp(batch.ops, pos);
            switch (op.kind) {
                case OpKind::Function: functions.put(txn, format::encodeU32Key(op.id), op.payload); break;
                case OpKind::Thread: threads.put(txn, format::encodeU32Key(op.id), op.payload); break;
                case OpKind::Caller: callers.put(txn, format::encodeU32Key(op.id), op.payload); break;
                case OpKind::Entry:
                    entries.push_back(EntryRef{{op.id, op.invocation}, op.payload, blobIndex, op.blobCount, {}, false});
                    blobIndex += op.blobCount;
                    break;
                case OpKind::Outcome: {
                    // Usually its entry is among the last few submitted: look there first.
                    const format::CallKey key{op.id, op.invocation};
                    bool matched = false;
                    for (size_t back = 0; back < 16 && back < entries.size(); ++back) {
                        EntryRef& e = entries[entries.size() - 1 - back];
                        if (e.key == key && !e.hasOutcome) {
                            e.outcome = op.payload;
                            e.hasOutcome = matched = true;
                            break;
                        }
                    }
                    if (!matched) lateOutcomes.emplace_back(key, op.payload);
                    break;
                }
            }
        }
        std::vector<SortKey> order(entries.size());
        bool sorted = true;
        for (size_t i = 0; i < entries.size(); ++i) {
            order[i] = SortKey{entries[i].key.invocation, entries[i].key.function, uint32_t(i)};
            if (i && order[i] < order[i - 1]) sorted = false;
        }
        if (!sorted) std::sort(order.begin(), order.end());
        // The remaining outcomes: an entry elsewhere in this batch, or one committed earlier.
        size_t unmatched = 0;
        for (auto& [key, outcome] : lateOutcomes) {
            auto it = std::upper_bound(order.begin(), order.end(), SortKey{key.invocation, key.function, UINT32_MAX});
            EntryRef* e = it != order.begin() ? &entries[std::prev(it)->index] : nullptr;
            if (e && e->key == key && !e->hasOutcome) {
                e->outcome = outcome;
                e->hasOutcome = true;
            } else {
                lateOutcomes[unmatched++] = {key, outcome};
            }
        }
        lateOutcomes.resize(unmatched);

        {
            lmdb::Cursor callCursor(txn, calls);
            lmdb::Cursor blobCursor(txn, blobs);
            std::string lastCall = lastKeyOf(txn, calls);
            std::string lastBlob = lastKeyOf(txn, blobs);
            std::string merged;
            char key[format::kCallKeySize];
            for (const SortKey& s : order) {
                const EntryRef& e = entries[s.index];
                encodeCallKey(e.key, key);
                const std::string_view keyView(key, sizeof key);
                if (e.hasOutcome && !e.record.empty() &&
                    e.record.back() == static_cast<char>(format::Outcome::Pending)) {
                    merged = completeRecord(e.record, e.outcome);
                    putOrdered(callCursor, lastCall, keyView, merged);
                } else {  // no outcome yet (or a malformed entry: stored as submitted)
                    putOrdered(callCursor, lastCall, keyView, e.record);
                }
                for (uint32_t i = 0; i < e.blobCount; ++i) {
                    const Blob& b = batch.blobs[e.blobBegin + i];
                    std::string_view bytes(reinterpret_cast<const char*>(b.data.get()), b.size);
                    putOrdered(blobCursor, lastBlob, format::encodeBlobKey(e.key, b.index), bytes);
                }
            }
        }
        // Outcomes of entries committed in an earlier batch: patch the stored record.
        for (const auto& [key, outcome] : lateOutcomes) {
            const std::string k = key.encode();
            std::string_view stored;
            if (!calls.get(txn, k, stored)) continue;  // entry never stored (e.g. dropped): nothing to patch
            std::string completed;
            try {
                completed = completeRecord(stored, outcome);
            } catch (const DecodeError&) {
                continue;  // already completed: keep the first outcome
            }
            calls.put(txn, k, completed);
        }
        meta.put(txn, format::kMetaStats, encodeCaptureStats(stats()));
        txn.commit();
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
    w.meta = w.shared->meta;
    w.functions = w.shared->functions;
    w.calls = w.shared->calls;
    w.blobs = w.shared->blobs;
    w.threads = w.shared->threads;
    w.callers = w.shared->callers;
    {
        std::shared_lock<store::MapGate> mapInUse(w.shared->gate);
        lmdb::Txn txn(w.env(), 0);
        w.meta.put(txn, format::kMetaFormat, format::encodeFormatValue());
        w.meta.put(txn, format::kMetaWriter, encodeWriterInfo(info));
        w.meta.put(txn, format::kMetaStats, encodeCaptureStats(CaptureStats{}));
        txn.commit();
    }
    w.currentMapSize.store(w.env().info().me_mapsize);
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

void Writer::submitEntry(const format::CallKey& key, std::string_view record, std::vector<Blob> blobs) {
    impl_->append(OpKind::Entry, key.function, key.invocation, record, &blobs);
}

void Writer::submitOutcome(const format::CallKey& key, std::string_view outcome) {
    impl_->append(OpKind::Outcome, key.function, key.invocation, outcome, nullptr);
}

Writer::Lane* Writer::openLane() {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->lanes.push_back(std::make_unique<Lane>());
    return impl_->lanes.back().get();
}

void Writer::submitEntry(Lane* lane, const format::CallKey& key, std::string_view record, std::vector<Blob> blobs) {
    impl_->appendToLane(*lane, OpKind::Entry, key.function, key.invocation, record, &blobs);
}

void Writer::submitOutcome(Lane* lane, const format::CallKey& key, std::string_view outcome) {
    impl_->appendToLane(*lane, OpKind::Outcome, key.function, key.invocation, outcome, nullptr);
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
    if (w.committedOps >= target) return true;
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

}  // namespace callmonitor
