// LMDB 0.9 on-disk meta page (64-bit build), as mdb.c lays it out:
//
//   page header  0: u64 pgno | u16 pad | u16 flags (P_META 0x08) | u32 lower/upper
//   MDB_meta    16: u32 magic 0xBEEFC0DE | u32 version (1) | u64 address | u64 mapsize
//               40: MDB_db free  (u32 pad = page size | u16 flags | u16 depth |
//                                 u64 branch, leaf, overflow pages, entries | u64 root)
//               88: MDB_db main  (same layout)
//              136: u64 last_pgno | 144: u64 txnid
#include "lmdb/lmdb_meta_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

#include "callmonitor/errors.h"

namespace callmonitor::read {
namespace {

constexpr uint32_t kMagic = 0xBEEFC0DE;
constexpr uint32_t kDataVersion = 1;
constexpr uint16_t kPageBranch = 0x01, kPageLeaf = 0x02, kPageMeta = 0x08;
constexpr uint16_t kIntegerKey = 0x08;      // the free database's flags
constexpr uint64_t kInvalidPage = ~uint64_t(0);
constexpr uint16_t kMaxDepth = 32;          // LMDB's CURSOR_STACK
constexpr size_t kMetaBytes = 152;

template <class T> T at(const unsigned char* p, size_t offset) {
    T v;
    std::memcpy(&v, p + offset, sizeof v);
    return v;
}

struct Db {
    uint32_t pad;
    uint16_t flags, depth;
    uint64_t root;
};
Db dbAt(const unsigned char* p, size_t offset) {
    return Db{at<uint32_t>(p, offset), at<uint16_t>(p, offset + 4), at<uint16_t>(p, offset + 6),
              at<uint64_t>(p, offset + 40)};
}

class File {
public:
    explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
    ~File() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    uint64_t size() const {
        struct stat st {};
        return ::fstat(fd_, &st) == 0 ? uint64_t(st.st_size) : 0;
    }
    bool read(void* out, size_t n, uint64_t offset) const {
        return ::pread(fd_, out, n, off_t(offset)) == ssize_t(n);
    }

private:
    int fd_;
};

// "" when meta page `index` is consistent, else what is wrong with it.
std::string problem(const File& f, uint64_t fileSize, uint32_t pageSize, uint64_t index) {
    unsigned char m[kMetaBytes];
    if (!f.read(m, sizeof m, index * pageSize)) return "cannot be read (file too short)";
    if (at<uint64_t>(m, 0) != index || !(at<uint16_t>(m, 10) & kPageMeta)) return "is not marked as a meta page";
    if (at<uint32_t>(m, 16) != kMagic || at<uint32_t>(m, 20) != kDataVersion) return "has no LMDB magic";
    const Db dbs[2] = {dbAt(m, 40), dbAt(m, 88)};
    if (dbs[0].pad != pageSize) return "names another page size than meta page 0";
    if (dbs[0].flags != kIntegerKey || dbs[1].flags != 0) return "has unexpected database flags";
    const uint64_t lastPage = at<uint64_t>(m, 136);
    if (lastPage < 1 || lastPage >= fileSize / pageSize) {
        return "names last page " + std::to_string(lastPage) + ", but the file holds " +
               std::to_string(fileSize / pageSize) + " pages";
    }
    for (const Db& db : dbs) {
        if (db.root == kInvalidPage) {
            if (db.depth != 0) return "gives an empty database a depth";
            continue;
        }
        if (db.root < 2 || db.root > lastPage || db.depth < 1 || db.depth > kMaxDepth) {
            return "names root page " + std::to_string(db.root) + " at depth " + std::to_string(db.depth) +
                   ", outside pages 2.." + std::to_string(lastPage);
        }
        unsigned char header[16];
        if (!f.read(header, sizeof header, db.root * pageSize)) return "names a root page that cannot be read";
        const uint16_t flags = at<uint16_t>(header, 10);
        const bool kindOk = db.depth == 1 ? (flags & kPageLeaf) != 0 : (flags & kPageBranch) != 0;
        if (at<uint64_t>(header, 0) != db.root || !kindOk) {
            return "names root page " + std::to_string(db.root) + ", which is not a " +
                   (db.depth == 1 ? "leaf" : "branch") + " page";
        }
    }
    return "";
}

// One pass over both meta pages: "" when both are consistent (or the file
// is not LMDB's to judge).
std::string check(const std::string& dataFile) {
    File f(dataFile);
    if (!f.ok()) return "";  // mdb_env_open reports it
    const uint64_t size = f.size();
    unsigned char m[kMetaBytes];
    if (size < sizeof m || !f.read(m, sizeof m, 0)) return "";
    if (at<uint32_t>(m, 16) != kMagic || at<uint32_t>(m, 20) != kDataVersion) return "";
    const uint32_t pageSize = at<uint32_t>(m, 40);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) != 0)
        return "meta page 0 names page size " + std::to_string(pageSize);
    for (uint64_t i = 0; i < 2; ++i) {
        std::string p = problem(f, size, pageSize, i);
        if (!p.empty()) return "meta page " + std::to_string(i) + " " + p;
    }
    return "";
}

}  // namespace

void checkLmdbMetaPages(const std::string& dataFile) {
    // A writer in another process may be rewriting a meta page as we read it:
    // only a problem that persists across a few reads is corruption.
    std::string why;
    for (int attempt = 0; attempt < 3; ++attempt) {
        why = check(dataFile);
        if (why.empty()) return;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    throw CorruptError(dataFile + " is damaged: its LMDB " + why + "; the database cannot be read");
}

}  // namespace callmonitor::read
