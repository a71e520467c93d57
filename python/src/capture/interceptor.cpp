#include "capture/interceptor.h"

#include <cstddef>
#include <string>
#include <vector>

#include "callmonitor/call_record.h"
#include "callmonitor/value_writer.h"
#include "capture/py_encoder.h"
#include "capture/recorder.h"

namespace callmonitor::py {
namespace {

struct InterceptorObject {
    PyObject_HEAD
    PyObject* func;           // the wrapped callable
    PyObject* dict;           // __dict__
    PyObject* weakrefs;
    vectorcallfunc vectorcall;
    uint64_t epoch;           // session the cached id belongs to
    uint32_t fid;
    int captureResult;        // -1: session default; 0/1: this function's option
    int strict;               // -1: session default; 0/1: this function's option
};

// Counts what an encoding produced, and logs (once per process) a failing handler.
void account(Recorder& rec, const EncodeCounts& counts) {
    if (counts.opaque) rec.writer().countOpaque(counts.opaque);
    if (counts.pickled) rec.writer().countPickled(counts.pickled);
    if (counts.errors) rec.captureError(counts.firstError.c_str());
}

// Per-thread capture scratch. `busy` stops capture of calls made by capture
// itself (a handler or __reduce__ calling an intercepted function).
struct CaptureState {
    PyEncoder encoder;
    std::string record;
    std::string outcome;
    std::vector<Payload> blobs;
    bool busy = false;
    Writer::Lane* lane = nullptr;  // this thread's lane in the session's writer
    uint64_t laneEpoch = 0;
};
// initial-exec: a plain TLS slot, no __tls_get_addr call on the hot path.
__attribute__((tls_model("initial-exec"))) thread_local CaptureState* t_state = nullptr;

CaptureState& captureState() {
    CaptureState* s = t_state;
    if (__builtin_expect(s == nullptr, 0)) {
        s = new CaptureState();  // one per thread that records; kept for the thread's life
        t_state = s;
    }
    return *s;
}

struct BusyGuard {
    explicit BusyGuard(CaptureState& s) : s_(s) { s_.busy = true; }
    ~BusyGuard() { s_.busy = false; }
    CaptureState& s_;
};

// Blocks (GIL released) while the writer's buffer is over its bound.
void waitForRoom(Writer& writer) {
    if (writer.hasRoom()) return;
    Py_BEGIN_ALLOW_THREADS
    writer.waitForRoom();
    Py_END_ALLOW_THREADS
}

// Scratch buffers are reused call after call; one huge call must not pin its size.
void releaseIfHuge(std::string& buffer) {
    constexpr size_t kKeepBytes = size_t(4) << 20;
    if (buffer.capacity() > kKeepBytes) std::string().swap(buffer);
}

std::string exceptionTypeName(PyObject* type) {
    auto* t = reinterpret_cast<PyTypeObject*>(type);
    PyObject* mod = PyObject_GetAttrString(type, "__module__");
    std::string out;
    if (mod && PyUnicode_Check(mod) && PyUnicode_AsUTF8(mod) && std::string(PyUnicode_AsUTF8(mod)) != "builtins") {
        out = PyUnicode_AsUTF8(mod);
        out += ".";
    }
    Py_XDECREF(mod);
    PyObject* q = PyObject_GetAttrString(type, "__qualname__");
    out += (q && PyUnicode_Check(q) && PyUnicode_AsUTF8(q)) ? PyUnicode_AsUTF8(q) : t->tp_name;
    Py_XDECREF(q);
    PyErr_Clear();
    return out;
}

// Records the outcome of a finished call. `result` is the return value
// (borrowed) or null when the call raised (the exception is still set and
// must stay set, unchanged, when this returns).
void recordOutcome(Recorder& rec, CaptureState& st, InterceptorObject* self, const format::CallKey& key,
                   uint64_t start, PyObject* result) {
    uint64_t end = rec.nowNs();
    uint64_t duration = end > start ? end - start : 0;
    st.outcome.clear();
    if (result) {
        bool capture = self->captureResult < 0 ? rec.settings().captureResult : self->captureResult != 0;
        if (!capture) {
            appendNotRecorded(st.outcome, duration);
            appendEmptyExt(st.outcome);
        } else {
            appendReturned(st.outcome, duration);
            EncodeOptions opt;  // results stay inline; never strict: not worth failing the call for
            EncodeCounts counts;
            ValueWriter w(st.outcome);
            BusyGuard busy(st);
            st.encoder.encode(w, result, opt, counts);
            account(rec, counts);
            appendEmptyExt(st.outcome);
        }
    } else {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        std::string message;
        {
            BusyGuard busy(st);
            if (value) {
                PyObject* s = PyObject_Str(value);
                if (s && PyUnicode_AsUTF8(s)) message = PyUnicode_AsUTF8(s);
                Py_XDECREF(s);
                PyErr_Clear();
            }
        }
        std::string typeName = type ? exceptionTypeName(type) : "BaseException";
        appendRaised(st.outcome, duration, typeName, message);
        appendEmptyExt(st.outcome);
        PyErr_Restore(type, value, tb);
    }
    rec.writer().submitOutcome(st.lane, key, st.outcome);
}

PyObject* interceptorCall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* self = reinterpret_cast<InterceptorObject*>(callable);
    CaptureState& st = captureState();
    Recorder& rec = Recorder::instance();
    if (st.busy) return PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    uint32_t thread;
    {
        // Opening the session and describing the function run Python code,
        // which must not record itself.
        BusyGuard busy(st);
        if (!rec.ready()) {
            rec.countUnrecorded();
            st.busy = false;
            return PyObject_Vectorcall(self->func, args, nargsf, kwnames);
        }
        if (self->epoch != rec.epoch()) {
            uint32_t fid;
            if (!rec.functionId(self->func, fid)) {
                st.busy = false;
                return PyObject_Vectorcall(self->func, args, nargsf, kwnames);
            }
            self->fid = fid;
            self->epoch = rec.epoch();
        }
        thread = rec.threadIndex();
        if (st.laneEpoch != rec.epoch()) {
            st.lane = rec.writer().openLane();
            st.laneEpoch = rec.epoch();
        }
    }
    format::CallKey key{self->fid, rec.nextInvocation(self->fid)};
    uint32_t caller = rec.callerIndex();
    uint64_t start = rec.nowNs();

