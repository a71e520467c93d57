// mergeWriters: many writer environments copied into one (see merge.h).
#include "callmonitor/merge.h"

#include <stdio.h>  // renameat2
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>

#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/format.h"
#include "callmonitor/records.h"
#include "callmonitor/run.h"
#include "codec/keys.h"
#include "lmdb/lmdb.h"
#include "store/chunk_writer.h"
#include "store/write_env.h"

namespace callmonitor {
namespace fs = std::filesystem;
namespace {

// One source writer of an input: a whole writer environment, or one
// SourceInfo of an earlier merge (its bases relative to that environment).
struct Unit {
    const Database* db = nullptr;
    SourceInfo info;
    std::string handlerRoot;  // directory holding its handlers/ tree, or ""
};

std::vector<Unit> unitsOf(const Database& db, const MergeInput& in) {
    std::vector<Unit> out;
    for (SourceInfo& s : db.sources()) {
        std::string root = s.handlerDir.empty() ? "" : in.directory + "/" + s.handlerDir;
        out.push_back({&db, std::move(s), std::move(root)});
    }
    if (!out.empty()) return out;
    Unit u;
    u.db = &db;
    u.info = ownSourceInfo(db, in.directory, in.run);
    if (fs::is_directory(in.directory + "/handlers")) u.handlerRoot = in.directory;
    out.push_back(std::move(u));
    return out;
}

bool inRange(uint32_t id, uint32_t base, uint32_t count) { return id >= base && id - base < count; }

// The output environment (format v2), committing every `kBatchBytes` so one
// transaction never dirties more than LMDB allows. Calls go through a
// ChunkWriter (chunks, payloads stored once by hash).
class Output {
public:
    Output(const std::string& dir, uint64_t mapSize)
        : env_(store::openForWriting(dir, mapSize)), chunks_(*env_, Compression::None, 0) {
        begin();
    }

