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
#include <string_view>
#include <thread>

#include "callmonitor/call_record.h"
#include "callmonitor/errors.h"
#include "callmonitor/module_names.h"
#include "hooks.h"

namespace callmonitor::py {
namespace {

// The fields of a dict that the Python side builds for the recorder (the
// writer settings of capture/session.py, the function record of
// capture/describe.py). Every key must be read or skipped by name and every
// value must have the type asked for: a misspelt or mistyped field on either
// side is an error naming it (std::runtime_error), not a field silently left
// at its default. An absent key or None keeps the default.
class PyFields {
public:
    PyFields(PyObject* d, const char* what) : d_(d), what_(what) {}
    // d[key] (borrowed; null: absent or None), marked as read.
    PyObject* take(const char* key) {
        read_.emplace_back(key);
        PyObject* v = PyDict_GetItemString(d_, key);
        return v == Py_None ? nullptr : v;
    }
    void skip(const char* key) { read_.emplace_back(key); }
    void str(const char* key, std::string& out) {
        PyObject* v = take(key);
        if (!v) return;
        Py_ssize_t n;
        const char* c = PyUnicode_Check(v) ? PyUnicode_AsUTF8AndSize(v, &n) : nullptr;
        if (!c) wrongType(key, "a str (UTF-8)");
        out.assign(c, static_cast<size_t>(n));
    }
    template <class T> void integer(const char* key, T& out) {
        PyObject* v = take(key);
        if (!v) return;
        if (!PyLong_Check(v)) wrongType(key, "an int");  // bool is an int
        long long x = PyLong_AsLongLong(v);
        if (x == -1 && PyErr_Occurred()) wrongType(key, "an int that fits 64 bits");
        out = static_cast<T>(x);
    }
    void bytes(const char* key, std::string& out) {
        PyObject* v = take(key);
        if (!v) return;
        if (!PyBytes_Check(v)) wrongType(key, "bytes");
        out.assign(PyBytes_AS_STRING(v), static_cast<size_t>(PyBytes_GET_SIZE(v)));
    }
    // visit(PyFields&) for each dict of the list d[key]; each is checked whole.
    template <class F> void dicts(const char* key, const char* what, F&& visit) {
        PyObject* list = take(key);
        if (!list) return;
        if (!PyList_Check(list)) wrongType(key, "a list of dicts");
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); ++i) {
            PyObject* item = PyList_GET_ITEM(list, i);
            if (!PyDict_Check(item)) wrongType(key, "a list of dicts");
            PyFields f(item, what);
            visit(f);
            f.done();
        }
    }
    // Throws when d holds a key nothing read or skipped.
    void done() const {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(d_, &pos, &key, &value)) {
            const char* k = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : nullptr;
            if (!k) {
                PyErr_Clear();
                throw std::runtime_error(std::string(what_) + " has a key that is not a str");
            }
            if (std::find(read_.begin(), read_.end(), k) == read_.end())
                throw std::runtime_error(std::string(what_) + " has an unknown field '" + k + "'");
        }
    }

private:
    [[noreturn]] void wrongType(const char* key, const char* expected) const {
        PyErr_Clear();
        throw std::runtime_error(std::string(what_) + " field '" + key + "' is not " + expected);
    }
    PyObject* d_;
    const char* what_;
    std::vector<std::string_view> read_;  // the keys asked for: string literals, never copied
};

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
void warn(const std::string& message) {
    PyObject* r = Hooks::get().warn ? PyObject_CallFunction(Hooks::get().warn, "s", message.c_str()) : nullptr;
    if (!r) {
        PyErr_Clear();
        std::fprintf(stderr, "callmonitor: warning: %s\n", message.c_str());
        std::fflush(stderr);
    }
    Py_XDECREF(r);
}

// The writers a termination signal flushes (null: a free entry). A session
// with more writers than this flushes the first ones on a signal.
constexpr size_t kSignalWriters = 256;
std::atomic<Writer*> signalWriters[kSignalWriters];

void addSignalWriter(Writer* w) {
    for (auto& e : signalWriters) {
        Writer* none = nullptr;
        if (e.compare_exchange_strong(none, w)) return;
    }
}
void removeSignalWriter(Writer* w) {
    for (auto& e : signalWriters) {
        Writer* mine = w;
        if (e.compare_exchange_strong(mine, nullptr)) return;
    }
}
void clearSignalWriters() {
    for (auto& e : signalWriters) e.store(nullptr);
}

