// Database / Snapshot: read-only access to one writer environment, safe
// while a Writer (in another process, or this one) is still committing.
#include "callmonitor/database.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <shared_mutex>

#include <deque>

#include "callmonitor/errors.h"
#include "callmonitor/module_names.h"
#include "codec/chunk.h"
#include "codec/keys.h"
#include "codec/payload_codec.h"
#include "lmdb/chunk_seek.h"
#include "lmdb/lmdb_meta_check.h"
#include "lmdb/env_registry.h"
#include "lmdb/lmdb.h"

namespace callmonitor {
namespace {

using lmdb::Side;

// This Database's view of the process-wide environment (shared with a
// Writer or another Database of this process on the same file) and its pool
// of reset read transactions (renewing one is much cheaper than
// mdb_txn_begin, which has to find a reader slot). Snapshots hold it through
// a shared_ptr, so it outlives the Database while they live.
struct EnvHandle {
    std::shared_ptr<store::SharedEnv> shared;  // declared first: released after the pool is emptied
    std::string directory;                     // as the caller named it, for messages
    std::mutex poolMutex;
    std::vector<MDB_txn*> pool;  // reset transactions of `shared->env`

    ~EnvHandle() {
        for (MDB_txn* t : pool) mdb_txn_abort(t);
    }
    const lmdb::Env& env() const { return shared->env; }
    const store::SharedEnv& dbs() const { return *shared; }
    MDB_txn* takePooled() {
        std::lock_guard<std::mutex> lock(poolMutex);
        if (pool.empty()) return nullptr;
        MDB_txn* t = pool.back();
        pool.pop_back();
        return t;
    }
    void givePooled(MDB_txn* t) {
        std::lock_guard<std::mutex> lock(poolMutex);
        if (pool.size() < 8) pool.push_back(t);
        else mdb_txn_abort(t);
    }
};

std::string notADatabase(const std::string& path, const std::string& why) {
    return path + " is not a callmonitor database (" + why + ")";
}

// An LMDB environment without the "meta" database: someone else's LMDB
// environment, or one of ours torn by a plain file copy taken while it was
// written (the copy's main database then points at a reused page). Ours is
// told by where it lives: a writer directory (main, rank-N, pid-N, tid-N) or
// one inside a run directory (its .callmonitor-run marker). One that never
// committed (LMDB's last txnid 0) is a writer killed, ended or copied between
// creating its environment and its first commit: nothing was recorded in it.
[[noreturn]] void throwWithoutMeta(const std::string& directory, bool neverCommitted) {
    std::string dir = directory;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    const size_t slash = dir.rfind('/');
    const std::string name = slash == std::string::npos ? dir : dir.substr(slash + 1);
    const std::string parent = slash == std::string::npos ? "." : dir.substr(0, slash);
    auto startsWith = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
    struct stat marker {};
    const bool ours = name == "main" || startsWith("rank-") || startsWith("pid-") || startsWith("tid-") ||
                      ::stat((parent + "/.callmonitor-run").c_str(), &marker) == 0;
    if (ours && neverCommitted)
        throw CorruptError(directory + " holds no committed transaction: its program ended, was killed or was "
                           "copied before its first commit, so nothing was recorded in it");
    if (ours)
        throw CorruptError(directory + " is damaged: its LMDB environment has no \"meta\" database (a copy taken "
                           "while the program was writing? copy a live database with mdb_copy, or after the "
                           "program ended)");
    throw NotADatabaseError(notADatabase(directory, "an LMDB environment without a \"meta\" database"));
}

uint32_t readU32LE(const char* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
}

}  // namespace

struct Snapshot::Impl {
    std::shared_ptr<EnvHandle> handle;
    // Held for the snapshot's whole life: the map must not move under its
    // views (see the contract in database.h). Declared before `txn`, so it is
    // released only after the transaction ended.
    std::shared_lock<store::MapGate> mapInUse;
    lmdb::Txn txn;
    uint32_t version = format::kFormatVersion;
    // Decompressed payloads handed out by payload(): they live as long as the
    // snapshot, like the views into the map.
    mutable std::deque<std::string> decompressed;

