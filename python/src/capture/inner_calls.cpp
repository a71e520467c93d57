// callmonitor._core.InnerProfile / InnerCalls: the native fast path of
// callmonitor.wrap_calls() and callmonitor.flat_profile().
//
// A function rewritten by callmonitor.inner.rewrite routes each call inside it
// through its InnerProfile object (one per rewritten function):
//
//     buf = profile.begin()                  # prologue: a fresh InnerCalls
//     try:
//         ... profile(buf, SITE, callee, *args, **kwargs) ...   # each inner call
//         ... await profile.awaited(buf, SITE, callee, ...) ... # each awaited call (Python)
//     finally:
//         profile.end(buf)
//
// `profile(...)` is a vectorcall: it forwards the call to `callee` with the
// caller's argument array (no tuple, no dict), reads the clock twice and
// appends one entry to `buf`. The buffer is a local of the rewritten frame,
// so the timing state is per invocation: threads, recursion, generators and
// coroutines each have their own. Every entry point runs with the GIL held.
//
// Memory is bounded: the first `entry_limit` inner calls of an invocation are
// kept one by one; later ones are only summed per call site (count, total).
#include <Python.h>
#include <structmember.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <vector>

#include "callmonitor/errors.h"
#include "callmonitor/inner_calls.h"
#include "capture/call_capture.h"
#include "capture/call_clock.h"
#include "capture/inner_calls.h"
#include "capture/interceptor.h"