    // Inputs are encoded (copied) before the call runs: later mutation of an
    // argument cannot change what was recorded.
    size_t nargs = PyVectorcall_NARGS(nargsf);
    try {
    st.record.clear();
    st.blobs.clear();
    appendCallHeader(st.record, start, thread, caller);
    EncodeOptions opt;
    opt.strict = self->strict < 0 ? rec.settings().strict : self->strict != 0;
    opt.blobs = &st.blobs;
    opt.writerDir = &rec.writerDir();
    opt.functionDir = &rec.functionDirName(self->fid);
    opt.invocation = key.invocation;
    EncodeCounts counts;
    bool encoded;
    {
        BusyGuard busy(st);
        ValueWriter w(st.record);
        encoded = st.encoder.encodeInputs(w, args, nargs, kwnames, opt, counts);
    }
    if (!encoded) return nullptr;  // strict mode: the CaptureError is set
    account(rec, counts);
    appendEmptyExt(st.record);
    appendPending(st.record);
    Writer& writer = rec.writer();
    // The buffer bound is checked before the entry and after the outcome, not
    // between them: a call's two halves then meet in one batch and are stored
    // once, instead of a large entry being committed, read back and rewritten.
    waitForRoom(writer);
    writer.submitEntry(st.lane, key, st.record, std::move(st.blobs));
    st.blobs.clear();
    releaseIfHuge(st.record);
    if (rec.settings().sync) {
        Py_BEGIN_ALLOW_THREADS
        writer.flush();
        Py_END_ALLOW_THREADS
    }
    } catch (const std::exception& e) {
        st.busy = false;
        rec.captureError(e.what());
        return PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    }

    PyObject* result = PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    // The writer may have been replaced (close() inside the call): only a
    // writer of the same session takes the outcome.
    if (self->epoch == rec.epoch() && rec.ready()) {
        try {
            recordOutcome(rec, st, self, key, start, result);
            releaseIfHuge(st.outcome);
            waitForRoom(rec.writer());
        } catch (const std::exception& e) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            rec.captureError(e.what());
            PyErr_Restore(t, v, tb);
        }
    }
    return result;
}

