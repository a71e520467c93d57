#include "capture/recorder.h"

#include <malloc.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <thread>

#include "callmonitor/call_record.h"
#include "callmonitor/errors.h"
#include "hooks.h"

namespace callmonitor::py {
namespace {

// Reads d[key] as the requested type; missing or wrong-typed keys keep `out`.
void readStr(PyObject* d, const char* key, std::string& out) {
    PyObject* v = PyDict_GetItemString(d, key);
    if (v && PyUnicode_Check(v)) {
        Py_ssize_t n;
        const char* c = PyUnicode_AsUTF8AndSize(v, &n);
        if (c) out.assign(c, static_cast<size_t>(n));
        else PyErr_Clear();
    }
}
template <class T> void readInt(PyObject* d, const char* key, T& out) {
    PyObject* v = PyDict_GetItemString(d, key);
    if (v && PyLong_Check(v)) {
        long long x = PyLong_AsLongLong(v);
        if (x == -1 && PyErr_Occurred()) PyErr_Clear();
        else out = static_cast<T>(x);
    } else if (v && PyBool_Check(v)) {
        out = static_cast<T>(v == Py_True);
    }
}
// UTF-8 of a str (surrogates replaced); other objects leave `out` as is.
void readUtf8(PyObject* v, std::string& out) {
    if (!v || !PyUnicode_Check(v)) return;
    Py_ssize_t n;
    if (const char* c = PyUnicode_AsUTF8AndSize(v, &n)) {
        out.assign(c, static_cast<size_t>(n));
        return;
    }
    PyErr_Clear();
    if (PyObject* b = PyUnicode_AsEncodedString(v, "utf-8", "replace")) {
        out.assign(PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b)));
        Py_DECREF(b);
    }
    PyErr_Clear();
}
void readBytes(PyObject* v, std::string& out) {
    if (v && PyBytes_Check(v)) out.assign(PyBytes_AS_STRING(v), static_cast<size_t>(PyBytes_GET_SIZE(v)));
}

void warn(const std::string& message) {
    PyObject* r = Hooks::get().warn ? PyObject_CallFunction(Hooks::get().warn, "s", message.c_str()) : nullptr;
    if (!r) {
        PyErr_Clear();
        std::fprintf(stderr, "callmonitor: warning: %s\n", message.c_str());
        std::fflush(stderr);
    }
    Py_XDECREF(r);
}

// The writer a termination signal flushes (null: none open in this process).
std::atomic<Writer*> signalWriter{nullptr};

// SIGTERM/SIGHUP with no handler of the program's own (mpirun tearing down a
// job, Pool.terminate(), a batch system's time limit) would end the process
// before the writer commits its last batch. This handler commits it first
// (bounded wait), then lets the signal's default action end the process as
// it would have: same signal, same exit status.
void flushThenDie(int sig) {
    const int savedErrno = errno;
    if (Writer* w = signalWriter.load()) w->flushFromSignal(std::chrono::seconds(3));
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    raise(sig);  // blocked while this handler runs: delivered (fatally) on return
    errno = savedErrno;
}

// Payload copies (8 MB arrays, say) are allocated on the caller's thread and
// freed by the writer thread after the commit. With glibc's defaults the
// freed top of the heap is soon trimmed back to the kernel, and the next copy
// page-faults (and the kernel zeroes) every page again: a 2-3x slower
// capture. So the first session fixes the mmap threshold at glibc's dynamic
// maximum (32 MiB) and keeps up to the writer's buffer bound (at least
// 64 MiB) of freed heap before trimming: the memory such a program holds
// while recording anyway. Process-wide, once; not on other C libraries.
void keepPayloadMemory(uint64_t bufferBytes) {
#if defined(__GLIBC__)
    static bool done = false;
    if (done) return;
    done = true;
    const uint64_t keep = std::max<uint64_t>(bufferBytes, uint64_t(64) << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<uint64_t>(keep, uint64_t(1) << 30)));
#else
    (void)bufferBytes;
#endif
}

void installTerminationFlush() {
    for (int sig : {SIGTERM, SIGHUP}) {
        struct sigaction current {};
        if (sigaction(sig, nullptr, &current) != 0 || current.sa_handler != SIG_DFL ||
            (current.sa_flags & SA_SIGINFO)) {
            continue;  // the program (or Python) handles it: leave it alone
        }
        struct sigaction mine {};
        mine.sa_handler = flushThenDie;
        sigemptyset(&mine.sa_mask);
        mine.sa_flags = SA_RESTART;
        sigaction(sig, &mine, nullptr);
    }
}

}  // namespace