namespace callmonitor::py {

// The inner calls of the attached invocation that ended last in this thread
// (see capture/inner_calls.h for the protocol).
// Encoded only when taken: an Interceptor that does not record the call
// (flat_profile without a database) drops it unencoded.
namespace {
struct EndedInnerCalls {
    PyObject* buf = nullptr;    // strong: the ended InnerCalls, null when none
    PyObject* names = nullptr;  // strong: the profile's per-site names list
};
thread_local EndedInnerCalls t_ended;
}  // namespace

void clearEndedInnerCalls() {
    Py_CLEAR(t_ended.buf);
    Py_CLEAR(t_ended.names);
}

namespace {

CallClock& innerClock() {
    static CallClock* clock = [] {
        auto* c = new CallClock();
        c->start(CallClock::monotonicNs());
        return c;
    }();
    return *clock;
}

// One inner call. Times are nanoseconds on the inner clock.
struct InnerEntry {
    uint32_t site;
    uint32_t raised;   // 1: the call raised
    uint64_t startNs;
    uint64_t durationNs;
};

// Calls past the entry limit: summed per site.
struct SiteSum {
    uint64_t count = 0;
    uint64_t totalNs = 0;
};

struct InnerCallsObject {
    PyObject_HEAD
    std::vector<InnerEntry>* entries;
    std::vector<SiteSum>* overflow;   // null until the entry limit is reached
    uint64_t startNs;
    uint64_t endNs;
    uint64_t overflowCalls;
    uint32_t entryLimit;
    uint32_t siteCount;
    int closed;
};

struct InnerProfileObject {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject* names;      // list: per site, the callee's resolved name (None until its first call)
    PyObject* finish;     // callable(buf) run by end(), or None
    PyObject* awaited;    // the Python recorder of `await callee(...)` (set by callmonitor.inner), or None
    PyObject* weakrefs;
    uint32_t siteCount;
    uint32_t entryLimit;
    int keepLast;         // end() keeps the buffer as this thread's last invocation
    int attach;           // end() hands the bytes to the Interceptor around it (@intercept(inner=True))
    // inner_args=True: per site, what the capture step keeps about its callee
    // (fn.func is set to the callee for each call) and the callee's identity
    // (strong: a bound method's function), null otherwise.
    struct SiteCapture {
        CapturedFunction fn;
        PyObject* identity = nullptr;
    };
    std::vector<SiteCapture>* captures;
};

PyTypeObject InnerCallsType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject InnerProfileType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// ---- InnerCalls ------------------------------------------------------------

void innerCallsDealloc(InnerCallsObject* self) {
    delete self->entries;
    delete self->overflow;
    Py_TYPE(self)->tp_free(reinterpret_cast<PyObject*>(self));
}

inline void addEntry(InnerCallsObject* buf, uint32_t site, uint64_t start, uint64_t end, bool raised) {
    uint64_t duration = end > start ? end - start : 0;
    if (__builtin_expect(buf->entries->size() < buf->entryLimit, 1)) {
        buf->entries->push_back(InnerEntry{site, raised ? 1u : 0u, start, duration});
        return;
    }
    if (!buf->overflow) buf->overflow = new std::vector<SiteSum>(buf->siteCount);
    if (site < buf->overflow->size()) {
        (*buf->overflow)[site].count += 1;
        (*buf->overflow)[site].totalNs += duration;
    }
    buf->overflowCalls += 1;
}

// Entries are appended when a call ends (a call made inside another inner call
// ends first); readers put them in start order, off the hot path.
void sortByStart(InnerCallsObject* self) {
    std::stable_sort(self->entries->begin(), self->entries->end(),
                     [](const InnerEntry& a, const InnerEntry& b) { return a.startNs < b.startNs; });
}

// records() -> [(site, start offset ns, duration ns, raised)] in call order.
PyObject* innerCallsRecords(InnerCallsObject* self, PyObject*) {
    sortByStart(self);
    PyObject* out = PyList_New(static_cast<Py_ssize_t>(self->entries->size()));
    if (!out) return nullptr;
    Py_ssize_t i = 0;
    for (const InnerEntry& e : *self->entries) {
        uint64_t offset = e.startNs > self->startNs ? e.startNs - self->startNs : 0;
        PyObject* t = Py_BuildValue("(IKKO)", e.site, static_cast<unsigned long long>(offset),
                                    static_cast<unsigned long long>(e.durationNs), e.raised ? Py_True : Py_False);
        if (!t) {
            Py_DECREF(out);
            return nullptr;
        }
        PyList_SET_ITEM(out, i++, t);
    }
    return out;
}

// overflow() -> {site: (count, total ns)} for the calls past the entry limit.
PyObject* innerCallsOverflow(InnerCallsObject* self, PyObject*) {
    PyObject* out = PyDict_New();
    if (!out || !self->overflow) return out;
    for (uint32_t site = 0; site < self->overflow->size(); ++site) {
        const SiteSum& s = (*self->overflow)[site];
        if (!s.count) continue;
        PyObject* k = PyLong_FromUnsignedLong(site);
        PyObject* v = Py_BuildValue("(KK)", static_cast<unsigned long long>(s.count),
                                    static_cast<unsigned long long>(s.totalNs));
        int rc = (k && v) ? PyDict_SetItem(out, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(out);
            return nullptr;
        }
    }
    return out;
}

PyObject* innerCallsTotal(InnerCallsObject* self, void*) {
    uint64_t end = self->closed ? self->endNs : innerClock().nowNs();
    return PyLong_FromUnsignedLongLong(end > self->startNs ? end - self->startNs : 0);
}

PyObject* innerCallsStart(InnerCallsObject* self, void*) { return PyLong_FromUnsignedLongLong(self->startNs); }
PyObject* innerCallsClosed(InnerCallsObject* self, void*) { return PyBool_FromLong(self->closed); }
PyObject* innerCallsOverflowCalls(InnerCallsObject* self, void*) {
    return PyLong_FromUnsignedLongLong(self->overflowCalls);
}

Py_ssize_t innerCallsLen(InnerCallsObject* self) {
    return static_cast<Py_ssize_t>(self->entries->size() + self->overflowCalls);
}

// The invocation's inner calls as bytes (include/callmonitor/inner_calls.h).
InnerCalls toCore(InnerCallsObject* self) {
    sortByStart(self);
    InnerCalls out;
    out.entries.reserve(self->entries->size());
    for (const InnerEntry& e : *self->entries)
        out.entries.push_back({e.site, e.raised != 0, e.startNs > self->startNs ? e.startNs - self->startNs : 0,
                               e.durationNs});
    if (self->overflow)
        for (uint32_t site = 0; site < self->overflow->size(); ++site)
            if ((*self->overflow)[site].count)
                out.summed.push_back({site, (*self->overflow)[site].count, (*self->overflow)[site].totalNs});
    return out;
}

PyObject* innerCallsEncode(InnerCallsObject* self, PyObject*) {
    try {
        std::string bytes;
        appendInnerCalls(bytes, toCore(self));
        return PyBytes_FromStringAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size()));
    } catch (const std::bad_alloc&) {
        return PyErr_NoMemory();
    }
}