    ~Impl() {
        if (txn) handle->givePooled(txn.resetAndRelease());
    }
    const std::string& path() const { return handle->directory; }
    const store::SharedEnv& dbs() const { return handle->dbs(); }

    // v2: the chunk holding `key` (greatest chunk key <= key of its function).
    bool findChunk(const format::CallKey& key, uint64_t& first, std::string_view& chunk) const {
        if (!dbs().calls) return false;
        lmdb::Cursor c(txn, dbs().calls);
        format::CallKey at;
        if (!lmdb::seekChunk(c, key, at, chunk)) return false;
        first = at.invocation;
        return true;
    }
    bool findEntry(const format::CallKey& key, codec::ChunkEntry& out) const {
        uint64_t first = 0;
        std::string_view chunk;
        if (!findChunk(key, first, chunk)) return false;
        codec::ChunkReader r(chunk, first);
        if (key.invocation > r.last()) return false;
        r.skipBefore(key.invocation);
        while (r.next(out)) {
            if (out.invocation == key.invocation) return true;
            if (out.invocation > key.invocation) return false;
        }
        return false;
    }
    std::string_view payloadByHash(std::string_view hash, const format::CallKey& key) const {
        std::string_view stored;
        if (!dbs().payloads || !dbs().payloads.get(txn, hash, stored)) {
            throw CorruptError("call " + std::to_string(key.invocation) + " of function " + std::to_string(key.function) +
                               " names a payload that is missing from " + path());
        }
        const codec::PayloadView p = codec::parsePayload(stored);
        if (p.codec == codec::PayloadCodec::Raw) return p.bytes;
        decompressed.emplace_back();
        codec::decompressPayload(p, decompressed.back());
        return decompressed.back();
    }
};

struct CallCursor::Impl {
    const Snapshot::Impl* snap = nullptr;
    lmdb::Cursor cursor;
    uint32_t function = 0;
    uint64_t from = 1;
    bool started = false, done = false;
    codec::ChunkReader chunk;
    bool inChunk = false;

    // The function's first LMDB entry that may hold `from`: v2, the chunk
    // holding it (or the next one); v1, its record (or the next one).
    bool position(format::CallKey& key, std::string_view& value) {
        if (snap->version >= 2 && lmdb::seekChunk(cursor, format::CallKey{function, from}, key, value)) return true;
        char kb[format::kCallKeySize];
        format::encodeCallKey(format::CallKey{function, from}, kb);
        MDB_val k{sizeof kb, kb}, v{};
        if (!cursor.get(k, v, MDB_SET_RANGE) || !format::decodeCallKey(lmdb::view(k), key)) return false;
        value = lmdb::view(v);
        return true;
    }

    // Moves to the next LMDB entry of the function: false at its end.
    bool step(format::CallKey& key, std::string_view& value) {
        if (done) return false;
        bool ok;
        if (!started) {
            started = true;
            ok = position(key, value);
        } else {
            MDB_val k{}, v{};
            ok = cursor.get(k, v, MDB_NEXT) && format::decodeCallKey(lmdb::view(k), key);
            value = lmdb::view(v);
        }
        if (!ok || key.function != function) {
            done = true;
            return false;
        }
        return true;
    }