Recorder& Recorder::instance() {
    static auto* r = new Recorder();  // lives until exit; atexit closes its writer
    return *r;
}

bool Recorder::open() {
    PyObject* s = PyObject_CallNoArgs(Hooks::get().openSession);
    if (!s || !PyDict_Check(s)) {
        std::string why = "cannot prepare the output directory";
        if (PyErr_Occurred()) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            if (v) {
                PyObject* str = PyObject_Str(v);
                if (str && PyUnicode_AsUTF8(str)) why = PyUnicode_AsUTF8(str);
                Py_XDECREF(str);
            }
            PyErr_Clear();
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
        }
        Py_XDECREF(s);
        warn(why + "; calls are not recorded in this process");
        broken_ = true;
        return false;
    }
    WriterInfo info;
    WriterOptions opts;
    readStr(s, "directory", opts.directory);
    readStr(s, "run_directory", runDir_);
    readStr(s, "host", info.host);
    readInt(s, "pid", info.pid);
    readInt(s, "rank", info.rank);
    readStr(s, "writer_id", info.writerId);
    readStr(s, "run_id", info.runId);
    readStr(s, "python_version", info.pythonVersion);
    readStr(s, "package_version", info.packageVersion);
    readStr(s, "cwd", info.cwd);
    readInt(s, "map_size", opts.initialMapSize);
    readInt(s, "buffer_bytes", opts.maxBufferBytes);
    int64_t intervalMs = 100;
    readInt(s, "flush_interval_ms", intervalMs);
    opts.flushInterval = std::chrono::milliseconds(intervalMs);
    std::string durability = "batch";
    readStr(s, "durability", durability);
    settings_.sync = durability == "sync";
    opts.syncEachCommit = settings_.sync;
    readInt(s, "capture_result", settings_.captureResult);
    readInt(s, "strict", settings_.strict);
    label_.clear();
    readStr(s, "label", label_);
    ++labelGen_;
    if (PyObject* argv = PyDict_GetItemString(s, "argv"); argv && PyList_Check(argv)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(argv); ++i) {
            const char* a = PyUnicode_Check(PyList_GET_ITEM(argv, i)) ? PyUnicode_AsUTF8(PyList_GET_ITEM(argv, i)) : nullptr;
            if (a) info.argv.emplace_back(a);
            else PyErr_Clear();
        }
    }
    int64_t wall = 0;
    readInt(s, "started_unix_ns", wall);
    policySeed_ = 0;
    maxDbBytes_ = 0;
    readInt(s, "policy_seed", policySeed_);
    readInt(s, "max_db_bytes", maxDbBytes_);
    ledger_->reset(policySeed_, maxDbBytes_);
    opts.policyRecord = [ledger = ledger_.get()](std::string* out) { return ledger->snapshot(out); };
    // Removes the directories claimed for this session when its environment
    // cannot be opened (a full disk): no empty writer is left behind.
    PyObject* discard = PyDict_GetItemString(s, "discard");
    Py_XINCREF(discard);
    Py_DECREF(s);
    clockOrigin_ = CallClock::monotonicNs();
    clock_.start(clockOrigin_);
    info.startedUnixNs = wall;
    info.clockOriginNs = clockOrigin_;
    writerDir_ = opts.directory;
    keepPayloadMemory(opts.maxBufferBytes);
    try {
        writer_ = std::make_unique<Writer>(std::move(opts), info);
    } catch (const std::exception& e) {
        if (discard) {
            if (PyObject* r = PyObject_CallNoArgs(discard)) Py_DECREF(r);
            PyErr_Clear();
        }
        Py_XDECREF(discard);
        warn(std::string(e.what()) + "; calls are not recorded in this process");
        broken_ = true;
        return false;
    }
    Py_XDECREF(discard);
    signalWriter.store(writer_.get());
    installTerminationFlush();
    return true;
}

bool Recorder::openOnce() {
    while (opening_) {
        Py_BEGIN_ALLOW_THREADS
        std::this_thread::yield();
        Py_END_ALLOW_THREADS
    }
    if (writer_) return !writer_->failed();
    if (broken_) return false;
    opening_ = true;
    bool ok = open();
    opening_ = false;
    return ok;
}