PyMethodDef innerCallsMethods[] = {
    {"encode", reinterpret_cast<PyCFunction>(innerCallsEncode), METH_NOARGS,
     "The inner calls as bytes (the layout of include/callmonitor/inner_calls.h)."},
    {"records", reinterpret_cast<PyCFunction>(innerCallsRecords), METH_NOARGS,
     "[(site, start offset ns, duration ns, raised)] of the inner calls kept one by one, in call order."},
    {"overflow", reinterpret_cast<PyCFunction>(innerCallsOverflow), METH_NOARGS,
     "{site: (count, total ns)} of the inner calls past the entry limit."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef innerCallsGetset[] = {
    {"total_ns", reinterpret_cast<getter>(innerCallsTotal), nullptr,
     "duration of the invocation (so far, while it runs)", nullptr},
    {"start_ns", reinterpret_cast<getter>(innerCallsStart), nullptr, "start on the inner-call clock", nullptr},
    {"closed", reinterpret_cast<getter>(innerCallsClosed), nullptr, "the invocation has ended", nullptr},
    {"overflow_calls", reinterpret_cast<getter>(innerCallsOverflowCalls), nullptr,
     "inner calls past the entry limit (summed per site, not kept one by one)", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PySequenceMethods innerCallsSequence = {};

// ---- InnerProfile ----------------------------------------------------------

// The name a callee is shown under: __qualname__, __name__, the same of
// __wrapped__ / __func__, else its type's name. Never raises.
PyObject* calleeName(PyObject* callee) {
    static const char* attrs[] = {"__qualname__", "__name__"};
    Py_INCREF(callee);
    for (int depth = 0; depth < 4; ++depth) {
        for (const char* a : attrs) {
            PyObject* v = PyObject_GetAttrString(callee, a);
            if (v && PyUnicode_Check(v)) {
                Py_DECREF(callee);
                return v;
            }
            Py_XDECREF(v);
            PyErr_Clear();
        }
        PyObject* inner = PyObject_GetAttrString(callee, "__wrapped__");
        if (!inner) {
            PyErr_Clear();
            break;
        }
        Py_SETREF(callee, inner);
    }
    PyObject* v = PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(callee)), "__qualname__");
    if (!v || !PyUnicode_Check(v)) {
        Py_XDECREF(v);
        PyErr_Clear();
        v = PyUnicode_FromString(Py_TYPE(callee)->tp_name);
    }
    Py_DECREF(callee);
    return v;
}

// The site's name is resolved once, at its first call (names are cached per
// call site, not per callable: a bound method is a new object on every call).
inline void resolveName(InnerProfileObject* self, uint32_t site, PyObject* callee) {
    if (site >= self->siteCount || PyList_GET_ITEM(self->names, site) != Py_None) return;
    PyObject* name = calleeName(callee);
    if (!name) {
        PyErr_Clear();
        return;
    }
    PyObject* old = PyList_GET_ITEM(self->names, site);
    PyList_SET_ITEM(self->names, site, name);
    Py_DECREF(old);
}

// inner_args=True: the call as a call record of its own, child of the
// inner=True call running now (none: a plain call). An intercepted callee
// records itself; the others through the site's CapturedFunction, whose
// function id follows the callee (a site calling another callable than
// before registers that one).
__attribute__((noinline)) PyObject* recordWithArgs(InnerProfileObject* self, uint32_t site, PyObject* callee,
                                                   PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    const OuterCall outer = currentOuterCall();
    if (!outer.valid) return PyObject_Vectorcall(callee, args, nargsf, kwnames);
    InnerProfileObject::SiteCapture& c = (*self->captures)[site];
    if (PyObject_TypeCheck(callee, interceptorType())) {
        c.fn.func = callee;  // it records itself: only its Parent comes from here
        c.fn.epoch = ~uint64_t(0);
    } else {
        PyObject* identity = PyMethod_Check(callee) ? PyMethod_GET_FUNCTION(callee) : callee;
        if (identity != c.identity) {
            Py_INCREF(identity);
            Py_XSETREF(c.identity, identity);
            c.fn.epoch = 0;  // registers this callee at its next recorded call
        }
        c.fn.func = callee;  // borrowed, for this call only
    }
    PyObject* result = recordInnerCall(c.fn, outer, args, nargsf, kwnames, c.fn.epoch == ~uint64_t(0));
    c.fn.func = nullptr;
    return result;
}

// profile(buf, site, callee, *args, **kwargs): calls callee(*args, **kwargs), times it into buf.
PyObject* innerProfileCall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* self = reinterpret_cast<InnerProfileObject*>(callable);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (__builtin_expect(nargs < 3, 0)) {
        PyErr_SetString(PyExc_TypeError, "InnerProfile(buffer, site, callee, *args, **kwargs) needs 3 arguments");
        return nullptr;
    }
    PyObject* callee = args[2];
    // args[2] is ours: the callee may borrow it (PY_VECTORCALL_ARGUMENTS_OFFSET).
    size_t forwarded = static_cast<size_t>(nargs - 3) | PY_VECTORCALL_ARGUMENTS_OFFSET;
    if (__builtin_expect(Py_TYPE(args[0]) != &InnerCallsType, 0))
        return PyObject_Vectorcall(callee, args + 3, forwarded, kwnames);
    auto* buf = reinterpret_cast<InnerCallsObject*>(args[0]);
    if (buf->closed) return PyObject_Vectorcall(callee, args + 3, forwarded, kwnames);
    long site = PyLong_AsLong(args[1]);
    if (site < 0 || static_cast<unsigned long>(site) >= self->siteCount) {
        PyErr_Clear();
        return PyObject_Vectorcall(callee, args + 3, forwarded, kwnames);
    }
    resolveName(self, static_cast<uint32_t>(site), callee);
    CallClock& clock = innerClock();
    uint64_t start = clock.nowNs();
    PyObject* result = __builtin_expect(self->captures != nullptr, 0)
                           ? recordWithArgs(self, static_cast<uint32_t>(site), callee, args + 3, forwarded, kwnames)
                           : PyObject_Vectorcall(callee, args + 3, forwarded, kwnames);
    uint64_t end = clock.nowNs();
    addEntry(buf, static_cast<uint32_t>(site), start, end, result == nullptr);
    return result;
}

PyObject* innerProfileNew(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"sites", "finish", "entry_limit", "keep_last", "attach", "inner_args", nullptr};
    Py_ssize_t sites;
    PyObject* finish = Py_None;
    Py_ssize_t entryLimit = 100000;
    int keepLast = 0, attach = 0, innerArgs = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n|Onppp", const_cast<char**>(kwlist), &sites, &finish, &entryLimit,
                                     &keepLast, &attach, &innerArgs))
        return nullptr;
    if (sites < 0 || sites > 0xFFFFFFF) {
        PyErr_SetString(PyExc_ValueError, "InnerProfile: sites must be between 0 and 2**28");
        return nullptr;
    }
    if (entryLimit < 0 || entryLimit > 0xFFFFFFFF) {
        PyErr_SetString(PyExc_ValueError, "InnerProfile: entry_limit must be between 0 and 2**32 - 1");
        return nullptr;
    }
    if (finish != Py_None && !PyCallable_Check(finish)) {
        PyErr_SetString(PyExc_TypeError, "InnerProfile: finish must be callable or None");
        return nullptr;
    }
    innerClock();  // calibrates once (about 2 ms), at decoration time rather than in a call
    auto* self = reinterpret_cast<InnerProfileObject*>(type->tp_alloc(type, 0));
    if (!self) return nullptr;
    self->vectorcall = innerProfileCall;
    self->siteCount = static_cast<uint32_t>(sites);
    self->entryLimit = static_cast<uint32_t>(entryLimit);
    self->keepLast = keepLast;
    self->attach = attach;
    self->captures = nullptr;
    if (innerArgs) {
        self->captures = new (std::nothrow) std::vector<InnerProfileObject::SiteCapture>(static_cast<size_t>(sites));
        if (!self->captures) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
    }
    self->names = PyList_New(sites);
    if (!self->names) {
        Py_DECREF(self);
        return nullptr;
    }
    for (Py_ssize_t i = 0; i < sites; ++i) {
        Py_INCREF(Py_None);
        PyList_SET_ITEM(self->names, i, Py_None);
    }
    Py_INCREF(finish);
    self->finish = finish;
    Py_INCREF(Py_None);
    self->awaited = Py_None;
    return reinterpret_cast<PyObject*>(self);
}