    bool nextRaw(CallView& out) {
        format::CallKey key;
        std::string_view value;
        if (snap->version < 2) {
            do {
                if (!step(key, value)) return false;
            } while (key.invocation < from);
            out.key = key;
            out.record = value;
            out.inputHashes = out.resultHashes = {};
            out.formatVersion = snap->version;
            return true;
        }
        codec::ChunkEntry e;
        for (;;) {
            if (inChunk && chunk.next(e)) {
                if (e.invocation < from) continue;
                out.key = format::CallKey{function, e.invocation};
                out.record = e.record;
                out.inputHashes = e.inputHashes;
                out.resultHashes = e.resultHashes;
                out.formatVersion = snap->version;
                return true;
            }
            inChunk = false;
            if (!step(key, value)) return false;
            chunk = codec::ChunkReader(value, key.invocation);
            if (from > key.invocation) chunk.skipBefore(from);
            inChunk = true;
        }
    }
};

CallCursor::CallCursor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CallCursor::~CallCursor() = default;
CallCursor::CallCursor(CallCursor&&) noexcept = default;
CallCursor& CallCursor::operator=(CallCursor&&) noexcept = default;

bool CallCursor::nextRaw(CallView& out) { return impl_->nextRaw(out); }

bool CallCursor::next(CallView& out) {
    if (!impl_->nextRaw(out)) return false;
    const std::string_view in = out.inputHashes, res = out.resultHashes;
    parseCallRecord(out.record, out.key, out.formatVersion, out);
    out.inputHashes = in;
    out.resultHashes = res;
    return true;
}

struct Database::Impl {
    std::string directory;
    std::string dataFile;
    unsigned flags = 0;  // mdb_env_open flags to try (MDB_NOLOCK is added on read-only media)
    uint32_t version = 0;
    std::shared_ptr<EnvHandle> handle;  // set once by open()

    uint64_t readerMapSize() const {
        struct stat st {};
        const uint64_t file = ::stat(dataFile.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
        const uint64_t page = 1 << 20;
        return std::max<uint64_t>(uint64_t(1) << 30, (2 * file + page - 1) / page * page);
    }

    // Opens the environment read-only with its named databases (the
    // registry's opener when this process has none on the file). Errors name
    // the path.
    std::unique_ptr<store::SharedEnv> openReadOnly() {
        // LMDB trusts its meta pages (an inconsistent one can abort the
        // process): check them before mdb_env_open reads them.
        read::checkLmdbMetaPages(dataFile);
        auto e = std::make_unique<store::SharedEnv>();
        e->access = store::Access::Read;
        int rc = 0;
        for (int attempt = 0; attempt < 2; ++attempt) {
            e->env = lmdb::Env(directory, Side::Read);
            e->env.setMaxDbs(format::kMaxDbs);
            // Map more than the file holds (address space only) so a writer
            // growing the file rarely forces a remap (MDB_MAP_RESIZED).
            e->env.setMapSize(readerMapSize());
            e->env.open(flags, 0644, &rc);
            if (rc == 0) break;
            e->env.close();  // mdb_env_open failed: the handle must be discarded
            const bool lockRefused = rc == EACCES || rc == EROFS || rc == EPERM;
            if (!lockRefused || (flags & MDB_NOLOCK)) break;
            flags |= MDB_NOLOCK;  // no lock file possible here (read-only media): read without one
        }
        if (rc == MDB_INVALID || rc == ENOENT) {
            if (flags & MDB_NOSUBDIR) throw NotADatabaseError(notADatabase(directory, "not an LMDB file"));
            throw CorruptError(dataFile + " is truncated or not an LMDB file (mdb_env_open: " +
                               mdb_strerror(rc) + "); the database cannot be read");
        }
        if (rc) lmdb::raise(rc, "mdb_env_open", directory, Side::Read);
        e->flags = flags;

        // A file shorter than the pages its meta page claims would fault
        // (SIGBUS) when those pages are read: refuse it here.
        MDB_envinfo info = e->env.info();
        const uint64_t needed = (uint64_t(info.me_last_pgno) + 1) * e->env.pageSize();
        struct stat st {};
        if (::fstat(e->env.fd(), &st) == 0 && uint64_t(st.st_size) < needed) {
            throw CorruptError(dataFile + " is truncated: " + std::to_string(st.st_size) + " bytes, but its pages need " +
                               std::to_string(needed));
        }

        lmdb::Txn txn(e->env, MDB_RDONLY);
        MDB_dbi metaDbi = 0;
        rc = mdb_dbi_open(txn.handle(), format::kMetaDb, 0, &metaDbi);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) throwWithoutMeta(directory, info.me_last_txnid == 0);
        if (rc) lmdb::raise(rc, "mdb_dbi_open(\"meta\")", directory, Side::Read);
        e->meta = lmdb::Dbi::open(txn, format::kMetaDb, 0);
        e->functions = lmdb::Dbi::open(txn, format::kFunctionsDb, 0, true);
        e->calls = lmdb::Dbi::open(txn, format::kCallsDb, 0, true);
        e->blobs = lmdb::Dbi::open(txn, format::kBlobsDb, 0, true);
        e->payloads = lmdb::Dbi::open(txn, format::kPayloadsDb, 0, true);
        e->sites = lmdb::Dbi::open(txn, format::kSitesDb, 0, true);
        e->labels = lmdb::Dbi::open(txn, format::kLabelsDb, 0, true);
        e->threads = lmdb::Dbi::open(txn, format::kThreadsDb, 0, true);
        e->callers = lmdb::Dbi::open(txn, format::kCallersDb, 0, true);
        txn.commit();  // a committed read transaction keeps the handles it opened
        return e;
    }

