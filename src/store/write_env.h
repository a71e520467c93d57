// Opening an environment for writing: the flags and named databases every
// writer environment has (a Writer's, a merge's output).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "lmdb/env_registry.h"

namespace callmonitor::store {

// Opens `dir` (which must exist) read-write with MDB_NOSYNC (commits survive
// the process, not a power loss: callers sync when they need to) and creates
// the named databases of format.h. Throws StoreError.
std::unique_ptr<SharedEnv> openForWriting(const std::string& dir, uint64_t mapSize);

// "; the file system holding it is full" when the file system of `path` has
// (almost) no room left, else "": LMDB reports a short write on a full disk
// as EIO, so a failure message says what it most likely was.
std::string fullDiskHint(const std::string& path);

}  // namespace callmonitor::store