// SIGTERM/SIGHUP with no handler of the program's own (mpirun tearing down a
// job, Pool.terminate(), a batch system's time limit) would end the process
// before the writer commits its last batch. This handler commits it first
// (bounded wait), then lets the signal's default action end the process as
// it would have: same signal, same exit status.
void flushThenDie(int sig) {
    const int savedErrno = errno;
    // Ask every writer first (each commits on its own thread), then wait: 3 s in all.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (auto& e : signalWriters) {
        Writer* w = e.load();
        if (!w) continue;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        w->flushFromSignal(std::max(left, std::chrono::milliseconds(1)));
    }
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

std::unique_ptr<WriterSlot> Recorder::open(const std::string& key) {
    auto slot = std::make_unique<WriterSlot>();
    slot->key = key;
    const bool first = writers_.empty();
    PyObject* s = PyObject_CallFunction(Hooks::get().openSession, "zO", key.empty() ? nullptr : key.c_str(),
                                        first ? Py_True : Py_False);
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
        warn(why + (key.empty() ? "; calls are not recorded in this process"
                                : "; calls of the threads that declared " + key + " are not recorded"));
        return slot;
    }
    WriterInfo info;
    WriterOptions opts;
    int64_t wall = 0;
    // Removes the directories claimed for this session when its environment
    // cannot be opened (a full disk): no empty writer is left behind.
    PyObject* discard = PyDict_GetItemString(s, "discard");
    Py_XINCREF(discard);
    try {
        PyFields f(s, "the writer settings of capture/session.py");
        f.skip("discard");
        f.str("directory", opts.directory);
        if (first) f.str("run_directory", runDir_);
        else f.skip("run_directory");
        f.str("host", info.host);
        f.integer("pid", info.pid);
        f.integer("rank", info.rank);
        f.str("writer_id", info.writerId);
        f.str("run_id", info.runId);
        f.str("python_version", info.pythonVersion);
        f.str("package_version", info.packageVersion);
        f.str("cwd", info.cwd);
        f.integer("map_size", opts.initialMapSize);
        f.integer("buffer_bytes", opts.maxBufferBytes);
        int64_t intervalMs = 100;
        f.integer("flush_interval_ms", intervalMs);
        opts.flushInterval = std::chrono::milliseconds(intervalMs);
        std::string durability = "batch";
        f.str("durability", durability);
        SessionSettings& settings = slot->settings;
        settings.sync = durability == "sync";
        opts.syncEachCommit = settings.sync;
        f.integer("capture_result", settings.captureResult);
        f.integer("strict", settings.strict);
        if (first) {  // the label is the run's: every writer's callers share one encoded tail
            label_.clear();
            f.str("label", label_);
            ++labelGen_;
        } else {
            f.skip("label");
        }
        if (PyObject* argv = f.take("argv")) {
            if (!PyList_Check(argv)) throw std::runtime_error("the writer settings field 'argv' is not a list");
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(argv); ++i) {
                std::string a;
                readUtf8(PyList_GET_ITEM(argv, i), a);  // an argument that is not valid UTF-8: replaced
                info.argv.push_back(std::move(a));
            }
        }
        f.integer("started_unix_ns", wall);
        if (first) {  // the session's policy: one seed, one ledger for its writers
            policySeed_ = 0;
            maxDbBytes_ = 0;
            f.integer("policy_seed", policySeed_);
            f.integer("max_db_bytes", maxDbBytes_);
            ledger_->reset(policySeed_, maxDbBytes_);
        } else {
            f.skip("policy_seed");
            f.skip("max_db_bytes");
        }
        f.done();
    } catch (const std::exception& e) {
        Py_DECREF(s);
        if (discard) {
            if (PyObject* r = PyObject_CallNoArgs(discard)) Py_DECREF(r);
            PyErr_Clear();
            Py_DECREF(discard);
        }
        warn(std::string("callmonitor's own settings are inconsistent (") + e.what() +
             (key.empty() ? "); calls are not recorded in this process"
                          : "); calls of the threads that declared " + key + " are not recorded"));
        return slot;
    }
    slot->policy->reset(policySeed_, maxDbBytes_, ledger_.get());  // this writer's counts
    opts.policyRecord = [ledger = slot->policy.get()](std::string* out) { return ledger->snapshot(out); };
    Py_DECREF(s);
    if (first) {  // one clock for the session: its writers' start times compare
        clockOrigin_ = CallClock::monotonicNs();
        clock_.start(clockOrigin_);
    }
    info.startedUnixNs = wall;
    info.clockOriginNs = clockOrigin_;
    slot->directory = opts.directory;
    keepPayloadMemory(opts.maxBufferBytes);
    try {
        slot->writer = std::make_unique<Writer>(std::move(opts), info);
    } catch (const std::exception& e) {
        if (discard) {  // nothing claimed for this writer is left behind
            if (PyObject* r = PyObject_CallNoArgs(discard)) Py_DECREF(r);
            PyErr_Clear();
        }
        Py_XDECREF(discard);
        warn(std::string(e.what()) + (key.empty() ? "; calls are not recorded in this process"
                                                  : "; calls of the threads that declared " + key + " are not recorded"));
        return slot;
    }
    Py_XDECREF(discard);
    addSignalWriter(slot->writer.get());
    installTerminationFlush();
    return slot;
}

