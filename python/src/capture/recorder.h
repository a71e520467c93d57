// The capture session of this process: the Writers it records into (each
// opened at its first recorded call), the ids it gave functions, threads and
// caller modules, and the settings read on the hot path. Everything here
// runs with the GIL held, which is what serialises invocation numbers.
//
// Writers: the process's own (main, rank-NNNN, pid-N; or tid-N when the main
// thread declared one) and one per writer a thread declared with
// Settings().enable_multi_threading(tid). Each thread's CaptureState caches
// its writer (a WriterSlot) and its lane there. Function, site and caller
// ids are the session's, shared by its writers; sites and callers go to
// every writer, a function to a writer at its first call there; invocation
// numbers count per writer (each writer is a database of its own).
#pragma once

#include <Python.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/call_clock.h"
#include "capture/caller_frame.h"
#include "capture/function_policy.h"
#include "callmonitor/records.h"
#include "capture/thread_state.h"
#include "callmonitor/writer.h"

namespace callmonitor::py {

struct SessionSettings {
    bool captureResult = true;
    bool strict = false;
    bool sync = false;
};

// One writer of the session and what it has been told.
struct WriterSlot {
    std::string key;                 // the declared writer id, "" for the process's own
    // Before `writer`: its thread reads this writer's policy counts until it is destroyed.
    std::unique_ptr<PolicyLedger> policy = std::make_unique<PolicyLedger>();
    std::unique_ptr<Writer> writer;  // null: opening it failed (calls routed here run unrecorded)
    std::string directory;
    SessionSettings settings;        // read when it opened (configure() later: writers opened later)
    // Per function id: invocations recorded here; kUnknown until its first call here.
    static constexpr uint64_t kUnknown = ~uint64_t(0);
    std::vector<uint64_t> invocations;
    std::vector<bool> threadsKnown;  // per thread index: its ThreadInfo was submitted here

    // Capture policies: this writer's calls seen, kept and dropped per
    // function (its meta["policy"]), and by function id the counts of the
    // functions with a policy (null: none), set by registerIn.
    std::vector<PolicyCounts*> policyCounts;
    PolicyCounts* countsOf(uint32_t fid) const { return fid < policyCounts.size() ? policyCounts[fid] : nullptr; }

    bool live() const { return writer && !writer->failed(); }
    bool knows(uint32_t fid) const { return fid < invocations.size() && invocations[fid] != kUnknown; }
    uint64_t nextInvocation(uint32_t fid) { return ++invocations[fid]; }
};

class Recorder {
public:
    static Recorder& instance();

    // Sets st.sink and st.lane to the writer this thread records into now
    // (opening it at its first call) and registers the thread there. False:
    // the call runs unrecorded (capture off, or that writer failed; a failed
    // writer counts the call as dropped).
    bool route(CaptureState& st);
    // Changes when any thread's writer may have changed: a new session, the
    // process's declared writer. A thread whose st.route differs routes again.
    uint64_t routeEpoch() const { return route_; }
    // Registers function `fid` in the thread's writer (before its first call there).
    void registerIn(WriterSlot& slot, uint32_t fid);
    uint64_t epoch() const { return epoch_; }
    // The calling thread's writer, its settings and directory: valid after
    // route() succeeded on this thread in this session.
    WriterSlot& sink() { return *t_captureState->sink; }
    const SessionSettings& settings() { return sink().settings; }
    Writer& writer() { return *sink().writer; }
    const std::string& writerDir() { return sink().directory; }
    // The directory of the calling thread's writer, else of the process's
    // writer, else of the first one opened ("" when none is open).
    std::string currentWriterDir() const;
    std::vector<std::string> liveWriterDirs() const;  // writers open and not failed
    bool sessionOpen() const { return !writers_.empty(); }
    size_t openLanes() const;  // lanes of the session's writers (threads recording now)

    // Settings().enable_multi_threading: the writer the calling thread
    // records into from its next call ("" : the process's). `process` (the
    // main thread): the writer of every thread that declared none.
    void declareWriter(const std::string& writerId, bool process);
    std::string declaredWriter() const;
    // Hands a thread's lanes to their writers (the thread is ending).
    void releaseThread(CaptureState& st);

    // Function id for `func` in the current session (registers it once).
    // Returns false with an error cleared (the call then runs unrecorded).
    bool functionId(PyObject* func, uint32_t& fid);
    // An inner=True function's call sites got resolved names (its profile's
    // `names` list, None where not yet called): rewrites its function record
    // in the writers that know it when there are new ones.
    void noteInnerNames(uint32_t fid, PyObject* names);
    const std::string& functionDirName(uint32_t fid) const { return dirNames_[fid]; }