int innerProfileTraverse(InnerProfileObject* self, visitproc visit, void* arg) {
    Py_VISIT(self->names);
    Py_VISIT(self->finish);
    Py_VISIT(self->awaited);
    if (self->captures)
        for (auto& c : *self->captures) Py_VISIT(c.identity);
    return 0;
}

int innerProfileClear(InnerProfileObject* self) {
    Py_CLEAR(self->names);
    Py_CLEAR(self->finish);
    Py_CLEAR(self->awaited);
    if (self->captures)
        for (auto& c : *self->captures) Py_CLEAR(c.identity);
    return 0;
}

void innerProfileDealloc(InnerProfileObject* self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs) PyObject_ClearWeakRefs(reinterpret_cast<PyObject*>(self));
    innerProfileClear(self);
    delete self->captures;
    Py_TYPE(self)->tp_free(reinterpret_cast<PyObject*>(self));
}

// begin() -> a fresh InnerCalls whose clock starts now.
PyObject* innerProfileBegin(InnerProfileObject* self, PyObject*) {
    auto* buf = PyObject_New(InnerCallsObject, &InnerCallsType);
    if (!buf) return nullptr;
    buf->entries = new (std::nothrow) std::vector<InnerEntry>();
    if (!buf->entries) {
        buf->overflow = nullptr;
        Py_DECREF(buf);
        return PyErr_NoMemory();
    }
    buf->entries->reserve(16);
    buf->overflow = nullptr;
    buf->overflowCalls = 0;
    buf->entryLimit = self->entryLimit;
    buf->siteCount = self->siteCount;
    buf->closed = 0;
    buf->endNs = 0;
    buf->startNs = innerClock().nowNs();
    return reinterpret_cast<PyObject*>(buf);
}