void Recorder::introduce(WriterSlot& slot) {
    Writer& w = *slot.writer;
    for (const auto& [text, id] : labelIds_) w.submitLabel(id, text);
    for (const auto& [index, name] : callerNames_) w.submitCaller(index, name);
    for (const SiteInfo& site : siteInfos_) w.submitSite(site.id, site);
}

WriterSlot* Recorder::slotFor(const std::string& key) {
    for (;;) {
        for (auto& slot : writers_)
            if (slot->key == key) return slot.get();
        if (!opening_) break;
        Py_BEGIN_ALLOW_THREADS
        std::this_thread::yield();
        Py_END_ALLOW_THREADS
    }
    const uint64_t epoch = epoch_;
    opening_ = true;
    std::unique_ptr<WriterSlot> slot = open(key);
    opening_ = false;
    if (epoch != epoch_) return nullptr;  // closed meanwhile: this thread routes again
    if (slot->writer) introduce(*slot);
    writers_.push_back(std::move(slot));
    return writers_.back().get();
}

bool Recorder::route(CaptureState& st) {
    st.route = 0;  // routed again until this succeeds
    st.sink = nullptr;
    st.lane = nullptr;
    const uint64_t epoch = epoch_;
    const std::string key = st.declared.empty() ? processWriter_ : st.declared;
    WriterSlot* slot = nullptr;
    for (auto& w : writers_)
        if (w->key == key) slot = w.get();
    if (!slot) {
        if (!enabled_) return false;
        slot = slotFor(key);  // runs Python, may release the GIL
        if (!slot) return false;
    }
    if (!slot->live()) {  // this call is lost: counted by the writer that failed, or here
        if (slot->writer) slot->writer->countDropped();
        else ++droppedUnopened_;
        return false;
    }
    const uint32_t thread = threadIndex();
    ThreadInfo info;
    const bool newThread = slot->threadsKnown.size() <= thread || !slot->threadsKnown[thread];
    if (newThread) {
        info.index = thread;
        info.ident = PyThread_get_thread_ident();
        info.nativeId = PyThread_get_thread_native_id();
        if (PyObject* name = PyObject_CallNoArgs(Hooks::get().threadName)) {  // Python: may switch threads
            if (PyUnicode_Check(name) && PyUnicode_AsUTF8(name)) info.name = PyUnicode_AsUTF8(name);
            Py_DECREF(name);
        }
        PyErr_Clear();
    }
    // From here on no Python runs: the slot cannot go away under us.
    if (epoch != epoch_ || !slot->live()) return false;  // closed meanwhile (another thread): unrecorded
    if (newThread) {
        if (slot->threadsKnown.size() <= thread) slot->threadsKnown.resize(thread + 1, false);
        slot->threadsKnown[thread] = true;
        slot->writer->submitThread(info);
    }
    if (st.laneEpoch != epoch_) {  // lanes of an earlier session: their writers are gone
        st.lanes.clear();
        st.laneEpoch = epoch_;
    }
    Writer::Lane* lane = nullptr;
    for (auto& [s, l] : st.lanes)
        if (s == slot) lane = l;
    if (!lane) {
        lane = slot->writer->openLane();
        st.lanes.emplace_back(slot, lane);
    }
    st.sink = slot;
    st.lane = lane;
    st.thread = thread;
    st.route = route_;
    return true;
}

void Recorder::registerIn(WriterSlot& slot, uint32_t fid) {
    if (slot.invocations.size() <= fid) slot.invocations.resize(fid + 1, WriterSlot::kUnknown);
    slot.invocations[fid] = 0;
    if (hasPolicy(fid)) {
        if (slot.policyCounts.size() <= fid) slot.policyCounts.resize(fid + 1, nullptr);
        slot.policyCounts[fid] = &slot.policy->counts(fid, "");
    }
    slot.writer->submitFunction(functions_[fid]);
}

