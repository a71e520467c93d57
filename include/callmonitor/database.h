// The read stage: a read-only view of one writer environment. Safe to open
// while a Writer is still committing to it (each Snapshot is a consistent
// LMDB read transaction), in another process or in this one: LMDB forbids
// opening one environment twice in a process, so a Database on a directory
// this process already has open (a Writer's, another Database's) shares that
// environment instead, and sees the Writer's commits as they happen.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "callmonitor/call_record.h"
#include "callmonitor/format.h"
#include "callmonitor/payload.h"
#include "callmonitor/records.h"
#include "callmonitor/value.h"

namespace callmonitor {

class Database;
class Snapshot;

// A streaming iterator over one function's calls in invocation order (v1 and
// v2 alike), from a Snapshot. The CallViews it fills point into the
// database's memory map: zero-copy, valid while the Snapshot lives (not just
// until the next call of next()). Not shareable between threads.
//
//   for (CallCursor c = snap.calls(fid); c.next(view);) ...
class CallCursor {
public:
    ~CallCursor();
    CallCursor(CallCursor&&) noexcept;
    CallCursor& operator=(CallCursor&&) noexcept;

    // The next call, parsed; false after the function's last call. Throws
    // CorruptError (DecodeError for a malformed record) on bad bytes.
    bool next(CallView& out);
    // The next call's key and record bytes, without parsing the record (a
    // scan that only needs keys or raw records). `out.inputHashes` /
    // `resultHashes` / `formatVersion` are set too; the other fields are not.
    bool nextRaw(CallView& out);

private:
    friend class Snapshot;
    struct Impl;
    explicit CallCursor(std::unique_ptr<Impl>);
    std::unique_ptr<Impl> impl_;
};

// One read transaction. Views it returns are valid until the Snapshot is
// destroyed. Not shareable between threads.
//
// Keep snapshots short: while any Snapshot of this process is live on an
// environment, this process's Writer on it cannot grow the map (that remaps
// the memory the Snapshot's views point into), so a Writer whose map is full
// waits until every such Snapshot is gone. Holding a Snapshot while waiting
// for that Writer (flush(), waitForRoom(), recording calls that fill its
// buffer) can therefore deadlock. Taking more snapshots while holding one is
// fine.
class Snapshot {
public:
    ~Snapshot();
    Snapshot(Snapshot&&) noexcept;
    Snapshot& operator=(Snapshot&&) noexcept;

    uint32_t formatVersion() const;

    // Raw record bytes, or nullopt when absent.
    std::optional<std::string_view> record(const format::CallKey& key) const;
    // Parsed record; throws CallNotFoundError when absent.
    CallView call(const format::CallKey& key) const;
    // `function`'s calls from `fromInvocation` on, streaming (see CallCursor).
    CallCursor calls(uint32_t function, uint64_t fromInvocation = 1) const;

    // The bytes of payload slot `slot` of a call's inputs or result,
    // decompressed when stored compressed (then held by the Snapshot: valid
    // while it lives, like every view). v1: input slots are the call's blobs;
    // v1 results are always inline. Throws CorruptError when the record names
    // a slot or payload that is missing.
    std::string_view payload(const CallView& call, Section section, uint32_t slot) const;
    std::string_view payload(const format::CallKey& key, Section section, uint32_t slot) const;
    // A resolver for decodeValue over one section of a call.
    BlobResolver payloadResolver(const CallView& call, Section section) const;
    // Input slot `index` of a call (v1: its blob); same as payload(key, Inputs, index).
    std::string_view blob(const format::CallKey& key, uint32_t index) const;
    // Highest invocation number stored for `function` (0 when none).
    uint64_t lastInvocation(uint32_t function) const;
    // Number of records stored for `function` (a cursor walk; use
    // lastInvocation() for the cheap count of a gap-free run).
    uint64_t countCalls(uint32_t function) const;
    // Visits the keys of `function`'s calls in invocation order.
    template <class F> void forEachKey(uint32_t function, F&& f) const {
        std::vector<uint64_t> invs = invocations(function);
        for (uint64_t i : invs) f(format::CallKey{function, i});
    }
    std::vector<uint64_t> invocations(uint32_t function) const;
    // Every blob of a v1 call, (index, bytes) in index order (empty for v2:
    // use payload()).
    std::vector<std::pair<uint32_t, std::string_view>> blobs(const format::CallKey& key) const;

    // v2 internals for merge: a stored payload value as is (codec byte, size,
    // bytes) by its 16-byte content hash; nullopt when absent.
    std::optional<std::string_view> storedPayload(std::string_view hash) const;

private:
    friend class Database;
    friend class CallCursor;
    struct Impl;
    explicit Snapshot(std::unique_ptr<Impl>);
    std::unique_ptr<Impl> impl_;
};

struct DatabaseSizes {
    uint64_t fileBytes = 0;     // data.mdb size on disk
    uint64_t calls = 0;         // calls stored (v2: summed over the chunks)
    uint64_t chunks = 0;        // entries in `calls` (v1: = calls)
    uint64_t blobs = 0;         // entries in `blobs` (v1) + `payloads` (v2)
    uint64_t callBytes = 0;     // pages used by `calls` x page size
    uint64_t blobBytes = 0;     // pages used by `blobs` + `payloads` x page size
};

class Database {
public:
    // Opens the writer environment in `directory` read-only, or joins this
    // process's open environment on it (a Writer's, another Database's; the
    // directory is compared by real path). Throws NotFoundError,
    // NotADatabaseError, VersionError or CorruptError with a message naming
    // the path. Works on read-only media (falls back to opening without a
    // lock file). While it is open, a Writer of this process cannot open the
    // same directory unless it was already writing there first (see Writer).
    static Database open(const std::string& directory);
    ~Database();
    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;

    const std::string& directory() const;
    uint32_t formatVersion() const;
    WriterInfo writerInfo() const;
    CaptureStats stats() const;
    std::vector<FunctionInfo> functions() const;
    std::vector<ThreadInfo> threads() const;
    std::vector<std::string> callers() const;   // index -> module name
    std::vector<SiteInfo> sites() const;        // v2: calling code locations (entry ext Site), by id
    std::vector<std::string> labels() const;    // v2: index -> label (entry ext Label)
    std::string compression() const;            // meta["compression"]: "none", "zstd:3"; "" for v1
    std::string policy() const;                 // meta["policy"]: capture policies and counts (JSON); "" when absent
    // A merged environment's copy of source `identity`'s meta["policy"]
    // (SourceInfo::identity(); its own function ids); "" when absent.
    std::string sourcePolicy(const std::string& identity) const;
    // The writers a merged environment holds (empty for one writer's own).
    std::vector<SourceInfo> sources() const;
    DatabaseSizes sizes() const;

    // A consistent view of the current contents (sees commits made since
    // open; handles the writer having grown the map). When another process
    // grew the file past this reader's map, adopting the new size needs a
    // moment with no live Snapshot of this environment in this process:
    // after waiting 10 s for one it throws DatabaseError.
    Snapshot snapshot() const;

private:
    struct Impl;
    explicit Database(std::unique_ptr<Impl>);
    std::unique_ptr<Impl> impl_;
};

}  // namespace callmonitor