// end(buf): closes the invocation and runs finish(buf) when set. A pending
// exception of the invocation (end runs in its `finally`) is kept as it is;
// an error raised by finish() propagates, as a failing decorator's would.
PyObject* innerProfileEnd(InnerProfileObject* self, PyObject* arg) {
    if (Py_TYPE(arg) != &InnerCallsType) {
        PyErr_SetString(PyExc_TypeError, "InnerProfile.end() needs the InnerCalls that begin() returned");
        return nullptr;
    }
    auto* buf = reinterpret_cast<InnerCallsObject*>(arg);
    if (buf->closed) Py_RETURN_NONE;
    buf->endNs = innerClock().nowNs();
    buf->closed = 1;
    if (self->attach) {
        Py_INCREF(arg);
        Py_XSETREF(t_ended.buf, arg);
        Py_INCREF(self->names);
        Py_XSETREF(t_ended.names, self->names);
    }
    if (self->keepLast) {
        // The thread state's dict: per thread, keyed by this profile.
        PyObject* perThread = PyThreadState_GetDict();
        if (perThread && PyDict_SetItem(perThread, reinterpret_cast<PyObject*>(self), arg) < 0) return nullptr;
    }
    if (self->finish == Py_None) Py_RETURN_NONE;
    return PyObject_CallOneArg(self->finish, arg);
}

// last() -> this thread's last ended InnerCalls (keep_last=True), or None.
PyObject* innerProfileLast(InnerProfileObject* self, PyObject*) {
    PyObject* perThread = PyThreadState_GetDict();
    PyObject* buf = perThread ? PyDict_GetItemWithError(perThread, reinterpret_cast<PyObject*>(self)) : nullptr;
    if (!buf) {
        if (PyErr_Occurred()) return nullptr;
        Py_RETURN_NONE;
    }
    Py_INCREF(buf);
    return buf;
}