void Recorder::releaseThread(CaptureState& st) {
    if (st.laneEpoch != epoch_) return;  // an earlier session's writers are gone
    for (auto& [slot, lane] : st.lanes)
        if (slot->writer) slot->writer->closeLane(lane);  // its calls are committed with the next batch
    st.lanes.clear();
    st.sink = nullptr;
    st.lane = nullptr;
    st.route = 0;
}

void Recorder::declareWriter(const std::string& writerId, bool process) {
    if (process) {
        if (processWriter_ != writerId) ++route_;  // every thread following the process routes again
        processWriter_ = writerId;
    }
    CaptureState& st = threadCaptureState();
    st.declared = process ? std::string() : writerId;
    st.route = 0;  // this thread routes again at its next call
}

std::string Recorder::declaredWriter() const {
    const CaptureState* st = t_captureState;
    return st && !st->declared.empty() ? st->declared : processWriter_;
}

std::string Recorder::currentWriterDir() const {
    const CaptureState* st = t_captureState;
    if (st && st->route == route_ && st->sink) return st->sink->directory;
    for (const auto& w : writers_)
        if (w->key == processWriter_) return w->directory;
    return writers_.empty() ? std::string() : writers_.front()->directory;
}

size_t Recorder::openLanes() const {
    size_t n = 0;
    for (const auto& w : writers_)
        if (w->writer) n += w->writer->openLanes();
    return n;
}

std::vector<std::string> Recorder::liveWriterDirs() const {
    std::vector<std::string> out;
    for (const auto& w : writers_)
        if (w->live()) out.push_back(w->directory);
    return out;
}

bool Recorder::functionId(PyObject* func, uint32_t& fid) {
    PyObject* d = PyObject_CallOneArg(Hooks::get().describeFunction, func);
    if (!d || !PyDict_Check(d)) {
        Py_XDECREF(d);
        captureError("describing the function failed");
        return false;
    }
    std::string key;
    FunctionInfo fn;
    std::string dirName;
    try {
        PyFields f(d, "the function record of capture/describe.py");
        f.str("key", key);
        if (auto it = functionIds_.find(key); it != functionIds_.end()) {
            fid = it->second;
            Py_DECREF(d);
            return true;
        }
        fn.id = static_cast<uint32_t>(functions_.size());
        f.str("module", fn.module);
        f.str("qualname", fn.qualname);
        f.str("name", fn.name);
        f.str("file", fn.file);
        f.integer("line", fn.line);
        f.integer("signature_known", fn.signatureKnown);
        f.str("return_annotation", fn.returnAnnotation);
        f.str("kind", fn.kind);
        dirName = fn.qualname;
        f.str("dir_name", dirName);
        f.dicts("parameters", "a parameter of capture/describe.py", [&](PyFields& pf) {
            Parameter prm;
            pf.str("name", prm.name);
            pf.integer("kind", prm.kind);
            pf.integer("has_default", prm.hasDefault);
            pf.bytes("default", prm.defaultValue);
            pf.str("default_repr", prm.defaultRepr);
            pf.str("annotation", prm.annotation);
            fn.parameters.push_back(std::move(prm));
        });
        f.dicts("inner_sites", "an inner call site of capture/describe.py", [&](PyFields& sf) {
            InnerSiteInfo site;
            sf.str("callee", site.callee);
            sf.integer("line", site.line);
            sf.integer("column", site.column);
            sf.integer("awaited", site.awaited);
            fn.innerSites.push_back(std::move(site));
        });
        f.done();
    } catch (const std::exception& e) {
        Py_DECREF(d);
        captureError((std::string("describing the function failed: ") + e.what()).c_str());
        return false;
    }
    Py_DECREF(d);
    // Two definitions of one name (a redefined function, two lambdas) keep
    // their 0.3-style handler files apart: the later one's folder is NAME@LINE.
    auto taken = [&](const std::string& n) { return std::find(dirNames_.begin(), dirNames_.end(), n) != dirNames_.end(); };
    if (taken(dirName)) {
        const std::string base = dirName + "@" + std::to_string(fn.line);
        dirName = base;
        for (uint32_t k = 2; taken(dirName); ++k) dirName = base + "-" + std::to_string(k);
    }
    fid = fn.id;
    functionIds_.emplace(std::move(key), fid);
    functions_.push_back(std::move(fn));  // submitted to each writer at its first call there (registerIn)
    dirNames_.push_back(dirName);
    fullNames_.push_back(functions_.back().fullName());
    if (!functions_.back().innerSites.empty()) innerResolved_.emplace(fid, 0);
    return true;
}

