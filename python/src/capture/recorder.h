// The capture session of this process: the Writer it records into (opened at
// the first recorded call), the ids it gave functions, threads and caller
// modules, and the settings read on the hot path. Everything here runs with
// the GIL held, which is what serialises invocation numbers.
#pragma once

#include <Python.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/call_clock.h"
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
    // Counts a call that runs unrecorded because this session's writer failed.
    void countUnrecorded() {
        if (writer_ && writer_->failed()) writer_->countDropped();
    }
    uint64_t epoch() const { return epoch_; }
    const SessionSettings& settings() const { return settings_; }
    Writer& writer() { return *writer_; }
    const std::string& writerDir() const { return writerDir_; }

    // Function id for `func` in the current session (registers it once).
    // Returns false with an error cleared (the call then runs unrecorded).
    bool functionId(PyObject* func, uint32_t& fid);
    uint64_t nextInvocation(uint32_t fid) { return ++counters_[fid]; }
    const std::string& functionDirName(uint32_t fid) const { return dirNames_[fid]; }
    uint32_t threadIndex();
    uint32_t callerIndex();
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
    bool broken_ = false;       // opening failed: stay off until close()/configure
    bool warnedError_ = false;
    uint64_t epoch_ = 1;        // bumps with every new session (fork, close)
    SessionSettings settings_;
    std::string writerDir_, runDir_;
    int64_t clockOrigin_ = 0;
    CallClock clock_;

    std::unordered_map<std::string, uint32_t> functionIds_;
    std::vector<uint64_t> counters_;
    std::vector<std::string> dirNames_;
    uint32_t nextThread_ = 0;
    std::unordered_map<PyObject*, uint32_t> callers_;   // globals dict (strong ref) -> index
    PyObject* lastGlobals_ = nullptr;
    uint32_t lastCaller_ = 0;
};

}  // namespace callmonitor::py