bool Recorder::functionId(PyObject* func, uint32_t& fid) {
    PyObject* d = PyObject_CallOneArg(Hooks::get().describeFunction, func);
    if (!d || !PyDict_Check(d)) {
        Py_XDECREF(d);
        captureError("describing the function failed");
        return false;
    }
    std::string key;
    readStr(d, "key", key);
    auto it = functionIds_.find(key);
    if (it != functionIds_.end()) {
        fid = it->second;
        Py_DECREF(d);
        return true;
    }
    FunctionInfo fn;
    fn.id = static_cast<uint32_t>(counters_.size());
    readStr(d, "module", fn.module);
    readStr(d, "qualname", fn.qualname);
    readStr(d, "name", fn.name);
    readStr(d, "file", fn.file);
    readInt(d, "line", fn.line);
    readInt(d, "signature_known", fn.signatureKnown);
    readStr(d, "return_annotation", fn.returnAnnotation);
    readStr(d, "kind", fn.kind);
    std::string dirName = fn.qualname;
    readStr(d, "dir_name", dirName);
    // Two definitions of one name (a redefined function, two lambdas) keep
    // their 0.3-style handler files apart: the later one's folder is NAME@LINE.
    auto taken = [&](const std::string& n) { return std::find(dirNames_.begin(), dirNames_.end(), n) != dirNames_.end(); };
    if (taken(dirName)) {
        const std::string base = dirName + "@" + std::to_string(fn.line);
        dirName = base;
        for (uint32_t k = 2; taken(dirName); ++k) dirName = base + "-" + std::to_string(k);
    }
    if (PyObject* params = PyDict_GetItemString(d, "parameters"); params && PyList_Check(params)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(params); ++i) {
            PyObject* p = PyList_GET_ITEM(params, i);
            if (!PyDict_Check(p)) continue;
            Parameter prm;
            readStr(p, "name", prm.name);
            readInt(p, "kind", prm.kind);
            readInt(p, "has_default", prm.hasDefault);
            readBytes(PyDict_GetItemString(p, "default"), prm.defaultValue);
            readStr(p, "default_repr", prm.defaultRepr);
            readStr(p, "annotation", prm.annotation);
            fn.parameters.push_back(std::move(prm));
        }
    }
    if (PyObject* sites = PyDict_GetItemString(d, "inner_sites"); sites && PyList_Check(sites)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(sites); ++i) {
            PyObject* s = PyList_GET_ITEM(sites, i);
            if (!PyDict_Check(s)) continue;
            InnerSiteInfo site;
            readStr(s, "callee", site.callee);
            readInt(s, "line", site.line);
            readInt(s, "column", site.column);
            readInt(s, "awaited", site.awaited);
            fn.innerSites.push_back(std::move(site));
        }
    }
    Py_DECREF(d);
    fid = fn.id;
    functionIds_.emplace(std::move(key), fid);
    if (!fn.innerSites.empty()) innerFunctions_.emplace(fid, InnerFunction{fn, 0});
    counters_.push_back(0);
    dirNames_.push_back(dirName);
    fullNames_.push_back(fn.fullName());
    writer_->submitFunction(fn);
    return true;
}

void Recorder::noteInnerNames(uint32_t fid, PyObject* names) {
    auto it = innerFunctions_.find(fid);
    if (it == innerFunctions_.end() || !PyList_Check(names)) return;
    InnerFunction& f = it->second;
    const size_t n = std::min(f.info.innerSites.size(), static_cast<size_t>(PyList_GET_SIZE(names)));
    size_t resolved = 0;
    for (size_t i = 0; i < n; ++i) resolved += PyList_GET_ITEM(names, i) != Py_None;
    if (resolved <= f.resolved) return;  // the common case: nothing new since the last record
    for (size_t i = 0; i < n; ++i) {
        PyObject* name = PyList_GET_ITEM(names, i);
        if (name != Py_None && PyUnicode_Check(name) && PyUnicode_AsUTF8(name))
            f.info.innerSites[i].name = PyUnicode_AsUTF8(name);
    }
    PyErr_Clear();
    f.resolved = resolved;
    writer_->submitFunction(f.info);  // replaces the function's record: same id, names filled in
}

uint32_t Recorder::threadIndex() {
    __attribute__((tls_model("initial-exec"))) thread_local uint64_t epoch = 0;
    __attribute__((tls_model("initial-exec"))) thread_local uint32_t index = 0;
    if (epoch == epoch_) return index;
    ThreadInfo t;
    t.index = nextThread_++;
    t.ident = PyThread_get_thread_ident();
    t.nativeId = PyThread_get_thread_native_id();
    if (PyObject* name = PyObject_CallNoArgs(Hooks::get().threadName)) {
        if (PyUnicode_Check(name) && PyUnicode_AsUTF8(name)) t.name = PyUnicode_AsUTF8(name);
        Py_DECREF(name);
    }
    PyErr_Clear();
    writer_->submitThread(t);
    epoch = epoch_;
    index = t.index;
    return index;
}