void Recorder::noteInnerNames(uint32_t fid, PyObject* names) {
    auto it = innerResolved_.find(fid);
    if (it == innerResolved_.end() || fid >= functions_.size() || !PyList_Check(names)) return;
    FunctionInfo& f = functions_[fid];
    const size_t n = std::min(f.innerSites.size(), static_cast<size_t>(PyList_GET_SIZE(names)));
    size_t resolved = 0;
    for (size_t i = 0; i < n; ++i) resolved += PyList_GET_ITEM(names, i) != Py_None;
    if (resolved <= it->second) return;  // the common case: nothing new since the last record
    for (size_t i = 0; i < n; ++i) {
        PyObject* name = PyList_GET_ITEM(names, i);
        if (name != Py_None && PyUnicode_Check(name) && PyUnicode_AsUTF8(name))
            f.innerSites[i].name = PyUnicode_AsUTF8(name);
    }
    PyErr_Clear();
    it->second = resolved;
    for (auto& w : writers_)  // replaces the function's record where it is known: same id, names filled in
        if (w->live() && w->knows(fid)) w->writer->submitFunction(f);
}

// Per OS thread (not per CaptureState: a C thread entering Python again
// keeps its index), per session.
uint32_t Recorder::threadIndex() {
    __attribute__((tls_model("initial-exec"))) thread_local uint64_t epoch = 0;
    __attribute__((tls_model("initial-exec"))) thread_local uint32_t index = 0;
    if (epoch == epoch_) return index;
    epoch = epoch_;
    index = nextThread_++;
    return index;
}

Recorder::Caller Recorder::callerAbove(int depth) {
    CallerFrame frame;
    const bool found = callerFrameAbove(frame, depth);
    return callerAt(frame, found);
}

Recorder::Caller Recorder::callerMissed(const CallerFrame& frame, bool found) {
    if (__builtin_expect(!found, 0)) {  // called from C with no Python frame
        if (!noFrameKnown_ || noFrame_.labelGen != labelGen_) {
            noFrame_ = makeCaller(kNoSite, moduleIndex(Py_None));
            noFrameKnown_ = true;
        }
        return noFrame_;
    }
    SiteKey key{frame.code, frame.location, frame.globals};
    SiteCacheEntry& slot = siteCache_[SiteKeyHash()(key) % kSiteCacheSize];
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
    for (auto& w : writers_)
        if (w->writer) w->writer->submitSite(ids.site, site);
    siteInfos_.push_back(std::move(site));
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
            for (auto& w : writers_)  // each writer is a database of its own: all get the label
                if (w->writer) w->writer->submitLabel(it->second, *text);
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
    if (n && PyUnicode_Check(n) && PyUnicode_AsUTF8(n)) name = recordedModuleName(PyUnicode_AsUTF8(n));
    PyErr_Clear();
    uint32_t idx = static_cast<uint32_t>(callers_.size());
    Py_INCREF(g);
    callers_.emplace(g, idx);
    for (auto& w : writers_)
        if (w->writer) w->writer->submitCaller(idx, name);
    callerNames_.emplace_back(idx, std::move(name));
    return idx;
}

void Recorder::captureError(const char* what) {
    PyErr_Clear();
    // Counted by the calling thread's writer, else the process's.
    const CaptureState* st = t_captureState;
    Writer* w = st && st->route == route_ && st->sink ? st->sink->writer.get() : nullptr;
    for (size_t i = 0; !w && i < writers_.size(); ++i) w = writers_[i]->writer.get();
    if (w) w->countCaptureError();
    if (!warnedError_) {
        warnedError_ = true;
        warn(std::string("capture error (logged once, the program continues): ") + what);
    }
}

bool Recorder::flush() {
    bool ok = droppedUnopened_ == 0;  // a writer that could not open has lost its calls
    std::vector<Writer*> writers;  // the GIL is released: another thread may open a writer meanwhile
    for (auto& w : writers_) {
        if (w->writer) writers.push_back(w->writer.get());
        else ok = false;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Writer* w : writers) ok = w->flush() && ok;
    Py_END_ALLOW_THREADS
    return ok;
}

