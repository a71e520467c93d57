#include "store/write_env.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "callmonitor/errors.h"
#include "callmonitor/format.h"

namespace callmonitor::store {
namespace {

// LMDB sizes its lock file with ftruncate and writes it through a shared
// mapping: on a file system with no room left (a full tmpfs) the first write
// to a page that cannot be allocated is a SIGBUS that kills the program, not
// an error. Allocating the file's blocks first turns that into ENOSPC here.
// 64 KiB holds LMDB's default lock table (126 readers, 8 KiB) with room; a
// larger file only lets LMDB admit more readers.
constexpr off_t kLockFileBytes = 64 * 1024;

// Only for a new environment: an existing lock file is in use by its readers
// and keeps the size they mapped.
void reserveLockFile(const std::string& dir) {
    const std::string path = dir + "/lock.mdb";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return;  // it exists, or mdb_env_open will report why
    const int err = ::posix_fallocate(fd, 0, kLockFileBytes);
    ::close(fd);
    if (err == ENOSPC || err == EDQUOT) {
        ::unlink(path.c_str());
        throw StoreError("cannot create " + path + ": no space left on device (the file system holding it is full)");
    }
}

}  // namespace

std::unique_ptr<SharedEnv> openForWriting(const std::string& dir, uint64_t mapSize) {
    auto e = std::make_unique<SharedEnv>();
    e->access = Access::Write;
    e->flags = MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS;  // NOTLS: a Database's read txns live on any thread
    e->env = lmdb::Env(dir, lmdb::Side::Write);
    e->env.setMaxDbs(format::kMaxDbs);
    e->env.setMapSize(std::max<uint64_t>(mapSize, 64 * 1024));
    reserveLockFile(dir);
    e->env.open(e->flags, 0644);
    lmdb::Txn txn(e->env, 0);
    e->meta = lmdb::Dbi::open(txn, format::kMetaDb, MDB_CREATE);
    e->functions = lmdb::Dbi::open(txn, format::kFunctionsDb, MDB_CREATE);
    e->calls = lmdb::Dbi::open(txn, format::kCallsDb, MDB_CREATE);
    e->blobs = lmdb::Dbi::open(txn, format::kBlobsDb, 0, true);  // v1 only: opened when present
    e->payloads = lmdb::Dbi::open(txn, format::kPayloadsDb, MDB_CREATE);
    e->sites = lmdb::Dbi::open(txn, format::kSitesDb, MDB_CREATE);
    e->labels = lmdb::Dbi::open(txn, format::kLabelsDb, MDB_CREATE);
    e->threads = lmdb::Dbi::open(txn, format::kThreadsDb, MDB_CREATE);
    e->callers = lmdb::Dbi::open(txn, format::kCallersDb, MDB_CREATE);
    txn.commit();
    return e;
}

std::string fullDiskHint(const std::string& path) {
    struct statvfs fs {};
    if (statvfs(path.c_str(), &fs) == 0 && fs.f_bavail * fs.f_frsize < (uint64_t(1) << 20))
        return "; the file system holding it is full";
    return "";
}

}  // namespace callmonitor::store