Recorder::Caller Recorder::caller() {
    CallerFrame frame;
    const bool found = currentCallerFrame(frame);
    return callerAt(frame, found);
}

Recorder::Caller Recorder::callerAbove(int depth) {
    CallerFrame frame;
    const bool found = callerFrameAbove(frame, depth);
    return callerAt(frame, found);
}

inline Recorder::Caller Recorder::callerAt(const CallerFrame& frame, bool found) {
    if (__builtin_expect(!found, 0)) {  // called from C with no Python frame
        if (!noFrameKnown_ || noFrame_.labelGen != labelGen_) {
            noFrame_ = makeCaller(kNoSite, moduleIndex(Py_None));
            noFrameKnown_ = true;
        }
        return noFrame_;
    }
    SiteKey key{frame.code, frame.location, frame.globals};
    SiteCacheEntry& slot = siteCache_[SiteKeyHash()(key) % kSiteCacheSize];
    if (__builtin_expect(slot.key == key && slot.ids.labelGen == labelGen_, 1)) return slot.ids;
    Caller ids = resolveCaller(frame);
    slot.key = key;  // the map holds the references that keep the key's objects alive
    slot.ids = ids;
    return ids;
}

Recorder::Caller Recorder::resolveCaller(const CallerFrame& frame) {
    SiteKey key{frame.code, frame.location, frame.globals};
    auto it = sites_.find(key);
    if (it != sites_.end()) {
        if (it->second.labelGen != labelGen_) it->second = makeCaller(it->second.site, it->second.module);
        return it->second;
    }
    Caller ids = makeCaller(nextSite_++, moduleIndex(frame.globals));
    SiteInfo site;
    site.id = ids.site;
    auto* code = reinterpret_cast<PyCodeObject*>(frame.code);
    readUtf8(code->co_filename, site.file);
#if PY_VERSION_HEX >= 0x030B0000
    readUtf8(code->co_qualname, site.function);
#else
    readUtf8(code->co_name, site.function);
#endif
    int line = callerLine(frame);
    site.line = line > 0 ? static_cast<uint32_t>(line) : 0;
    PyErr_Clear();
    Py_INCREF(frame.code);  // a freed code object's address must not alias a new one
    sites_.emplace(key, ids);
    writer_->submitSite(ids.site, site);
    return ids;
}

Recorder::Caller Recorder::makeCaller(uint32_t site, uint32_t module) {
    Caller ids;
    ids.site = site;
    ids.module = module;
    ids.labelGen = labelGen_;
    ExtFields ext;
    if (site != kNoSite) ext.addVarint(format::ExtTag::Site, site);
    if (uint32_t label = currentLabelId(); label != kNoLabel) ext.addVarint(format::ExtTag::Label, label);
    std::string tail;
    appendExt(tail, ext);
    appendPending(tail);
    static_assert(sizeof(ids.tail) >= 1 + 2 * (1 + 1 + 5) + 1, "room for Site, Label and Pending");
    ids.tailSize = static_cast<uint8_t>(tail.size());
    std::memcpy(ids.tail, tail.data(), tail.size());
    return ids;
}

void Recorder::setLabel(std::optional<std::string> label) {
    if (label == callLabel_) return;  // the plugin restoring the same label: caches stay valid
    callLabel_ = std::move(label);
    ++labelGen_;
}

uint32_t Recorder::currentLabelId() {
    if (labelIdGen_ == labelGen_) return labelId_;  // each caller re-encoding its tail asks again
    const std::string* text = callLabel_ ? &*callLabel_ : label_.empty() ? nullptr : &label_;
    labelId_ = kNoLabel;
    if (text && !text->empty()) {
        auto it = labelIds_.find(*text);
        if (it == labelIds_.end()) {
            it = labelIds_.emplace(*text, static_cast<uint32_t>(labelIds_.size())).first;
            writer_->submitLabel(it->second, *text);
        }
        labelId_ = it->second;
    }
    labelIdGen_ = labelGen_;
    return labelId_;
}