PyObject* interceptorNew(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"func", "result", "strict", nullptr};
    PyObject* func;
    int result = -1, strict = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|ii", const_cast<char**>(kwlist), &func, &result, &strict))
        return nullptr;
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "intercept() needs a callable, got %.200s", Py_TYPE(func)->tp_name);
        return nullptr;
    }
    auto* self = reinterpret_cast<InterceptorObject*>(type->tp_alloc(type, 0));
    if (!self) return nullptr;
    Py_INCREF(func);
    self->func = func;
    self->dict = PyDict_New();
    self->vectorcall = interceptorCall;
    self->epoch = 0;
    self->fid = 0;
    self->captureResult = result;
    self->strict = strict;
    if (!self->dict) {
        Py_DECREF(self);
        return nullptr;
    }
    return reinterpret_cast<PyObject*>(self);
}

int interceptorTraverse(InterceptorObject* self, visitproc visit, void* arg) {
    Py_VISIT(self->func);
    Py_VISIT(self->dict);
    return 0;
}

int interceptorClear(InterceptorObject* self) {
    Py_CLEAR(self->func);
    Py_CLEAR(self->dict);
    return 0;
}

void interceptorDealloc(InterceptorObject* self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs) PyObject_ClearWeakRefs(reinterpret_cast<PyObject*>(self));
    interceptorClear(self);
    Py_TYPE(self)->tp_free(reinterpret_cast<PyObject*>(self));
}

PyObject* interceptorGet(PyObject* self, PyObject* obj, PyObject*) {
    if (obj == nullptr || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

PyObject* interceptorRepr(InterceptorObject* self) {
    return PyUnicode_FromFormat("<callmonitor.intercept of %R>", self->func);
}

// Pickled by reference, like a function: pickle looks the name up in __module__.
PyObject* interceptorReduce(InterceptorObject* self, PyObject*) {
    PyObject* q = PyDict_GetItemString(self->dict, "__qualname__");
    if (!q) {
        PyErr_SetString(PyExc_TypeError, "cannot pickle an intercepted callable without __qualname__");
        return nullptr;
    }
    Py_INCREF(q);
    return q;
}

PyObject* interceptorGetFunc(InterceptorObject* self, void*) {
    Py_INCREF(self->func);
    return self->func;
}

PyMethodDef interceptorMethods[] = {
    {"__reduce__", reinterpret_cast<PyCFunction>(interceptorReduce), METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef interceptorGetset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"__callmonitor_target__", reinterpret_cast<getter>(interceptorGetFunc), nullptr,
     "the callable whose calls are recorded", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject InterceptorType = {
    PyVarObject_HEAD_INIT(nullptr, 0)
};

}  // namespace

int addInterceptorType(PyObject* module) {
    InterceptorType.tp_name = "callmonitor._core.Interceptor";
    InterceptorType.tp_basicsize = sizeof(InterceptorObject);
    InterceptorType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                               Py_TPFLAGS_METHOD_DESCRIPTOR;
    InterceptorType.tp_doc = "A callable that records every call of the callable it wraps.";
    InterceptorType.tp_new = interceptorNew;
    InterceptorType.tp_dealloc = reinterpret_cast<destructor>(interceptorDealloc);
    InterceptorType.tp_traverse = reinterpret_cast<traverseproc>(interceptorTraverse);
    InterceptorType.tp_clear = reinterpret_cast<inquiry>(interceptorClear);
    InterceptorType.tp_call = PyVectorcall_Call;
    InterceptorType.tp_vectorcall_offset = offsetof(InterceptorObject, vectorcall);
    InterceptorType.tp_descr_get = interceptorGet;
    InterceptorType.tp_dictoffset = offsetof(InterceptorObject, dict);
    InterceptorType.tp_weaklistoffset = offsetof(InterceptorObject, weakrefs);
    InterceptorType.tp_repr = reinterpret_cast<reprfunc>(interceptorRepr);
    InterceptorType.tp_methods = interceptorMethods;
    InterceptorType.tp_getset = interceptorGetset;
    if (PyType_Ready(&InterceptorType) < 0) return -1;
    Py_INCREF(&InterceptorType);
    if (PyModule_AddObject(module, "Interceptor", reinterpret_cast<PyObject*>(&InterceptorType)) < 0) {
        Py_DECREF(&InterceptorType);
        return -1;
    }
    return 0;
}

}  // namespace callmonitor::py