    // Capture policies (capture_policy.h). The policy of the front end
    // `wrapper` (an Interceptor, or the function itself) for function `fid`
    // in this session: resolved once per distinct own options (the wrapper's
    // __dict__["__callmonitor_policy__"], none: configure()'s and the
    // environment's), so two interceptors of one function apply each their
    // own. Null when resolving failed (every call is recorded). Runs Python
    // (callmonitor.capture.policy.resolve): the caller holds the busy guard.
    FunctionPolicy* policyFor(uint32_t fid, PyObject* wrapper);
    // Whether some front end of `fid` has a policy (its calls are counted per writer).
    bool hasPolicy(uint32_t fid) const { return fid < policies_.size() && policies_[fid].counted; }
    // max_db_bytes=: true once the session's databases have reached it
    // (recording then stops for the session, with one warning; the call
    // (fid, n) is the first not recorded).
    bool databaseFull(uint32_t fid, uint64_t invocation) {
        if (__builtin_expect(maxDbBytes_ == 0, 1)) return false;
        if (ledger_->isStopped()) return true;
        uint64_t stored = 0;
        for (auto& w : writers_)
            if (w->writer) stored += w->writer->storedBytes();
        if (stored < maxDbBytes_) return false;
        stopAtDatabaseLimit(fid, invocation);
        return true;
    }
    // Who called: the calling code location (site, registered once per
    // location through Writer::submitSite) and the caller's module (once per
    // globals dict, submitCaller). Cached per (code object, instruction), so
    // a call pays a few compares.
    static constexpr uint32_t kNoSite = ~uint32_t(0);  // no Python frame: the record has no Site field
    struct Caller {
        uint32_t site = kNoSite;
        uint32_t module = 0;
        // The end of every entry record from this caller, encoded once: the
        // entry ext area (Site, Label) and the Pending byte; valid while
        // labelGen == the Recorder's (the label it encodes is current).
        uint64_t labelGen = 0;
        uint8_t tailSize = 0;
        char tail[16] = {0};
    };
    // Inline: every recorded call asks (a frame read and one cache compare).
    Caller caller() {
        CallerFrame frame;
        const bool found = currentCallerFrame(frame);
        return callerAt(frame, found);
    }
    // The same for a front end with a Python frame of its own: the caller
    // `depth` frames above the innermost (callerFrameAbove).
    Caller callerAbove(int depth);

    // The label of the calls recorded from now on (entry ext Label;
    // callmonitor.trace.labels.set_label): `label`, or with nullopt the
    // session's (configure(label=)), or none. Each label text gets an id
    // once per session (Writer::submitLabel, at its first recorded call); a
    // change makes the cached entry tails stale (one compare per call).
    void setLabel(std::optional<std::string> label);
    uint64_t nowNs() { return clock_.nowNs(); }

    // Records a capture error: logged once, counted.
    void captureError(const char* what);

    // Python-facing controls.
    bool flush();
    void close();          // flush, close, next call opens a new session
    void afterForkChild(); // abandon the parent's writer, never touching it
    // Commits what is recorded, waiting at most `timeout` (os._exit: the
    // process ends right after, whatever the writer does).
    bool commitBeforeExit(std::chrono::milliseconds timeout);
    void setEnabled(bool on) { enabled_ = on; }
    // The user chose where to record (configure(output=...) or
    // $CALLMONITOR_DIR): flat_profile records into a database only then.
    void setOutputChosen(bool on) { outputChosen_ = on; }
    bool outputChosen() const { return outputChosen_; }
    PyObject* statsDict();
    std::string outputDirectory() const { return runDir_; }

private:
    // Opens the writer `key` names ("" the process's): a slot, with a null
    // writer when that failed. Waits while another thread opens one (the
    // Python part of opening releases the GIL).
    WriterSlot* slotFor(const std::string& key);
    std::unique_ptr<WriterSlot> open(const std::string& key);
    // Tells a new writer the session's sites, callers and label.
    void introduce(WriterSlot& slot);
    uint32_t threadIndex();
    // Forgets the ids of a session (functions, threads, callers).
    void resetTables();
    bool opening_ = false;