uint32_t Recorder::moduleIndex(PyObject* g) {
    if (!g) g = Py_None;
    auto it = callers_.find(g);
    if (it != callers_.end()) return it->second;
    std::string name = "<unknown>";
    PyObject* n = PyDict_Check(g) ? PyDict_GetItemString(g, "__name__") : nullptr;
    if (n && PyUnicode_Check(n) && PyUnicode_AsUTF8(n)) name = PyUnicode_AsUTF8(n);
    PyErr_Clear();
    uint32_t idx = static_cast<uint32_t>(callers_.size());
    Py_INCREF(g);
    callers_.emplace(g, idx);
    writer_->submitCaller(idx, name);
    return idx;
}

void Recorder::captureError(const char* what) {
    PyErr_Clear();
    if (writer_) writer_->countCaptureError();
    if (!warnedError_) {
        warnedError_ = true;
        warn(std::string("capture error (logged once, the program continues): ") + what);
    }
}

bool Recorder::flush() {
    if (!writer_) return !broken_;  // a session that could not open has lost its calls
    bool ok;
    Py_BEGIN_ALLOW_THREADS
    ok = writer_->flush();
    Py_END_ALLOW_THREADS
    return ok;
}

bool Recorder::commitBeforeExit(std::chrono::milliseconds timeout) {
    if (!writer_) return true;
    bool ok;
    Py_BEGIN_ALLOW_THREADS
    ok = writer_->flushFromSignal(timeout);
    Py_END_ALLOW_THREADS
    return ok;
}

void Recorder::resetTables() {
    functionIds_.clear();
    innerFunctions_.clear();
    counters_.clear();
    dirNames_.clear();
    fullNames_.clear();
    policies_.clear();
    policyResolved_.clear();
    nextThread_ = 0;
    for (auto& [g, idx] : callers_) Py_DECREF(g);
    callers_.clear();
    for (auto& [k, ids] : sites_) Py_DECREF(k.code);
    sites_.clear();
    nextSite_ = 0;
    labelIds_.clear();
    ++labelGen_;
    for (SiteCacheEntry& e : siteCache_) e = SiteCacheEntry{};
    noFrameKnown_ = false;
}

void Recorder::close() {
    std::unique_ptr<Writer> w = std::move(writer_);
    ++epoch_;
    broken_ = false;
    droppedUnopened_ = 0;
    resetTables();
    if (w) {
        Py_BEGIN_ALLOW_THREADS
        w->close();  // a termination signal meanwhile waits for this to finish committing
        signalWriter.store(nullptr);
        w.reset();
        Py_END_ALLOW_THREADS
    }
}

void Recorder::afterForkChild() {
    signalWriter.store(nullptr);  // the parent's writer thread does not exist here
    if (writer_) {
        writer_->abandon();
        (void)writer_.release();  // the parent's environment must not be touched: leak it
    }
    (void)ledger_.release();  // its lock may be held by the parent's (absent) writer thread: leak it
    ledger_ = std::make_unique<PolicyLedger>();
    ++epoch_;
    broken_ = false;
    droppedUnopened_ = 0;
    resetTables();
}

void Recorder::resolvePolicy(uint32_t fid, PyObject* wrapper) {
    if (policyResolved_.size() <= fid) policyResolved_.resize(fid + 1, false);
    if (policies_.size() <= fid) policies_.resize(fid + 1);
    policyResolved_[fid] = true;
    policies_[fid] = resolveFunctionPolicy(wrapper, fid, fid < fullNames_.size() ? fullNames_[fid] : "", policySeed_,
                                           *ledger_);
    if (!policies_[fid]) captureError("resolving the capture policy failed; every call of the function is recorded");
}

void Recorder::stopAtDatabaseLimit(uint32_t fid, uint64_t invocation) {
    ledger_->stopped(fid, invocation);
    warn("the database in " + writerDir_ + " reached max_db_bytes=" + std::to_string(maxDbBytes_) +
         " bytes; recording stopped (the program runs on; calls are counted, not recorded)");
}

PyObject* Recorder::statsDict() {
    CaptureStats s = writer_ ? writer_->stats() : CaptureStats{};
    s.droppedCalls += droppedUnopened_;
    return Py_BuildValue("{s:K,s:K,s:K,s:K}", "opaque", (unsigned long long)s.opaque, "pickled",
                         (unsigned long long)s.pickled, "capture_errors", (unsigned long long)s.captureErrors,
                         "dropped_calls", (unsigned long long)s.droppedCalls);
}

}  // namespace callmonitor::py