// now_ns() -> the inner-call clock (for calls timed in Python: awaited calls).
PyObject* innerProfileNow(InnerProfileObject*, PyObject*) {
    return PyLong_FromUnsignedLongLong(innerClock().nowNs());
}

// add(buf, site, callee, start_ns, raised): one inner call timed elsewhere (an awaited call).
PyObject* innerProfileAdd(InnerProfileObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 5 || Py_TYPE(args[0]) != &InnerCallsType) {
        PyErr_SetString(PyExc_TypeError, "InnerProfile.add(buffer, site, callee, start_ns, raised)");
        return nullptr;
    }
    auto* buf = reinterpret_cast<InnerCallsObject*>(args[0]);
    long site = PyLong_AsLong(args[1]);
    unsigned long long start = PyLong_AsUnsignedLongLong(args[3]);
    if (PyErr_Occurred()) return nullptr;
    if (buf->closed || site < 0 || static_cast<unsigned long>(site) >= self->siteCount) Py_RETURN_NONE;
    resolveName(self, static_cast<uint32_t>(site), args[2]);
    addEntry(buf, static_cast<uint32_t>(site), start, innerClock().nowNs(), PyObject_IsTrue(args[4]) == 1);
    Py_RETURN_NONE;
}

PyObject* innerProfileGetNames(InnerProfileObject* self, void*) {
    return PyList_GetSlice(self->names, 0, PyList_GET_SIZE(self->names));
}

PyObject* innerProfileGetFinish(InnerProfileObject* self, void*) {
    Py_INCREF(self->finish);
    return self->finish;
}

int innerProfileSetFinish(InnerProfileObject* self, PyObject* value, void*) {
    if (!value || (value != Py_None && !PyCallable_Check(value))) {
        PyErr_SetString(PyExc_TypeError, "finish must be callable or None");
        return -1;
    }
    Py_INCREF(value);
    Py_SETREF(self->finish, value);
    return 0;
}

PyObject* innerProfileGetAwaited(InnerProfileObject* self, void*) {
    Py_INCREF(self->awaited);
    return self->awaited;
}

int innerProfileSetAwaited(InnerProfileObject* self, PyObject* value, void*) {
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "awaited cannot be deleted");
        return -1;
    }
    Py_INCREF(value);
    Py_SETREF(self->awaited, value);
    return 0;
}

PyObject* innerProfileRepr(InnerProfileObject* self) {
    return PyUnicode_FromFormat("<callmonitor InnerProfile of %u call sites>", self->siteCount);
}

