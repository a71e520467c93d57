// The store stage: one Writer writes one LMDB environment (a writer
// directory) from a background thread that commits what callers submit, in
// batches. The environment is the process's one MDB_env on that directory,
// shared with any Database of this process reading it (LMDB forbids opening
// it twice); it is closed by whichever of them releases it last.
//
// Contract for callers (the capture stage):
//  - submit*() never touches the disk; it copies bytes into a bounded buffer
//    and returns. When the buffer is full, hasRoom() is false and the caller
//    should wait with waitForRoom() (after releasing any lock it holds, e.g.
//    the GIL). submit*() itself never blocks.
//  - The writer commits at least every `flushInterval`, when the buffer
//    passes a quarter of its bound, on flush(), and on close().
//  - For each call: submitEntry() once (record ending in Outcome::Pending,
//    with the payloads its input slots name), later submitOutcome() once with
//    the outcome section (and its result slots' payloads). Through a lane,
//    the outcome completes the entry in place when the entry is still the
//    lane's last op (nearly always): one op per call. Otherwise the writer
//    merges the two in the batch, or patches the stored chunk.
//  - Payloads: the writer thread hashes each (xxh3-128), compresses it when
//    WriterOptions::compression says so, and stores it once per database;
//    a result slot with sameAsInput = k is input slot k's payload.
//  - A store failure (disk full, read-only directory, any LMDB error) is
//    reported once through the warning callback; the writer then drops what
//    is submitted (counting it) and what was committed stays readable.
//  - Growing the map waits until no Snapshot of this process is live on the
//    environment (see Snapshot in database.h): keep snapshots short.
//  - The writer is not fork-safe: in a forked child call abandon(), never
//    close() or the destructor's flush (LMDB forbids using the parent's
//    environment), then make a new Writer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "callmonitor/format.h"
#include "callmonitor/payload.h"
#include "callmonitor/records.h"

namespace callmonitor {

struct WriterOptions {
    std::string directory;                      // created (with parents) if missing
    uint64_t initialMapSize = uint64_t(64) << 20;   // grows by doubling when full
    uint64_t maxBufferBytes = uint64_t(64) << 20;   // bound on submitted, uncommitted bytes
    std::chrono::milliseconds flushInterval{100};
    bool syncEachCommit = false;                // fsync after every commit (durability="sync")
    // Payload compression (zstd on the writer thread; recorded in
    // meta["compression"]). Off by default: it costs more writer time than it
    // saves on typical float data (docs/format.md, "Payloads").
    Compression compression = Compression::None;
    int compressionLevel = 3;
    // Called once, from the writer thread, when the store fails.
    std::function<void(const std::string&)> onFailure;
    // meta["policy"] (capture policies and their counts), kept current by the
    // writer thread: asked at every commit and every idle round, and by
    // flush(). policyRecord(&bytes) fills the bytes and returns true when they
    // changed since they were last filled; policyRecord(nullptr) only says
    // whether they changed.
    std::function<bool(std::string*)> policyRecord;
};

class Writer {
public:
    // Opens (creating) the environment, or joins this process's open one on
    // the directory, and writes meta["format"] and meta["writer"]. Throws
    // StoreError when the directory cannot be created, the environment
    // cannot be opened, or this process has it open read-only (a Database
    // opened before any Writer on it).
    Writer(WriterOptions options, const WriterInfo& info);
    ~Writer();  // close()
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    void submitFunction(const FunctionInfo& fn);
    void submitThread(const ThreadInfo& thread);
    void submitCaller(uint32_t index, std::string_view moduleName);
    // A calling code location (entry ext Site) and a label (entry ext Label).
    void submitSite(uint32_t siteId, const SiteInfo& site);
    void submitLabel(uint32_t labelId, std::string_view label);
    // Without a lane (tests, tools): takes the writer's lock per call.
    void submitEntry(const format::CallKey& key, std::string_view entryRecord,
                     std::vector<Payload>&& inputPayloads = {});
    void submitOutcome(const format::CallKey& key, std::string_view outcomeSection,
                       std::vector<Payload>&& resultPayloads = {});

    // A producer's own buffer: submitting through a lane takes only the
    // lane's (uncontended) lock, not the writer's; the writer thread drains
    // every lane at each commit, flush() and waitForRoom(). One lane per
    // producing thread: a call's entry and outcome must go through the same
    // lane (that keeps them in order). A lane lives until closeLane() or
    // the Writer's end; what is submitted after close() is dropped.
    class Lane;
    Lane* openLane();
    // Releases a lane whose thread is done with it (a thread that ends):
    // what it holds joins the writer's pending batch first (committed as
    // usual, nothing lost), then its memory is freed. The lane must not be
    // used afterwards; safe while the writer thread runs.
    void closeLane(Lane* lane);
    size_t openLanes() const;  // lanes opened and not yet closed
    void submitEntry(Lane* lane, const format::CallKey& key, std::string_view entryRecord,
                     std::vector<Payload>&& inputPayloads = {});
    // Returns hasRoom() after the outcome: the caller's wait check at no extra cost.
    bool submitOutcome(Lane* lane, const format::CallKey& key, std::string_view outcomeSection,
                       std::vector<Payload>&& resultPayloads = {});

    // Capture statistics are kept by the writer and stored with every commit.
    void countOpaque(uint64_t n = 1);
    void countPickled(uint64_t n = 1);
    void countCaptureError(uint64_t n = 1);
    void countDropped(uint64_t n = 1);  // calls not recorded (e.g. made after the store failed)
    CaptureStats stats() const;

    bool hasRoom() const;
    void waitForRoom();

    // Blocks until everything submitted before the call is committed.
    // Returns false when the writer has failed (see error()).
    bool flush();
    // For a signal handler about to let the process die (SIGTERM): asks the
    // writer thread to commit now and waits (sleeping, no locks) until what
    // was submitted before is committed, or `timeout`. Returns true when it
    // was. What a thread interrupted mid-submission holds may miss the commit.
    bool flushFromSignal(std::chrono::milliseconds timeout) noexcept;
    // Flushes, stops the thread and releases the environment (closed unless
    // a Database of this process still reads it). Idempotent.
    void close();
    // For a forked child: forget the environment and the (non-existent)
    // thread without touching either.
    void abandon();

    bool failed() const;
    std::string error() const;
    const std::string& directory() const;
    uint64_t mapSize() const;   // current LMDB map size
    // Bytes of the database file in use as of the last commit, plus what is
    // submitted and not committed yet (max_db_bytes).
    uint64_t storedBytes() const;
    uint64_t commits() const;   // transactions committed so far

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace callmonitor
