// One MDB_env per environment file per process.
//
// LMDB forbids opening the same environment twice in one process: the second
// mdb_env_open takes the POSIX fcntl lock (which always succeeds within one
// process), believes it is alone and re-initialises the reader lock table,
// wiping the first handle's reader slots. So every opener (Writer, Database)
// goes through acquireEnv(): it hands back this process's environment for
// the file when one is open, and opens and registers one otherwise. The
// environment is closed when its last user releases it.
//
// The map of a shared environment is guarded by its MapGate: every
// transaction of this process in the environment holds the gate shared for
// its whole life; mdb_env_set_mapsize (which remaps, moving every view) holds
// it exclusive.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "lmdb/lmdb.h"

namespace callmonitor::store {

// A reader-preferring shared/exclusive lock (SharedLockable, so it works with
// std::shared_lock and std::unique_lock). Shared holders only wait while a
// resize is in progress, never for a waiting one: a thread holding a snapshot
// may take another (nested reads) without deadlock. The price: the exclusive
// side waits for a moment with no shared holder at all.
class MapGate {
public:
    void lock_shared() {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return !exclusive_; });
        ++shared_;
    }
    void unlock_shared() noexcept {
        bool last;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            last = --shared_ == 0;
        }
        if (last) changed_.notify_all();
    }
    void lock() {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return !exclusive_ && shared_ == 0; });
        exclusive_ = true;
    }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!changed_.wait_for(lock, timeout, [&] { return !exclusive_ && shared_ == 0; })) return false;
        exclusive_ = true;
        return true;
    }
    void unlock() noexcept {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            exclusive_ = false;
        }
        changed_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    uint64_t shared_ = 0;
    bool exclusive_ = false;
};

// Who opened the environment, which decides what it can do.
enum class Access {
    Write,  // read-write, by a Writer (MDB_NOTLS: read transactions may live on any thread)
    Read,   // MDB_RDONLY, by a Database: a Writer cannot use it
};

// One open environment, shared by every Writer and Database of this process
// on that file.
struct SharedEnv {
    lmdb::Env env;
    Access access = Access::Read;
    unsigned flags = 0;  // the mdb_env_open flags that worked
    // The named databases, opened once by the opener (mdb_dbi_open must not
    // race other transactions). Invalid when missing from a read-only file.
    lmdb::Dbi meta, functions, calls, blobs, threads, callers;
    lmdb::Dbi payloads, sites, labels;  // v2
    MapGate gate;

    // Set by acquireEnv.
    std::string key;
    pid_t pid = 0;  // the opening process: a forked child never closes it
};

// The registry key of an environment: the canonical path of its data file
// (realpath of `path`, plus "/data.mdb" when `path` is the directory).
std::string envKey(const std::string& path, bool subdir);

// This process's environment for `key`, or, when there is none, the one
// `open` returns (it runs under the registry lock: concurrent openers of one
// file never both open it). A failing `open` throws through, registering
// nothing. Waits while the environment is being closed by its last user, so
// two MDB_env on one file never coexist. Entries inherited across fork() are
// ignored (and their environments never closed in the child).
using EnvOpener = std::function<std::unique_ptr<SharedEnv>()>;
std::shared_ptr<SharedEnv> acquireEnv(const std::string& key, const EnvOpener& open);

}  // namespace callmonitor::store