PyMethodDef innerProfileMethods[] = {
    {"begin", reinterpret_cast<PyCFunction>(innerProfileBegin), METH_NOARGS, "Starts an invocation: a fresh InnerCalls."},
    {"end", reinterpret_cast<PyCFunction>(innerProfileEnd), METH_O, "Ends an invocation; runs finish(buffer)."},
    {"last", reinterpret_cast<PyCFunction>(innerProfileLast), METH_NOARGS,
     "This thread's last ended InnerCalls (keep_last=True), or None."},
    {"now_ns", reinterpret_cast<PyCFunction>(innerProfileNow), METH_NOARGS, "The inner-call clock, ns."},
    {"add", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(innerProfileAdd)), METH_FASTCALL,
     "add(buffer, site, callee, start_ns, raised): records a call timed in Python."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef innerProfileGetset[] = {
    {"names", reinterpret_cast<getter>(innerProfileGetNames), nullptr,
     "per call site, the callee's name resolved at its first call (None: not called yet)", nullptr},
    {"finish", reinterpret_cast<getter>(innerProfileGetFinish), reinterpret_cast<setter>(innerProfileSetFinish),
     "callable(buffer) run when an invocation ends, or None", nullptr},
    {"awaited", reinterpret_cast<getter>(innerProfileGetAwaited), reinterpret_cast<setter>(innerProfileSetAwaited),
     "awaited(buffer, site, callee, *args, **kwargs): the recorder of `await callee(...)`", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

// Raises callmonitor's CorruptError (registered by module.cpp) or ValueError.
PyObject* raiseCorrupt(const char* what) {
    PyObject* mod = PyImport_ImportModule("callmonitor._core");
    PyObject* type = mod ? PyObject_GetAttrString(mod, "CorruptError") : nullptr;
    Py_XDECREF(mod);
    PyErr_Clear();
    PyErr_SetString(type ? type : PyExc_ValueError, what);
    Py_XDECREF(type);
    return nullptr;
}

bool parseBytes(PyObject* obj, InnerCalls& out) {
    char* data;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(obj, &data, &size) < 0) return false;
    try {
        out = parseInnerCalls(std::string_view(data, static_cast<size_t>(size)));
        return true;
    } catch (const CorruptError& e) {
        raiseCorrupt(e.what());
        return false;
    }
}

// decode_inner_calls(bytes) -> ([(site, start ns, duration ns, raised)], {site: (count, total ns)})
PyObject* decodeInnerCalls(PyObject*, PyObject* arg) {
    InnerCalls calls;
    if (!parseBytes(arg, calls)) return nullptr;
    PyObject* entries = PyList_New(static_cast<Py_ssize_t>(calls.entries.size()));
    PyObject* summed = PyDict_New();
    if (!entries || !summed) goto fail;
    for (size_t i = 0; i < calls.entries.size(); ++i) {
        const InnerCallEntry& e = calls.entries[i];
        PyObject* t = Py_BuildValue("(IKKO)", e.site, static_cast<unsigned long long>(e.startNs),
                                    static_cast<unsigned long long>(e.durationNs), e.raised ? Py_True : Py_False);
        if (!t) goto fail;
        PyList_SET_ITEM(entries, static_cast<Py_ssize_t>(i), t);
    }
    for (const InnerCallSum& sum : calls.summed) {
        PyObject* k = PyLong_FromUnsignedLong(sum.site);
        PyObject* v = Py_BuildValue("(KK)", static_cast<unsigned long long>(sum.count),
                                    static_cast<unsigned long long>(sum.totalNs));
        int rc = (k && v) ? PyDict_SetItem(summed, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) goto fail;
    }
    return Py_BuildValue("(NN)", entries, summed);
fail:
    Py_XDECREF(entries);
    Py_XDECREF(summed);
    return nullptr;
}

// site_profile(iterable of bytes) -> [dict(site, count, raised, total_ns, mean_ns, p50_ns, p95_ns, max_ns,
//                                         summed, invocations)], by site index
PyObject* siteProfile(PyObject*, PyObject* arg) {
    PyObject* it = PyObject_GetIter(arg);
    if (!it) return nullptr;
    SiteProfileBuilder builder;
    PyObject* item;
    try {
        while ((item = PyIter_Next(it))) {
            InnerCalls calls;
            bool ok = parseBytes(item, calls);
            Py_DECREF(item);
            if (!ok) break;
            builder.add(calls);
        }
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return nullptr;
    std::vector<SiteStats> rows = builder.finish();
    PyObject* out = PyList_New(static_cast<Py_ssize_t>(rows.size()));
    if (!out) return nullptr;
    for (size_t i = 0; i < rows.size(); ++i) {
        const SiteStats& r = rows[i];
        PyObject* d = Py_BuildValue(
            "{sI sK sK sK sd sK sK sK sK sK}", "site", r.site, "count", static_cast<unsigned long long>(r.count),
            "raised", static_cast<unsigned long long>(r.raised), "total_ns", static_cast<unsigned long long>(r.totalNs),
            "mean_ns", r.meanNs, "p50_ns", static_cast<unsigned long long>(r.p50Ns), "p95_ns",
            static_cast<unsigned long long>(r.p95Ns), "max_ns", static_cast<unsigned long long>(r.maxNs), "summed",
            static_cast<unsigned long long>(r.summed), "invocations", static_cast<unsigned long long>(r.invocations));
        if (!d) {
            Py_DECREF(out);
            return nullptr;
        }
        PyList_SET_ITEM(out, static_cast<Py_ssize_t>(i), d);
    }
    return out;
}

PyMethodDef innerFunctions[] = {
    {"decode_inner_calls", decodeInnerCalls, METH_O,
     "decode_inner_calls(bytes) -> ([(site, start ns, duration ns, raised)], {site: (count, total ns)})."},
    {"inner_site_profile", siteProfile, METH_O,
     "inner_site_profile(iterable of InnerCalls.encode() bytes) -> per call site: count, raised, total, mean, "
     "p50, p95 (nearest rank), max (ns), summed, invocations."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

bool takeEndedInnerCalls(std::string& bytes, PyObject*& names) {
    if (!t_ended.buf) return false;
    PyObject* buf = t_ended.buf;
    t_ended.buf = nullptr;
    names = t_ended.names;  // ownership moves to the caller
    t_ended.names = nullptr;
    bool ok = true;
    try {
        bytes.clear();
        appendInnerCalls(bytes, toCore(reinterpret_cast<InnerCallsObject*>(buf)));
    } catch (const std::bad_alloc&) {
        ok = false;  // the call is recorded without its inner calls
    }
    Py_DECREF(buf);
    if (!ok) Py_CLEAR(names);
    return ok;
}

int addInnerCallTypes(PyObject* module) {
    if (PyModule_AddFunctions(module, innerFunctions) < 0) return -1;
    InnerCallsType.tp_name = "callmonitor._core.InnerCalls";
    InnerCallsType.tp_basicsize = sizeof(InnerCallsObject);
    InnerCallsType.tp_flags = Py_TPFLAGS_DEFAULT;
    InnerCallsType.tp_doc = "The inner calls of one invocation of a rewritten function (made by InnerProfile.begin).";
    InnerCallsType.tp_dealloc = reinterpret_cast<destructor>(innerCallsDealloc);
    InnerCallsType.tp_methods = innerCallsMethods;
    InnerCallsType.tp_getset = innerCallsGetset;
    innerCallsSequence.sq_length = reinterpret_cast<lenfunc>(innerCallsLen);
    InnerCallsType.tp_as_sequence = &innerCallsSequence;

    InnerProfileType.tp_name = "callmonitor._core.InnerProfile";
    InnerProfileType.tp_basicsize = sizeof(InnerProfileObject);
    InnerProfileType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
    InnerProfileType.tp_doc =
        "InnerProfile(sites, finish=None, entry_limit=100000, keep_last=False): times the inner calls of one rewritten function.\n"
        "Called as profile(buffer, site, callee, *args, **kwargs).";
    InnerProfileType.tp_new = innerProfileNew;
    InnerProfileType.tp_dealloc = reinterpret_cast<destructor>(innerProfileDealloc);
    InnerProfileType.tp_traverse = reinterpret_cast<traverseproc>(innerProfileTraverse);
    InnerProfileType.tp_clear = reinterpret_cast<inquiry>(innerProfileClear);
    InnerProfileType.tp_call = PyVectorcall_Call;
    InnerProfileType.tp_vectorcall_offset = offsetof(InnerProfileObject, vectorcall);
    InnerProfileType.tp_weaklistoffset = offsetof(InnerProfileObject, weakrefs);
    InnerProfileType.tp_repr = reinterpret_cast<reprfunc>(innerProfileRepr);
    InnerProfileType.tp_methods = innerProfileMethods;
    InnerProfileType.tp_getset = innerProfileGetset;

    if (PyType_Ready(&InnerCallsType) < 0 || PyType_Ready(&InnerProfileType) < 0) return -1;
    Py_INCREF(&InnerCallsType);
    if (PyModule_AddObject(module, "InnerCalls", reinterpret_cast<PyObject*>(&InnerCallsType)) < 0) {
        Py_DECREF(&InnerCallsType);
        return -1;
    }
    Py_INCREF(&InnerProfileType);
    if (PyModule_AddObject(module, "InnerProfile", reinterpret_cast<PyObject*>(&InnerProfileType)) < 0) {
        Py_DECREF(&InnerProfileType);
        return -1;
    }
    return 0;
}

}  // namespace callmonitor::py