    void checkFormat(const Snapshot::Impl& s) {
        std::string_view value;
        if (!s.handle->dbs().meta.get(s.txn, format::kMetaFormat, value)) {
            // Every writer puts the format key in its first transaction, so a
            // callmonitor environment (it has a calls database) whose meta lacks it is
            // damaged, typically a file copy taken while the program was writing (LMDB
            // reuses pages a plain copy may still be reading).
            if (!s.handle->dbs().calls)
                throw NotADatabaseError(notADatabase(directory, "no format key in its meta database"));
            throw CorruptError(directory + " is damaged: its meta database has no format key (a copy taken while "
                               "the program was writing? copy a live database with mdb_copy, or after the "
                               "program ends)");
        }
        if (value.size() < format::kMagic.size() + 4 || value.substr(0, format::kMagic.size()) != format::kMagic) {
            throw NotADatabaseError(notADatabase(directory, "its format key does not start with the callmonitor magic"));
        }
        version = readU32LE(value.data() + format::kMagic.size());
        if (version < format::kOldestFormatVersion) {
            throw VersionError(directory + " has callmonitor format version " + std::to_string(version) +
                               ", older than the oldest this reader supports (" +
                               std::to_string(format::kOldestFormatVersion) + "); it was not written by a "
                               "released callmonitor: record it again");
        }
        if (version > format::kFormatVersion) {
            throw VersionError(directory + " was written in callmonitor format version " + std::to_string(version) +
                               ", but this reader supports versions up to " + std::to_string(format::kFormatVersion) +
                               "; upgrade callmonitor to read it");
        }
    }

    // Another process grew the file past our map (MDB_MAP_RESIZED): adopt
    // its size. mdb_env_set_mapsize remaps, so it needs every transaction of
    // this process in the environment ended (a Writer's too, when shared):
    // it takes the gate exclusively, waiting a bounded time, since a
    // Snapshot held by the calling thread itself would never end. The
    // generous reader map (readerMapSize) makes this path rare; with this
    // process's Writer in the environment it does not happen (that writer
    // grows the map itself).
    void adoptResize() const {
        store::SharedEnv& e = *handle->shared;
        std::unique_lock<store::MapGate> resizing(e.gate, std::defer_lock);
        if (!resizing.try_lock_for(std::chrono::seconds(10))) {
            throw DatabaseError(directory + " grew past this reader's memory map, and snapshots of it still open in "
                                "this process keep it from being remapped; release them and retry");
        }
        e.env.setMapSize(0);
    }