bool Recorder::commitBeforeExit(std::chrono::milliseconds timeout) {
    bool ok = true;
    std::vector<Writer*> writers;
    for (auto& w : writers_)
        if (w->writer) writers.push_back(w->writer.get());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Py_BEGIN_ALLOW_THREADS
    for (Writer* w : writers) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        ok = w->flushFromSignal(std::max(left, std::chrono::milliseconds(1))) && ok;
    }
    Py_END_ALLOW_THREADS
    return ok;
}

void Recorder::resetTables() {
    functionIds_.clear();
    functions_.clear();
    innerResolved_.clear();
    dirNames_.clear();
    fullNames_.clear();
    clearPolicies();
    nextThread_ = 0;
    callerNames_.clear();
    siteInfos_.clear();
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
    std::vector<std::unique_ptr<WriterSlot>> closing = std::move(writers_);
    writers_.clear();
    ++epoch_;
    ++route_;
    droppedUnopened_ = 0;
    resetTables();
    if (!closing.empty()) {
        Py_BEGIN_ALLOW_THREADS
        for (auto& w : closing) {
            if (!w->writer) continue;
            w->writer->close();  // a termination signal meanwhile waits for this to finish committing
            removeSignalWriter(w->writer.get());
        }
        closing.clear();
        Py_END_ALLOW_THREADS
    }
}

void Recorder::afterForkChild() {
    clearSignalWriters();  // the parent's writer threads do not exist here
    for (auto& w : writers_) {
        if (w->writer) {
            w->writer->abandon();
            (void)w->writer.release();  // the parent's environment must not be touched: leak it
        }
        (void)w.release();  // its lanes are still named by this thread's state (never used again)
    }
    writers_.clear();
    (void)ledger_.release();  // its lock may be held by the parent's (absent) writer thread: leak it
    ledger_ = std::make_unique<PolicyLedger>();
    ++epoch_;
    ++route_;
    droppedUnopened_ = 0;
    // The parent's declarations were the parent's threads': a forked child
    // records as pid-N unless it declares a writer itself.
    processWriter_.clear();
    if (CaptureState* st = t_captureState) st->declared.clear();
    resetTables();
}

FunctionPolicy* Recorder::policyFor(uint32_t fid, PyObject* wrapper) {
    if (policies_.size() <= fid) policies_.resize(fid + 1);
    // The key: the wrapper's own options (policy.py's set_own), by identity.
    PyObject* own = nullptr;
    if (PyObject** dict = _PyObject_GetDictPtr(wrapper); dict && *dict) {
        own = PyDict_GetItemString(*dict, "__callmonitor_policy__");  // borrowed
    }
    for (const ResolvedPolicy& r : policies_[fid].byOptions)
        if (r.own == own) return r.policy.get();
    auto policy = resolveFunctionPolicy(wrapper, fid, fid < fullNames_.size() ? fullNames_[fid] : "", policySeed_,
                                        *ledger_);
    if (!policy) captureError("resolving the capture policy failed; every call of the function is recorded");
    FunctionPolicy* p = policy.get();
    if (fid >= policies_.size()) return nullptr;  // resolving ran Python, and a close() reset the tables
    Py_XINCREF(own);
    policies_[fid].byOptions.push_back(ResolvedPolicy{own, std::move(policy)});
    policies_[fid].counted |= p != nullptr;
    return p;
}

void Recorder::clearPolicies() {
    for (FunctionPolicies& f : policies_)
        for (ResolvedPolicy& r : f.byOptions) Py_XDECREF(r.own);
    policies_.clear();
}

void Recorder::stopAtDatabaseLimit(uint32_t fid, uint64_t invocation) {
    ledger_->stopped(fid, invocation);
    warn("the database in " + runDir_ + " reached max_db_bytes=" + std::to_string(maxDbBytes_) +
         " bytes; recording stopped (the program runs on; calls are counted, not recorded)");
}

PyObject* Recorder::statsDict() {
    CaptureStats s;  // summed over the session's writers
    for (auto& w : writers_) {
        if (!w->writer) continue;
        CaptureStats one = w->writer->stats();
        s.opaque += one.opaque;
        s.pickled += one.pickled;
        s.captureErrors += one.captureErrors;
        s.droppedCalls += one.droppedCalls;
    }
    s.droppedCalls += droppedUnopened_;
    return Py_BuildValue("{s:K,s:K,s:K,s:K}", "opaque", (unsigned long long)s.opaque, "pickled",
                         (unsigned long long)s.pickled, "capture_errors", (unsigned long long)s.captureErrors,
                         "dropped_calls", (unsigned long long)s.droppedCalls);
}

}  // namespace callmonitor::py