    void put(const lmdb::Dbi& dbi, std::string_view key, std::string_view value, unsigned flags = 0) {
        dbi.put(txn_, key, value, flags);
        added(key.size() + value.size() + 16);
    }
    store::ChunkWriter& chunks() { return chunks_; }
    // Counts bytes written through chunks(); commits when the batch is full.
    void added(uint64_t bytes) {
        pending_ += bytes;
        if (pending_ > kBatchBytes) {
            chunks_.finishFunction();
            txn_.commit();
            begin();
        }
    }
    void finish() {
        chunks_.finishFunction();
        txn_.commit();
        if (int rc = mdb_env_sync(env_->env.handle(), 1)) lmdb::raise(rc, "mdb_env_sync", env_->env.path(), lmdb::Side::Write);
        env_.reset();
    }
    const store::SharedEnv& dbs() const { return *env_; }

private:
    static constexpr uint64_t kBatchBytes = uint64_t(64) << 20;
    void begin() {
        txn_ = lmdb::Txn(env_->env, 0);
        chunks_.begin(txn_);
        pending_ = 0;
    }
    std::unique_ptr<store::SharedEnv> env_;
    store::ChunkWriter chunks_;
    lmdb::Txn txn_;
    uint64_t pending_ = 0;
};

std::string hostName() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "";
    return buf;
}

// Copies one unit's tables under new ids starting at `base` (updated to the
// next free ids) and returns its SourceInfo in the output.
SourceInfo copyUnit(const Unit& u, size_t index, SourceInfo base, Output& out, const std::string& outDir,
                    MergeResult& result, const std::function<void(uint64_t)>& copied) {
    const SourceInfo& src = u.info;
    SourceInfo dst = src;
    dst.functionBase = base.functionBase;
    dst.threadBase = base.threadBase;
    dst.callerBase = base.callerBase;
    dst.siteBase = base.siteBase;
    dst.labelBase = base.labelBase;
    RecordRebase shift;
    shift.thread = int64_t(dst.threadBase) - src.threadBase;
    shift.caller = int64_t(dst.callerBase) - src.callerBase;
    shift.function = int64_t(dst.functionBase) - src.functionBase;
    shift.site = int64_t(dst.siteBase) - src.siteBase;
    shift.label = int64_t(dst.labelBase) - src.labelBase;
    const store::SharedEnv& o = out.dbs();

    for (FunctionInfo f : u.db->functions()) {
        if (!inRange(f.id, src.functionBase, src.functionCount)) continue;
        f.id = f.id - src.functionBase + dst.functionBase;
        out.put(o.functions, format::encodeU32Key(f.id), encodeFunctionInfo(f));
    }
    for (ThreadInfo t : u.db->threads()) {
        if (!inRange(t.index, src.threadBase, src.threadCount)) continue;
        t.index = static_cast<uint32_t>(t.index + shift.thread);
        out.put(o.threads, format::encodeU32Key(t.index), encodeThreadInfo(t));
    }
    const std::vector<std::string> callers = u.db->callers();
    for (uint32_t c = 0; c < src.callerCount && src.callerBase + c < callers.size(); ++c) {
        out.put(o.callers, format::encodeU32Key(dst.callerBase + c), callers[src.callerBase + c]);
    }

    for (SiteInfo s : u.db->sites()) {
        if (!inRange(s.id, src.siteBase, src.siteCount)) continue;
        s.id = static_cast<uint32_t>(s.id + shift.site);
        out.put(o.sites, format::encodeU32Key(s.id), encodeSiteInfo(s));
    }
    const std::vector<std::string> labels = u.db->labels();
    for (uint32_t l = 0; l < src.labelCount && src.labelBase + l < labels.size(); ++l) {
        out.put(o.labels, format::encodeU32Key(dst.labelBase + l), labels[src.labelBase + l]);
    }

    // Calls: re-chunked in the output; v1 records get their (empty) ext
    // areas, v1 blobs become payloads; payloads are copied once by hash.
    Snapshot snap = u.db->snapshot();
    const uint32_t version = snap.formatVersion();
    std::string inputHashes;
    for (uint32_t i = 0; i < src.functionCount; ++i) {
        const uint32_t fid = src.functionBase + i;
        CallCursor cursor = snap.calls(fid);
        CallView from;
        while (cursor.nextRaw(from)) {
            const format::CallKey to{dst.functionBase + i, from.key.invocation};
            std::string record = rebaseCallRecord(from.record, shift, version);
            if (version < 2) record = upgradeV1Record(record);
            store::ChunkWriter& cw = out.chunks();
            uint64_t bytes = record.size();
            store::CallToStore c{to, record, {}, from.inputHashes, from.resultHashes};
            if (version < 2) {
                inputHashes.clear();
                uint32_t expect = 0;
                for (const auto& [index, blob] : snap.blobs(from.key)) {
                    if (index != expect++) {
                        throw CorruptError("call " + std::to_string(from.key.invocation) + " of function " +
                                           std::to_string(fid) + " in " + u.db->directory() + " has blob " +
                                           std::to_string(index) + " without the ones before it");
                    }
                    inputHashes.append(cw.storePayload(blob).view());
                    bytes += blob.size();
                    ++result.blobs;
                }
                c.inputHashes = inputHashes;
            } else {
                for (std::string_view table : {from.inputHashes, from.resultHashes}) {
                    for (size_t at = 0; at < table.size(); at += codec::kHashSize) {
                        const std::string_view hash = table.substr(at, codec::kHashSize);
                        std::optional<std::string_view> stored = snap.storedPayload(hash);
                        if (!stored) {
                            throw CorruptError("call " + std::to_string(from.key.invocation) + " of function " +
                                               std::to_string(fid) + " in " + u.db->directory() +
                                               " names a payload that is missing");
                        }
                        cw.copyStoredPayload(hash, *stored);
                        bytes += stored->size();
                        ++result.blobs;
                    }
                }
            }
            cw.add(c);
            ++result.calls;
            out.added(bytes + 4);
            copied(1);
        }
        out.chunks().finishFunction();
    }

    if (!u.handlerRoot.empty()) {
        dst.handlerDir = "sources/" + std::to_string(index);
        fs::create_directories(outDir + "/" + dst.handlerDir);
        fs::copy(u.handlerRoot + "/handlers", outDir + "/" + dst.handlerDir + "/handlers", fs::copy_options::recursive);
    } else {
        dst.handlerDir.clear();
    }
    return dst;
}

void addStats(CaptureStats& total, const CaptureStats& s) {
    total.opaque += s.opaque;
    total.pickled += s.pickled;
    total.captureErrors += s.captureErrors;
    total.droppedCalls += s.droppedCalls;
}

}  // namespace

