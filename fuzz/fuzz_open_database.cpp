// libFuzzer target: the reader (Database, Snapshot, the decoders behind them)
// opening a mutated copy of a real database, then reading everything in it.
// The mutations (fuzz_inputs.h) are hostile records put through LMDB's own
// API, and raw bytes in LMDB's meta pages. Raw bytes in LMDB's tree pages
// are out of scope: LMDB trusts its pages (see docs/security.md).
#include <fcntl.h>
#include <signal.h>
#include <lmdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "exercise.h"
#include "fuzz_inputs.h"
#include "sample_records.h"

using namespace callmonitor;
namespace fs = std::filesystem;

namespace {

struct Workspace {
    std::string root, templateDir, workDir, workFile;
    std::string templateBytes;  // data.mdb of the sample database
    off_t pageSize = 0;         // its LMDB page size
};
Workspace* gSpace = nullptr;

std::string readAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeAll(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

// Cursor over the fuzz input.
struct Input {
    const uint8_t* p;
    const uint8_t* end;
    bool has(size_t n) const { return size_t(end - p) >= n; }
    uint8_t u8() { return has(1) ? *p++ : 0; }
    std::string_view take(size_t n) {
        n = std::min(n, size_t(end - p));
        std::string_view v(reinterpret_cast<const char*>(p), n);
        p += n;
        return v;
    }
};

// Put/delete records through LMDB (the environment stays valid LMDB).
void applyRecordEdits(Input in) {
    MDB_env* env = nullptr;
    if (mdb_env_create(&env)) abort();
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, uint64_t(8) << 20);
    if (mdb_env_open(env, gSpace->workDir.c_str(), MDB_NOSYNC, 0644)) abort();
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env, nullptr, 0, &txn)) abort();
    bool failed = false;
    while (in.has(4)) {
        const char* name = fuzz::kDatabaseNames[in.u8() % fuzz::kDatabases];
        const bool put = in.u8() % 2 == 0;
        std::string_view key = in.take(in.u8());
        size_t n = in.u8();
        n |= size_t(in.u8()) << 8;
        std::string_view value = in.take(n);
        MDB_dbi dbi;
        if (mdb_dbi_open(txn, name, MDB_CREATE, &dbi)) {
            failed = true;
            break;
        }
        MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
        if (key.empty() || key.size() > 511) continue;  // LMDB's own key limits (MDB_BAD_VALSIZE)
        int rc = put ? mdb_put(txn, dbi, &k, &v, 0) : mdb_del(txn, dbi, &k, nullptr);
        if (rc && rc != MDB_NOTFOUND) {
            failed = true;  // the transaction cannot commit now: the reader gets the unmutated copy
            break;
        }
    }
    if (failed) mdb_txn_abort(txn);
    else if (mdb_txn_commit(txn)) abort();
    mdb_env_close(env);
}

// Overwrite bytes of the two meta pages (pages 0 and 1).
void applyMetaPageBytes(Input in) {
    int fd = ::open(gSpace->workFile.c_str(), O_WRONLY);
    if (fd < 0) abort();
    while (in.has(3)) {
        const off_t page = in.u8() % 2;
        const off_t offset = in.u8();
        std::string_view bytes = in.take(in.u8() % 17);
        if (::pwrite(fd, bytes.data(), bytes.size(), page * gSpace->pageSize + offset) < 0) abort();
    }
    ::close(fd);
}

template <class F> void expectOnlyCallmonitorErrors(F&& f) {
    try {
        f();
    } catch (const Error&) {
    }
}

void readEverything() {
    Database db = Database::open(gSpace->workDir);
    expectOnlyCallmonitorErrors([&] { (void)db.writerInfo(); });
    expectOnlyCallmonitorErrors([&] { (void)db.stats(); });
    expectOnlyCallmonitorErrors([&] { (void)db.threads(); });
    expectOnlyCallmonitorErrors([&] { (void)db.callers(); });
    expectOnlyCallmonitorErrors([&] { (void)db.sizes(); });
    expectOnlyCallmonitorErrors([&] { (void)db.sources(); });
    expectOnlyCallmonitorErrors([&] { (void)db.sites(); });
    expectOnlyCallmonitorErrors([&] { (void)db.labels(); });
    expectOnlyCallmonitorErrors([&] { (void)db.compression(); });
    std::vector<FunctionInfo> functions;
    expectOnlyCallmonitorErrors([&] { functions = db.functions(); });
    Snapshot snap = db.snapshot();
    expectOnlyCallmonitorErrors([&] { (void)snap.lastInvocation(UINT32_MAX); });
    for (const FunctionInfo& fn : functions) {
        fuzz::exerciseFunction(fn);
        expectOnlyCallmonitorErrors([&] { (void)snap.lastInvocation(fn.id); });
        expectOnlyCallmonitorErrors([&] { (void)snap.countCalls(fn.id); });
        std::vector<uint64_t> invocations;
        expectOnlyCallmonitorErrors([&] { invocations = snap.invocations(fn.id); });
        expectOnlyCallmonitorErrors([&] {  // the streaming cursor over the same calls
            CallView v;
            for (CallCursor c = snap.calls(fn.id); c.next(v);) (void)v.inputs;
        });
        for (uint64_t inv : invocations) {
            const format::CallKey key{fn.id, inv};
            expectOnlyCallmonitorErrors([&] {
                const CallView v = snap.call(key);
                fuzz::exerciseCall(v, snap.payloadResolver(v, Section::Inputs));
                if (v.outcome == format::Outcome::Returned)
                    fuzz::exerciseValue(decodeValue(v.result, snap.payloadResolver(v, Section::Result)));
            });
            expectOnlyCallmonitorErrors([&] { (void)snap.blobs(key); });
        }
    }
}

// Workspaces of fuzzer processes that died on a finding (no atexit ran).
void removeStaleWorkspaces(const fs::path& base) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(base, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("callmonitor-fuzz-", 0) != 0) continue;
        const long pid = std::strtol(name.c_str() + 17, nullptr, 10);
        if (pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    gSpace = new Workspace;
    // tmpfs when there is one: every input rewrites the database file.
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    removeStaleWorkspaces(base);
    gSpace->root = (base / ("callmonitor-fuzz-" + std::to_string(::getpid()))).string();
    gSpace->templateDir = gSpace->root + "/template";
    gSpace->workDir = gSpace->root + "/work";
    gSpace->workFile = gSpace->workDir + "/data.mdb";
    fs::remove_all(gSpace->root);
    fs::create_directories(gSpace->workDir);
    fuzz::writeSampleDatabase(gSpace->templateDir, fuzz::sampleRecords());
    gSpace->templateBytes = readAll(gSpace->templateDir + "/data.mdb");
    uint32_t pageSize = 0;  // MDB_meta's free database record starts with it (src/read/lmdb_meta_check.cpp)
    std::memcpy(&pageSize, gSpace->templateBytes.data() + 40, 4);
    gSpace->pageSize = off_t(pageSize);
    std::atexit([] { fs::remove_all(gSpace->root); });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    writeAll(gSpace->workFile, gSpace->templateBytes);
    Input in{data + 1, data + size};
    if (static_cast<fuzz::DbMutation>(data[0] % 2) == fuzz::DbMutation::RecordEdits) applyRecordEdits(in);
    else applyMetaPageBytes(in);
    expectOnlyCallmonitorErrors(readEverything);
    return 0;
}