    std::vector<std::unique_ptr<WriterSlot>> writers_;
    bool enabled_ = true;
    bool outputChosen_ = false;
    uint64_t droppedUnopened_ = 0;  // calls routed to a writer that could not be opened
    bool warnedError_ = false;
    uint64_t epoch_ = 1;        // bumps with every new session (fork, close)
    uint64_t route_ = 1;        // bumps with epoch_ and when the process's declared writer changes
    std::string processWriter_; // the writer the main thread declared ("" : automatic)
    std::string runDir_;
    int64_t clockOrigin_ = 0;
    CallClock clock_;

    std::unordered_map<std::string, uint32_t> functionIds_;
    std::vector<FunctionInfo> functions_;  // by function id
    std::unordered_map<uint32_t, size_t> innerResolved_;  // inner=True functions: sites with a name submitted
    std::vector<std::string> dirNames_;
    std::vector<std::string> fullNames_;        // FunctionInfo::fullName(), the sample= draw's function
    struct ResolvedPolicy {
        PyObject* own;  // the own options dict (strong; null: none): the key
        std::unique_ptr<FunctionPolicy> policy;
    };
    struct FunctionPolicies {
        std::vector<ResolvedPolicy> byOptions;
        bool counted = false;  // one of them is not null
    };
    std::vector<FunctionPolicies> policies_;  // by function id
    void clearPolicies();
    // The session's counts for meta["policy"]; read by the writer thread, so
    // it outlives the Writer (reset when the next session opens).
    std::unique_ptr<PolicyLedger> ledger_ = std::make_unique<PolicyLedger>();
    uint64_t policySeed_ = 0, maxDbBytes_ = 0;
    __attribute__((noinline)) void stopAtDatabaseLimit(uint32_t fid, uint64_t invocation);
    uint32_t nextThread_ = 0;
    // What every writer of the session is told (introduce()).
    std::vector<std::pair<uint32_t, std::string>> callerNames_;
    std::vector<SiteInfo> siteInfos_;
    uint32_t moduleIndex(PyObject* globals);
    Caller resolveCaller(const CallerFrame& frame);
    // The ids of the caller in `frame` (found: false when no Python frame
    // runs): the site cache's entry, else callerMissed().
    Caller callerAt(const CallerFrame& frame, bool found) {
        if (__builtin_expect(found, 1)) {
            const SiteKey key{frame.code, frame.location, frame.globals};
            const SiteCacheEntry& slot = siteCache_[SiteKeyHash()(key) % kSiteCacheSize];
            if (__builtin_expect(slot.key == key && slot.ids.labelGen == labelGen_, 1)) return slot.ids;
        }
        return callerMissed(frame, found);
    }
    __attribute__((noinline)) Caller callerMissed(const CallerFrame& frame, bool found);
    // The ids and entry tail of a caller: `site` may be kNoSite.
    Caller makeCaller(uint32_t site, uint32_t module);
    // Id of the label calls carry now (registered with the writer the first
    // time in a session); kNoLabel: none.
    static constexpr uint32_t kNoLabel = ~uint32_t(0);
    uint32_t currentLabelId();
    std::string label_;                        // the session's label ("": none)
    std::optional<std::string> callLabel_;     // setLabel's, over the session's
    std::unordered_map<std::string, uint32_t> labelIds_;  // this session's label ids
    uint64_t labelGen_ = 1;                    // bumps when the label calls carry may change
    uint32_t labelId_ = kNoLabel;              // currentLabelId() of generation labelIdGen_
    uint64_t labelIdGen_ = 0;
    Caller noFrame_;              // a call with no Python frame (valid when noFrameKnown_)
    bool noFrameKnown_ = false;
    std::unordered_map<PyObject*, uint32_t> callers_;   // globals dict (strong ref) -> index
    // Sites: (code object (strong ref), location, globals) -> ids, and a
    // direct-mapped cache of the same in front of the map.
    struct SiteKey {
        PyObject* code;
        int location;
        PyObject* globals;
        bool operator==(const SiteKey& o) const {
            return code == o.code && location == o.location && globals == o.globals;
        }
    };
    struct SiteKeyHash {
        size_t operator()(const SiteKey& k) const {
            return (reinterpret_cast<uintptr_t>(k.code) >> 4) * 31 + static_cast<size_t>(k.location) +
                   (reinterpret_cast<uintptr_t>(k.globals) >> 4) * 1000003;
        }
    };
    std::unordered_map<SiteKey, Caller, SiteKeyHash> sites_;
    uint32_t nextSite_ = 0;
    struct SiteCacheEntry {
        SiteKey key{nullptr, 0, nullptr};
        Caller ids;
    };
    static constexpr size_t kSiteCacheSize = 256;
    SiteCacheEntry siteCache_[kSiteCacheSize];
};

}  // namespace callmonitor::py