MergeResult mergeWriters(const std::string& out, const std::vector<MergeInput>& inputs,
                         const std::function<void(uint64_t, uint64_t)>& progress) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(out, ec))) throw StoreError(out + " exists: merge never overwrites; choose a new output path");
    if (inputs.empty()) throw StoreError("nothing to merge: give at least one run or writer directory");

    std::vector<Database> dbs;
    dbs.reserve(inputs.size());
    for (const MergeInput& in : inputs) dbs.push_back(Database::open(in.directory));

    // The source writers, each once.
    std::vector<Unit> units;
    MergeResult result;
    std::set<std::string> seen;
    uint64_t totalCalls = 0, inputBytes = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        inputBytes += dbs[i].sizes().fileBytes;
        for (Unit& u : unitsOf(dbs[i], inputs[i])) {
            if (!seen.insert(u.info.identity()).second) {
                ++result.duplicates;
                continue;
            }
            Snapshot snap = u.db->snapshot();
            for (uint32_t f = 0; f < u.info.functionCount; ++f) totalCalls += snap.lastInvocation(u.info.functionBase + f);
            units.push_back(std::move(u));
        }
    }

    const fs::path target = fs::absolute(out);
    const std::string tmp = target.string() + ".partial-" + std::to_string(getpid());
    fs::remove_all(tmp, ec);
    try {
        fs::create_directories(tmp);
        Output output(tmp, 2 * inputBytes + (uint64_t(256) << 20));
        std::vector<SourceInfo> sources;
        SourceInfo next;
        CaptureStats stats;
        uint64_t done = 0;
        auto copied = [&](uint64_t n) {
            done += n;
            if (progress && (done % 4096 == 0 || done == totalCalls)) progress(done, totalCalls);
        };
        for (size_t k = 0; k < units.size(); ++k) {
            SourceInfo s = copyUnit(units[k], k, next, output, tmp, result, copied);
            // Its capture policy counts, by the source's own function ids (the reader adds functionBase).
            const Unit& u = units[k];
            const std::string policy = u.db->sources().empty() ? u.db->policy() : u.db->sourcePolicy(u.info.identity());
            if (!policy.empty())
                output.put(output.dbs().meta, format::kMetaSourcePolicyPrefix + s.identity(), policy);
            next.functionBase = s.functionBase + s.functionCount;
            next.threadBase = s.threadBase + s.threadCount;
            next.callerBase = s.callerBase + s.callerCount;
            next.siteBase = s.siteBase + s.siteCount;
            next.labelBase = s.labelBase + s.labelCount;
            addStats(stats, s.stats);
            sources.push_back(std::move(s));
        }
        WriterInfo self;
        self.host = hostName();
        self.pid = getpid();
        self.writerId = "merged";
        self.cwd = fs::current_path(ec).string();
        self.startedUnixNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
        self.runId = "merge:" + self.host + ":" + std::to_string(self.pid) + ":" + std::to_string(self.startedUnixNs);
        const store::SharedEnv& o = output.dbs();
        output.put(o.meta, format::kMetaFormat, format::encodeFormatValue());
        output.put(o.meta, format::kMetaWriter, encodeWriterInfo(self));
        output.put(o.meta, format::kMetaStats, encodeCaptureStats(stats));
        output.put(o.meta, format::kMetaSources, encodeSources(sources));
        output.finish();
        result.writers = static_cast<uint32_t>(sources.size());
        if (progress) progress(done, totalCalls);
        if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
            throw StoreError("cannot move the merge into " + out + ": " + std::strerror(errno));
        }
    } catch (const fs::filesystem_error& e) {
        const std::string hint = store::fullDiskHint(tmp);
        fs::remove_all(tmp, ec);
        throw StoreError(std::string("merge into ") + out + " failed: " + e.what() + hint);
    } catch (const StoreError& e) {
        const std::string hint = store::fullDiskHint(tmp);
        fs::remove_all(tmp, ec);
        if (hint.empty()) throw;
        throw StoreError(std::string("merge into ") + out + " failed: " + e.what() + hint +
                         "; free space or merge elsewhere (nothing was written)");
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    result.bytes = fs::file_size(target / "data.mdb", ec);
    return result;
}

}  // namespace callmonitor
