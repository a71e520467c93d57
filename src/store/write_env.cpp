#include "store/write_env.h"

#include <sys/statvfs.h>

#include <algorithm>

#include "callmonitor/format.h"

namespace callmonitor::store {

std::unique_ptr<SharedEnv> openForWriting(const std::string& dir, uint64_t mapSize) {
    auto e = std::make_unique<SharedEnv>();
    e->access = Access::Write;
    e->flags = MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS;  // NOTLS: a Database's read txns live on any thread
    e->env = lmdb::Env(dir, lmdb::Side::Write);
    e->env.setMaxDbs(format::kMaxDbs);
    e->env.setMapSize(std::max<uint64_t>(mapSize, 64 * 1024));
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
