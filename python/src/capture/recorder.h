// The capture session of this process: the Writer it records into (opened at
// the first recorded call), the ids it gave functions, threads and caller
// modules, and the settings read on the hot path. Everything here runs with
// the GIL held, which is what serialises invocation numbers.
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
#include "callmonitor/writer.h"

namespace callmonitor::py {

struct SessionSettings {
    bool captureResult = true;
    bool strict = false;
    bool sync = false;
};

class Recorder {
public:
    static Recorder& instance();

    // True when calls should be recorded now (opens the writer at the first
    // call; false when capture is off or the writer failed).
    bool ready() {
        // A failed writer has reported itself once; capture stays off.
        if (writer_) return !writer_->failed();
        if (!enabled_ || broken_) return false;
        return openOnce();
    }
    // Counts a call that runs unrecorded because this session's writer
    // failed or could not be opened (stats()["dropped_calls"] counts both).
    void countUnrecorded() {
        if (writer_ && writer_->failed()) writer_->countDropped();
        else if (!writer_ && broken_ && enabled_) ++droppedUnopened_;
    }
    uint64_t epoch() const { return epoch_; }
    // A session is open and its writer has not failed (the hot path's check).
    bool live() const { return writer_ && !writer_->failed(); }
    const SessionSettings& settings() const { return settings_; }
    Writer& writer() { return *writer_; }
    const std::string& writerDir() const { return writerDir_; }

    // Function id for `func` in the current session (registers it once).
    // Returns false with an error cleared (the call then runs unrecorded).
    bool functionId(PyObject* func, uint32_t& fid);
    uint64_t nextInvocation(uint32_t fid) { return ++counters_[fid]; }
    // An inner=True function's call sites got resolved names (its profile's
    // `names` list, None where not yet called): rewrites its function record
    // when there are new ones.
    void noteInnerNames(uint32_t fid, PyObject* names);
    const std::string& functionDirName(uint32_t fid) const { return dirNames_[fid]; }

    // Capture policies (capture_policy.h). The policy of function `fid`
    // (null until resolvePolicy(); a function whose resolution failed has
    // none and records every call).
    FunctionPolicy* policy(uint32_t fid) const { return fid < policies_.size() ? policies_[fid].get() : nullptr; }
    bool hasPolicy(uint32_t fid) const { return fid < policyResolved_.size() && policyResolved_[fid]; }
    // Runs Python (callmonitor.capture.policy.resolve): the caller holds the busy guard.
    void resolvePolicy(uint32_t fid, PyObject* wrapper);
    // max_db_bytes=: true once the database has reached it (recording then
    // stops for the session, with one warning; the call (fid, n) is the first not recorded).
    bool databaseFull(uint32_t fid, uint64_t invocation) {
        if (__builtin_expect(maxDbBytes_ == 0, 1)) return false;
        if (ledger_->isStopped()) return true;
        if (writer_->storedBytes() < maxDbBytes_) return false;
        stopAtDatabaseLimit(fid, invocation);
        return true;
    }
    uint32_t threadIndex();
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
    Caller caller();
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
    void configure(const SessionSettings& s) { settings_ = s; }
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
    bool open();
    // open(), once: a thread arriving while another opens waits for it
    // (the Python part of opening releases the GIL).
    bool openOnce();
    // Forgets the ids of a session (functions, threads, callers).
    void resetTables();
    bool opening_ = false;

    std::unique_ptr<Writer> writer_;
    bool enabled_ = true;
    bool outputChosen_ = false;
    bool broken_ = false;       // opening failed: stay off until close()/configure
    uint64_t droppedUnopened_ = 0;  // calls made while broken_ (no writer to count them)
    bool warnedError_ = false;
    uint64_t epoch_ = 1;        // bumps with every new session (fork, close)
    SessionSettings settings_;
    std::string writerDir_, runDir_;
    int64_t clockOrigin_ = 0;
    CallClock clock_;

    std::unordered_map<std::string, uint32_t> functionIds_;
    struct InnerFunction {
        FunctionInfo info;      // as last submitted
        size_t resolved = 0;    // sites with a name in `info`
    };
    std::unordered_map<uint32_t, InnerFunction> innerFunctions_;
    std::vector<uint64_t> counters_;
    std::vector<std::string> dirNames_;
    std::vector<std::string> fullNames_;        // FunctionInfo::fullName(), the sample= draw's function
    std::vector<std::unique_ptr<FunctionPolicy>> policies_;
    std::vector<bool> policyResolved_;
    // The session's counts for meta["policy"]; read by the writer thread, so
    // it outlives the Writer (reset when the next session opens).
    std::unique_ptr<PolicyLedger> ledger_ = std::make_unique<PolicyLedger>();
    uint64_t policySeed_ = 0, maxDbBytes_ = 0;
    __attribute__((noinline)) void stopAtDatabaseLimit(uint32_t fid, uint64_t invocation);
    uint32_t nextThread_ = 0;
    uint32_t moduleIndex(PyObject* globals);
    Caller resolveCaller(const CallerFrame& frame);
    // The ids of the caller in `frame` (found: false when no Python frame runs).
    Caller callerAt(const CallerFrame& frame, bool found);
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