    std::unique_ptr<Snapshot::Impl> beginRead() const {
        auto s = std::make_unique<Snapshot::Impl>();
        s->handle = handle;
        s->version = version;
        const lmdb::Env& env = handle->env();
        for (int attempt = 0;; ++attempt) {
            s->mapInUse = std::shared_lock<store::MapGate>(handle->shared->gate);
            try {
                // Side::Read: failures map to the reader's errors even in a Writer's environment.
                if (MDB_txn* pooled = handle->takePooled()) {
                    s->txn = lmdb::Txn::renew(env, pooled, Side::Read);
                } else {
                    s->txn = lmdb::Txn(env, MDB_RDONLY, Side::Read);
                }
                return s;
            } catch (const lmdb::MapResizedError& e) {
                s->mapInUse.unlock();
                if (attempt >= 4) throw CorruptError(e.what());
                adoptResize();
            }
        }
    }
};

// --- Snapshot ---------------------------------------------------------------------

Snapshot::Snapshot(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Snapshot::~Snapshot() = default;
Snapshot::Snapshot(Snapshot&&) noexcept = default;
Snapshot& Snapshot::operator=(Snapshot&&) noexcept = default;

uint32_t Snapshot::formatVersion() const { return impl_->version; }

std::optional<std::string_view> Snapshot::record(const format::CallKey& key) const {
    const store::SharedEnv& h = impl_->dbs();
    if (!h.calls) return std::nullopt;
    if (impl_->version >= 2) {
        codec::ChunkEntry e;
        if (!impl_->findEntry(key, e)) return std::nullopt;
        return e.record;
    }
    std::string_view value;
    if (!h.calls.get(impl_->txn, format::encodeCallKey(key), value)) return std::nullopt;
    return value;
}

CallView Snapshot::call(const format::CallKey& key) const {
    auto notFound = [&] {
        return CallNotFoundError("no call " + std::to_string(key.invocation) + " of function " +
                                 std::to_string(key.function) + " in " + impl_->path());
    };
    if (impl_->version >= 2) {
        codec::ChunkEntry e;
        if (!impl_->dbs().calls || !impl_->findEntry(key, e)) throw notFound();
        CallView v = parseCallRecord(e.record, key, impl_->version);
        v.inputHashes = e.inputHashes;
        v.resultHashes = e.resultHashes;
        return v;
    }
    std::optional<std::string_view> r = record(key);
    if (!r) throw notFound();
    return parseCallRecord(*r, key, impl_->version);
}

CallCursor Snapshot::calls(uint32_t function, uint64_t fromInvocation) const {
    auto c = std::make_unique<CallCursor::Impl>();
    c->snap = impl_.get();
    c->function = function;
    c->from = fromInvocation;
    if (impl_->dbs().calls) c->cursor = lmdb::Cursor(impl_->txn, impl_->dbs().calls);
    else c->done = true;
    return CallCursor(std::move(c));
}

std::string_view Snapshot::payload(const CallView& call, Section section, uint32_t slot) const {
    if (call.formatVersion < 2) {
        if (section == Section::Inputs) return blob(call.key, slot);
        throw CorruptError("call " + std::to_string(call.key.invocation) + " of function " +
                           std::to_string(call.key.function) + " names result payload " + std::to_string(slot) +
                           ", but a version 1 database stores results inline (" + impl_->path() + ")");
    }
    const std::string_view table = section == Section::Inputs ? call.inputHashes : call.resultHashes;
    if (uint64_t(slot) >= table.size() / codec::kHashSize) {
        throw CorruptError("call " + std::to_string(call.key.invocation) + " of function " +
                           std::to_string(call.key.function) + " names " +
                           (section == Section::Inputs ? "input" : "result") + " payload " + std::to_string(slot) +
                           ", which it does not have, in " + impl_->path());
    }
    return impl_->payloadByHash(table.substr(size_t(slot) * codec::kHashSize, codec::kHashSize), call.key);
}

std::string_view Snapshot::payload(const format::CallKey& key, Section section, uint32_t slot) const {
    if (impl_->version < 2 && section == Section::Inputs) return blob(key, slot);
    return payload(call(key), section, slot);
}

BlobResolver Snapshot::payloadResolver(const CallView& call, Section section) const {
    return [this, call, section](uint32_t slot) { return payload(call, section, slot); };
}

std::string_view Snapshot::blob(const format::CallKey& key, uint32_t index) const {
    if (impl_->version >= 2) {
        codec::ChunkEntry e;
        if (!impl_->findEntry(key, e)) {
            throw CallNotFoundError("no call " + std::to_string(key.invocation) + " of function " +
                                    std::to_string(key.function) + " in " + impl_->path());
        }
        CallView v;
        v.key = key;
        v.formatVersion = impl_->version;
        v.inputHashes = e.inputHashes;
        v.resultHashes = e.resultHashes;
        return payload(v, Section::Inputs, index);
    }
    const store::SharedEnv& h = impl_->dbs();
    std::string_view value;
    if (!h.blobs || !h.blobs.get(impl_->txn, format::encodeBlobKey(key, index), value)) {
        throw CorruptError("call " + std::to_string(key.invocation) + " of function " + std::to_string(key.function) +
                           " names blob " + std::to_string(index) + ", which is missing from " + impl_->path());
    }
    return value;
}

std::optional<std::string_view> Snapshot::storedPayload(std::string_view hash) const {
    const store::SharedEnv& h = impl_->dbs();
    std::string_view stored;
    if (!h.payloads || !h.payloads.get(impl_->txn, hash, stored)) return std::nullopt;
    return stored;
}

uint64_t Snapshot::lastInvocation(uint32_t function) const {
    const store::SharedEnv& h = impl_->dbs();
    if (!h.calls) return 0;
    lmdb::Cursor cursor(impl_->txn, h.calls);
    format::CallKey key;
    std::string_view last;
    if (!lmdb::seekLastChunk(cursor, function, key, last)) return 0;
    if (impl_->version >= 2) return codec::ChunkReader(last, key.invocation).last();  // its header says
    return key.invocation;
}

std::vector<uint64_t> Snapshot::invocations(uint32_t function) const {
    std::vector<uint64_t> out;
    CallCursor c = calls(function);
    CallView v;
    while (c.nextRaw(v)) out.push_back(v.key.invocation);
    return out;
}

std::vector<std::pair<uint32_t, std::string_view>> Snapshot::blobs(const format::CallKey& key) const {
    std::vector<std::pair<uint32_t, std::string_view>> out;
    const store::SharedEnv& h = impl_->dbs();
    if (!h.blobs || impl_->version >= 2) return out;
    lmdb::Cursor cursor(impl_->txn, h.blobs);
    const std::string first = format::encodeBlobKey(key, 0);
    const std::string_view prefix(first.data(), format::kCallKeySize);
    MDB_val k = lmdb::val(first), v{};
    for (bool ok = cursor.get(k, v, MDB_SET_RANGE); ok; ok = cursor.get(k, v, MDB_NEXT)) {
        std::string_view kv = lmdb::view(k);
        if (kv.size() != format::kBlobKeySize || kv.substr(0, format::kCallKeySize) != prefix) break;
        uint32_t index = 0;
        format::decodeU32Key(kv.substr(format::kCallKeySize), index);
        out.emplace_back(index, lmdb::view(v));
    }
    return out;
}

uint64_t Snapshot::countCalls(uint32_t function) const {
    const store::SharedEnv& h = impl_->dbs();
    if (!h.calls) return 0;
    lmdb::Cursor cursor(impl_->txn, h.calls);
    const std::string first = format::encodeCallKey(format::CallKey{function, 0});
    MDB_val k = lmdb::val(first), v{};
    format::CallKey key;
    uint64_t n = 0;
    for (bool ok = cursor.get(k, v, MDB_SET_RANGE); ok; ok = cursor.get(k, v, MDB_NEXT)) {
        if (!format::decodeCallKey(lmdb::view(k), key) || key.function != function) break;
        n += impl_->version >= 2 ? codec::ChunkReader(lmdb::view(v), key.invocation).count() : 1;  // chunk headers
    }
    return n;
}

// --- Database ---------------------------------------------------------------------

Database Database::open(const std::string& directory) {
    auto impl = std::make_unique<Impl>();
    impl->directory = directory;
    struct stat st {};
    if (::stat(directory.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) throw NotFoundError(directory + " does not exist");
        throw NotADatabaseError(directory + " cannot be read: " + std::strerror(errno));
    }
    impl->flags = MDB_RDONLY | MDB_NOTLS;
    if (S_ISDIR(st.st_mode)) {
        impl->dataFile = directory + "/data.mdb";
        struct stat dataStat {};
        if (::stat(impl->dataFile.c_str(), &dataStat) != 0) {
            throw NotADatabaseError(notADatabase(directory, "no data.mdb in it"));
        }
        if (dataStat.st_size == 0) throw CorruptError(impl->dataFile + " is empty (truncated); the database cannot be read");
    } else {
        impl->dataFile = directory;
        impl->flags |= MDB_NOSUBDIR;
    }
    // This process's environment on the file when there is one (a Writer's
    // still recording, another Database's): LMDB forbids a second MDB_env.
    Impl& d = *impl;
    auto shared = store::acquireEnv(store::envKey(directory, !(d.flags & MDB_NOSUBDIR)),
                                    [&d] { return d.openReadOnly(); });
    if (!shared->meta) throwWithoutMeta(directory, false);
    d.handle = std::make_shared<EnvHandle>();
    d.handle->shared = std::move(shared);
    d.handle->directory = directory;
    d.checkFormat(*d.beginRead());
    return Database(std::move(impl));
}

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;

const std::string& Database::directory() const { return impl_->directory; }
uint32_t Database::formatVersion() const { return impl_->version; }

Snapshot Database::snapshot() const { return Snapshot(impl_->beginRead()); }

WriterInfo Database::writerInfo() const {
    auto s = impl_->beginRead();
    std::string_view value;
    if (!s->handle->dbs().meta.get(s->txn, format::kMetaWriter, value)) return WriterInfo{};
    return decodeWriterInfo(value);
}

std::vector<SourceInfo> Database::sources() const {
    auto s = impl_->beginRead();
    std::string_view value;
    if (!s->handle->dbs().meta.get(s->txn, format::kMetaSources, value)) return {};
    return decodeSources(value);
}

CaptureStats Database::stats() const {
    auto s = impl_->beginRead();
    std::string_view value;
    if (!s->handle->dbs().meta.get(s->txn, format::kMetaStats, value)) return CaptureStats{};
    return decodeCaptureStats(value);
}

namespace {
// Visits every (u32 key, value) of `dbi` in key order.
template <class F>
void forEachU32(const lmdb::Txn& txn, const lmdb::Dbi& dbi, const std::string& path, F&& f) {
    if (!dbi) return;
    lmdb::Cursor cursor(txn, dbi);
    MDB_val k{}, v{};
    for (bool ok = cursor.get(k, v, MDB_FIRST); ok; ok = cursor.get(k, v, MDB_NEXT)) {
        uint32_t id = 0;
        if (!format::decodeU32Key(lmdb::view(k), id)) throw CorruptError("malformed key in " + path);
        f(id, lmdb::view(v));
    }
}
}  // namespace

std::vector<FunctionInfo> Database::functions() const {
    auto s = impl_->beginRead();
    std::vector<FunctionInfo> out;
    forEachU32(s->txn, s->handle->dbs().functions, impl_->directory, [&](uint32_t id, std::string_view v) {
        out.push_back(decodeFunctionInfo(v));
        out.back().id = id;
    });
    return out;
}

std::vector<ThreadInfo> Database::threads() const {
    auto s = impl_->beginRead();
    std::vector<ThreadInfo> out;
    forEachU32(s->txn, s->handle->dbs().threads, impl_->directory, [&](uint32_t id, std::string_view v) {
        out.push_back(decodeThreadInfo(v));
        out.back().index = id;
    });
    return out;
}

namespace {
// A table numbered from 0 by the writer (callers, labels; gaps read as "").
// A hostile index must not size the vector: it may run at most 1024 + twice
// the entries seen so far, so the vector stays proportional to what is stored.
std::vector<std::string> denseTable(const lmdb::Txn& txn, const lmdb::Dbi& dbi, const std::string& path,
                                    const char* what) {
    std::vector<std::string> out;
    uint64_t seen = 0;
    forEachU32(txn, dbi, path, [&](uint32_t id, std::string_view v) {
        ++seen;
        if (id >= 1024 + 2 * seen) {
            throw CorruptError(std::string(what) + " index " + std::to_string(id) + " out of range (" +
                               std::to_string(seen) + " stored up to it) in " + path);
        }
        if (out.size() <= id) out.resize(size_t(id) + 1);
        out[id] = std::string(v);
    });
    return out;
}
}  // namespace

std::vector<std::string> Database::callers() const {
    auto s = impl_->beginRead();
    std::vector<std::string> out = denseTable(s->txn, s->handle->dbs().callers, impl_->directory, "caller");
    for (auto& name : out) name = std::string(recordedModuleName(name));  // written before capture mapped it
    return out;
}

std::vector<std::string> Database::labels() const {
    auto s = impl_->beginRead();
    return denseTable(s->txn, s->handle->dbs().labels, impl_->directory, "label");
}

std::vector<SiteInfo> Database::sites() const {
    auto s = impl_->beginRead();
    std::vector<SiteInfo> out;
    forEachU32(s->txn, s->handle->dbs().sites, impl_->directory, [&](uint32_t id, std::string_view v) {
        out.push_back(decodeSiteInfo(v));
        out.back().id = id;
    });
    return out;
}

std::string Database::compression() const {
    auto s = impl_->beginRead();
    std::string_view value;
    if (!s->handle->dbs().meta.get(s->txn, format::kMetaCompression, value)) return "";
    return std::string(value);
}

std::string Database::policy() const {
    auto s = impl_->beginRead();
    std::string_view value;
    if (!s->handle->dbs().meta.get(s->txn, format::kMetaPolicy, value)) return "";
    return std::string(value);
}

std::string Database::sourcePolicy(const std::string& identity) const {
    auto s = impl_->beginRead();
    std::string_view value;
    const std::string key = format::kMetaSourcePolicyPrefix + identity;
    if (!s->handle->dbs().meta.get(s->txn, key, value)) return "";
    return std::string(value);
}

DatabaseSizes Database::sizes() const {
    DatabaseSizes sizes;
    struct stat st {};
    if (::stat(impl_->dataFile.c_str(), &st) == 0) sizes.fileBytes = uint64_t(st.st_size);
    auto s = impl_->beginRead();
    const store::SharedEnv& h = s->handle->dbs();
    if (h.calls) {
        MDB_stat c = h.calls.stat(s->txn);
        sizes.chunks = c.ms_entries;
        sizes.calls = c.ms_entries;
        sizes.callBytes = uint64_t(c.ms_branch_pages + c.ms_leaf_pages + c.ms_overflow_pages) * c.ms_psize;
        if (s->version >= 2) {  // the chunk headers hold the counts
            sizes.calls = 0;
            lmdb::Cursor cursor(s->txn, h.calls);
            MDB_val k{}, v{};
            format::CallKey key;
            for (bool ok = cursor.get(k, v, MDB_FIRST); ok; ok = cursor.get(k, v, MDB_NEXT)) {
                if (!format::decodeCallKey(lmdb::view(k), key)) throw CorruptError("malformed chunk key in " + impl_->directory);
                sizes.calls += codec::ChunkReader(lmdb::view(v), key.invocation).count();
            }
        }
    }
    for (const lmdb::Dbi* d : {&h.blobs, &h.payloads}) {
        if (!*d) continue;
        MDB_stat b = d->stat(s->txn);
        sizes.blobs += b.ms_entries;
        sizes.blobBytes += uint64_t(b.ms_branch_pages + b.ms_leaf_pages + b.ms_overflow_pages) * b.ms_psize;
    }
    return sizes;
}

}  // namespace callmonitor
