#include "capture/interceptor.h"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "callmonitor/call_record.h"
#include "callmonitor/value_writer.h"
#include "capture/caller_filter.h"
#include "capture/py_encoder.h"
#include "capture/recorder.h"
#include "capture/thread_state.h"
#include "hooks.h"

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
    PyObject* watch;          // callmonitor.watch: its WatchOptions (caller filter, summaries), or null
};

// Counts what an encoding produced into the call's writer, and logs (once
// per process) a failing handler.
inline void account(Recorder& rec, Writer& writer, const EncodeCounts& counts) {
    if (__builtin_expect(counts.opaque | counts.pickled | counts.errors, 0) == 0) return;
    if (counts.opaque) writer.countOpaque(counts.opaque);
    if (counts.pickled) writer.countPickled(counts.pickled);
    if (counts.errors) rec.captureError(counts.firstError.c_str());
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
inline void releaseIfHuge(std::string& buffer) {
    constexpr size_t kKeepBytes = size_t(4) << 20;
    if (__builtin_expect(buffer.capacity() > kKeepBytes, 0)) std::string().swap(buffer);
}

struct HeldInputs {
    InputSlots slots;
    std::vector<std::shared_ptr<const void>> keep;
};

// Keeps an input copy alive past submitEntry when the Payload shares its
// bytes (Payload::data a shared_ptr); returns them, or null when it cannot.
template <class Data>
const uint8_t* keepAlive(const Data& data, std::vector<std::shared_ptr<const void>>& keep) {
    if constexpr (std::is_copy_constructible_v<Data>) {
        keep.emplace_back(data, data.get());
        return reinterpret_cast<const uint8_t*>(data.get());
    } else {
        (void)data;
        (void)keep;
        return nullptr;
    }
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

// The outcome ext of a raised call: the formatted traceback (bounded by
// callmonitor/capture/raised.py) and the exception's args as a value. Runs
// Python code: the caller holds the busy guard and has fetched the error.
void raisedExt(Recorder& rec, Writer& writer, CaptureState& st, PyObject* value, PyObject* tb) {
    st.ext.clear();
    if (!value || !PyExceptionInstance_Check(value)) return;
    if (tb) PyException_SetTraceback(value, tb);  // what `except` would see
    if (PyObject* hook = Hooks::get().formatTraceback) {
        PyObject* text = PyObject_CallOneArg(hook, value);
        Py_ssize_t n;
        const char* c = text && PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : nullptr;
        if (c) st.ext.addBytes(format::ExtTag::Traceback, std::string_view(c, static_cast<size_t>(n)));
        Py_XDECREF(text);
        PyErr_Clear();
    }
    PyObject* args = reinterpret_cast<PyBaseExceptionObject*>(value)->args;
    if (args) {
        st.scratch.clear();
        ValueWriter w(st.scratch);
        EncodeOptions opt;  // inline, never strict
        EncodeCounts counts;
        st.encoder.encode(w, args, opt, counts);
        account(rec, writer, counts);
        st.ext.addBytes(format::ExtTag::ExceptionArgs, st.scratch);
        releaseIfHuge(st.scratch);
    }
}

// Records the outcome of a finished call into the writer and lane its entry
// went to. `result` is the return value (borrowed) or null when the call
// raised (the exception is still set and must stay set, unchanged, when this
// returns).
void recordOutcome(Recorder& rec, CaptureState& st, WriterSlot& sink, Writer::Lane* lane, InterceptorObject* self,
                   const format::CallKey& key, uint64_t start, PyObject* result, const InputSlots* inputs) {
    uint64_t end = rec.nowNs();
    uint64_t duration = end > start ? end - start : 0;
    st.outcome.clear();
    st.resultPayloads.clear();
    if (result) {
        bool capture = self->captureResult < 0 ? sink.settings.captureResult : self->captureResult != 0;
        if (!capture) {
            appendNotRecorded(st.outcome, duration);
        } else {
            appendReturned(st.outcome, duration);
            EncodeOptions opt;  // never strict: not worth failing the call for
            opt.payloads.payloads = &st.resultPayloads;
            opt.payloads.sameAs = inputs;
            EncodeCounts counts;
            ValueWriter w(st.outcome);
            BusyGuard busy(st);
            WatchInputs recorded(self->watch, &result, 1, nullptr);
            st.encoder.encode(w, recorded.args()[0], opt, counts);
            account(rec, *sink.writer, counts);
        }
        appendEmptyExt(st.outcome);
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
            raisedExt(rec, *sink.writer, st, value, tb);
        }
        std::string typeName = type ? exceptionTypeName(type) : "BaseException";
        appendRaised(st.outcome, duration, typeName, message);
        appendExt(st.outcome, st.ext);
        PyErr_Restore(type, value, tb);
    }
    sink.writer->submitOutcome(lane, key, st.outcome, std::move(st.resultPayloads));
}

// Registers the function in the session, routes this thread to its writer
// (opening it at its first call) and registers the function there. False:
// the call runs unrecorded. Runs Python code (describing the function,
// opening a writer, naming the thread), which must not record itself.
__attribute__((noinline)) bool prepare(Recorder& rec, CaptureState& st, InterceptorObject* self) {
    BusyGuard busy(st);
    if (self->epoch != rec.epoch()) {
        uint32_t fid;
        if (!rec.functionId(self->func, fid)) return false;
        self->fid = fid;
        self->epoch = rec.epoch();
    }
    if (st.route != rec.routeEpoch() || !st.sink->live()) {
        if (!rec.route(st)) return false;
    }
    if (self->epoch != rec.epoch()) return false;  // a close() while Python ran: this call is not recorded
    if (!st.sink->knows(self->fid)) rec.registerIn(*st.sink, self->fid);
    return true;
}

// Encodes and submits the entry of a call about to run. False with an error
// set: strict mode refused an argument.
bool recordEntry(Recorder& rec, CaptureState& st, InterceptorObject* self, const format::CallKey& key,
                 uint64_t start, const Recorder::Caller& caller, PyObject* const* args, size_t nargs,
                 PyObject* kwnames) {
    st.record.clear();
    st.inputPayloads.clear();
    st.inputs.clear();
    st.keep.clear();
    appendCallHeader(st.record, start, st.thread, caller.module);
    WriterSlot& sink = *st.sink;
    const uint64_t epoch = rec.epoch();
    EncodeOptions opt;
    opt.strict = self->strict < 0 ? sink.settings.strict : self->strict != 0;
    opt.payloads.payloads = &st.inputPayloads;
    opt.payloads.sources = &st.inputs;
    opt.writerDir = &sink.directory;
    opt.functionDir = &rec.functionDirName(self->fid);
    opt.invocation = key.invocation;
    EncodeCounts counts;
    bool encoded;
    {
        BusyGuard busy(st);
        ValueWriter w(st.record);
        WatchInputs recorded(self->watch, args, nargs, kwnames);
        encoded = st.encoder.encodeInputs(w, recorded.args(), nargs, kwnames, opt, counts);
    }
    if (!encoded) return false;  // strict mode: the CaptureError is set
    // A handler ran Python and another thread closed the session: `sink` is
    // gone, the call runs unrecorded (its outcome is skipped likewise).
    if (__builtin_expect(epoch != rec.epoch(), 0)) return true;
    account(rec, *sink.writer, counts);
    st.record.append(caller.tail, caller.tailSize);  // entry ext (Site, Label) and Pending
    for (size_t k = 0; k < st.inputPayloads.size(); ++k)
        st.inputs.bytes[k] = keepAlive(st.inputPayloads[k].data, st.keep);
    Writer& writer = *sink.writer;
    // The buffer bound is checked before the entry and after the outcome, not
    // between them: a call's two halves then meet in one op.
    waitForRoom(writer);
    writer.submitEntry(st.lane, key, st.record, std::move(st.inputPayloads));
    releaseIfHuge(st.record);
    if (__builtin_expect(sink.settings.sync, 0)) {
        Py_BEGIN_ALLOW_THREADS
        writer.flush();
        Py_END_ALLOW_THREADS
    }
    return true;
}

PyObject* interceptorCall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    auto* self = reinterpret_cast<InterceptorObject*>(callable);
    // callmonitor.watch's caller filter, before any capture work (<= +50 ns when filtered out).
    if (self->watch && !watchRecordsThisCall(self->watch))
        return PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    CaptureState& st = threadCaptureState();
    if (st.busy) return PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    Recorder& rec = Recorder::instance();
    // The fast path: this thread routed to a live writer that knows this function.
    if (__builtin_expect(st.route != rec.routeEpoch() || self->epoch != rec.epoch() || !st.sink->live() ||
                             !st.sink->knows(self->fid), 0)) {
        if (!prepare(rec, st, self)) return PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    }
    // The writer and lane of this call: its outcome goes there even if the
    // thread records elsewhere by then (a writer declared inside the call).
    const uint64_t epoch = rec.epoch();
    WriterSlot& sink = *st.sink;
    Writer::Lane* lane = st.lane;
    format::CallKey key{self->fid, sink.nextInvocation(self->fid)};
    Recorder::Caller caller = rec.caller();
    uint64_t start = rec.nowNs();

    // Inputs are encoded (copied) before the call runs: later mutation of an
    // argument cannot change what was recorded.
    try {
        if (!recordEntry(rec, st, self, key, start, caller, args, PyVectorcall_NARGS(nargsf), kwnames))
            return nullptr;
    } catch (const std::exception& e) {
        st.busy = false;
        rec.captureError(e.what());
        return PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    }

    // The input slots, for the result to refer to: this call's own (a call
    // made inside this one reuses the thread's scratch), with their copies
    // kept alive until the outcome.
    std::optional<HeldInputs> held;
    if (__builtin_expect(!st.inputs.objects.empty(), 0)) held.emplace(HeldInputs{std::move(st.inputs), std::move(st.keep)});

    PyObject* result = PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    // The writer may have been closed (close() inside the call): only a
    // writer of the same session takes the outcome.
    if (__builtin_expect(epoch == rec.epoch() && sink.live(), 1)) {
        try {
            recordOutcome(rec, st, sink, lane, self, key, start, result, held ? &held->slots : nullptr);
            releaseIfHuge(st.outcome);
            waitForRoom(*sink.writer);
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
    static const char* kwlist[] = {"func", "result", "strict", "watch", nullptr};
    PyObject* func;
    PyObject* watch = Py_None;
    int result = -1, strict = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|iiO", const_cast<char**>(kwlist), &func, &result, &strict,
                                     &watch))
        return nullptr;
    if (watch != Py_None && !isWatchOptions(watch)) {
        PyErr_SetString(PyExc_TypeError, "watch must be a callmonitor._core.WatchOptions or None");
        return nullptr;
    }
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
    self->watch = watch == Py_None ? nullptr : (Py_INCREF(watch), watch);
    if (!self->dict) {
        Py_DECREF(self);
        return nullptr;
    }
    return reinterpret_cast<PyObject*>(self);
}

int interceptorTraverse(InterceptorObject* self, visitproc visit, void* arg) {
    Py_VISIT(self->func);
    Py_VISIT(self->dict);
    Py_VISIT(self->watch);
    return 0;
}

int interceptorClear(InterceptorObject* self) {
    Py_CLEAR(self->func);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->watch);
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

PyTypeObject* interceptorType() { return &InterceptorType; }
PyObject* interceptorTarget(PyObject* interceptor) { return reinterpret_cast<InterceptorObject*>(interceptor)->func; }

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
