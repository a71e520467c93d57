// Small RAII wrappers over the LMDB C API (in the style of hoytech/lmdbxx),
// shared by the writer (store stage) and the reader (read stage).
//
// Owners (Env, Txn, Cursor) are movable, not copyable. A Dbi is a plain
// handle (LMDB owns it with the environment). Every failing mdb_* call
// throws through raise(), the one mapping from LMDB return codes to the typed
// errors of errors.h; the message names the mdb_* call and the path.
//
// Views (MDB_val / std::string_view) returned by get() and cursor moves
// point into the memory map and are valid only until their transaction ends
// (commit, abort or reset) or the next write through it.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "callmonitor/errors.h"

namespace callmonitor::lmdb {

// Which stage is calling: decides the error class a failure maps to.
enum class Side { Write, Read };

// Internal error classes the writer and reader catch and handle themselves.
struct MapFullError : StoreError {        // MDB_MAP_FULL: the writer grows the map and retries
    using StoreError::StoreError;
};
struct MapResizedError : DatabaseError {  // MDB_MAP_RESIZED: the reader adopts the new size and retries
    using DatabaseError::DatabaseError;
};

// The message for `rc` from `call` on `path`, e.g.
// "mdb_txn_commit failed on /x/main: MDB_MAP_FULL: Environment mapsize limit reached".
std::string describe(int rc, std::string_view call, const std::string& path);

// The one mapping. Write side: MDB_MAP_FULL -> MapFullError, anything else ->
// StoreError. Read side: ENOENT -> NotFoundError, MDB_MAP_RESIZED ->
// MapResizedError, MDB_VERSION_MISMATCH -> VersionError, anything else
// (MDB_INVALID, MDB_CORRUPTED, MDB_PAGE_NOTFOUND, EIO, ...) -> CorruptError.
[[noreturn]] void raise(int rc, std::string_view call, const std::string& path, Side side);

inline std::string_view view(const MDB_val& v) {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}
inline MDB_val val(std::string_view s) {
    return MDB_val{s.size(), const_cast<char*>(s.data())};
}

class Env {
public:
    Env() = default;
    // mdb_env_create; configure with the setters, then open().
    Env(std::string path, Side side);
    ~Env() { close(); }
    Env(Env&& o) noexcept { *this = std::move(o); }
    Env& operator=(Env&& o) noexcept;
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;

    void setMaxDbs(unsigned n);
    void setMapSize(uint64_t bytes);  // 0: adopt the size another process set
    // Returns the mdb_env_open code instead of throwing when `rc` is non-null
    // (so the caller can retry, e.g. without a lock file).
    void open(unsigned flags, mdb_mode_t mode, int* rc = nullptr);
    void close() noexcept;
    // Drops the handle without calling LMDB (forked child).
    void leak() noexcept { env_ = nullptr; }
    MDB_envinfo info() const;
    unsigned pageSize() const;
    int fd() const;

    MDB_env* handle() const { return env_; }
    const std::string& path() const { return path_; }
    Side side() const { return side_; }

private:
    MDB_env* env_ = nullptr;
    std::string path_;
    Side side_ = Side::Read;
};

class Txn {
public:
    Txn() = default;
    // mdb_txn_begin; `flags` MDB_RDONLY for a read transaction. Failures of
    // the transaction (and its Dbi/Cursor calls) map by `side`, by default
    // the environment's: a reader in a Writer's shared environment reads
    // with Side::Read.
    Txn(const Env& env, unsigned flags) : Txn(env, flags, env.side()) {}
    Txn(const Env& env, unsigned flags, Side side);
    // Adopts a reset read transaction and renews it (mdb_txn_renew).
    static Txn renew(const Env& env, MDB_txn* reset, Side side);
    ~Txn() { abort(); }
    Txn(Txn&& o) noexcept { *this = std::move(o); }
    Txn& operator=(Txn&& o) noexcept;
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;

    void commit();
    void abort() noexcept;
    // Resets a read transaction and gives up ownership of it (for a pool).
    MDB_txn* resetAndRelease() noexcept;

    MDB_txn* handle() const { return txn_; }
    const Env& env() const { return *env_; }
    Side side() const { return side_; }
    explicit operator bool() const { return txn_ != nullptr; }

private:
    const Env* env_ = nullptr;
    MDB_txn* txn_ = nullptr;
    Side side_ = Side::Read;
};

class Dbi {
public:
    Dbi() = default;
    // mdb_dbi_open. With `missingOk`, a missing database gives an invalid Dbi.
    static Dbi open(const Txn& txn, const char* name, unsigned flags, bool missingOk = false);
    explicit operator bool() const { return valid_; }
    MDB_dbi handle() const { return dbi_; }

    // false when absent. `out` is valid while `txn` lives (see file comment).
    bool get(const Txn& txn, std::string_view key, std::string_view& out) const;
    void put(const Txn& txn, std::string_view key, std::string_view value, unsigned flags = 0) const;
    MDB_stat stat(const Txn& txn) const;

private:
    MDB_dbi dbi_ = 0;
    bool valid_ = false;
};

class Cursor {
public:
    Cursor() = default;
    Cursor(const Txn& txn, const Dbi& dbi);
    ~Cursor() { close(); }
    Cursor(Cursor&& o) noexcept { *this = std::move(o); }
    Cursor& operator=(Cursor&& o) noexcept;
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

    // One cursor move; false on MDB_NOTFOUND. `key` is both input (for
    // MDB_SET_RANGE etc.) and output.
    bool get(MDB_val& key, MDB_val& value, MDB_cursor_op op) const;
    // mdb_cursor_put; returns the LMDB code for MDB_KEYEXIST (so a failed
    // MDB_APPEND can fall back), throws on any other failure.
    int put(std::string_view key, std::string_view value, unsigned flags) const;
    void close() noexcept;

private:
    const Txn* txn_ = nullptr;
    MDB_cursor* cur_ = nullptr;
};

}  // namespace callmonitor::lmdb
