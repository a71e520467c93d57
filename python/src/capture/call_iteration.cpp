#include "capture/call_iteration.h"

#include <cstddef>
#include <new>
#include <string>
#include <vector>

#include "capture/call_capture.h"
#include "capture/caller_filter.h"
#include "capture/interceptor.h"

namespace callmonitor::py {
namespace {

enum class CallKind : int { Coroutine = 0, Generator = 1, AsyncGenerator = 2 };

// Closed ext field values (format::ExtTag::Closed).
constexpr uint64_t kClosed = 1;   // close() (or the wrapper collected) before the end
constexpr uint64_t kDropped = 2;  // the CallInProgress was freed without an outcome

struct CallInProgressObject {
    PyObject_HEAD
    PyObject* interceptor;  // strong: owns the CapturedFunction the call refers to
    PyObject* inner;        // what the function returned: coroutine, generator, async generator
    ActiveCall call;        // inactive when the call is not recorded (async generators only)
    uint64_t yields;
    CallKind kind;
    OutcomeExtra* values;   // yields=True: the Yielded fields so far and their payloads
};

PyTypeObject CallInProgressType = {PyVarObject_HEAD_INIT(nullptr, 0)};

bool counted(const CallInProgressObject* self) { return self->kind != CallKind::Coroutine; }

// The outcome ext of a generator: Yields n, the Yielded items, Closed.
OutcomeExtra outcomeExtra(CallInProgressObject* self, uint64_t closed) {
    OutcomeExtra out;
    if (counted(self)) out.fields.addVarint(format::ExtTag::Yields, self->yields);
    if (self->values) {  // yields=True: the items, however many (zero: none, still recorded)
        out.fields.addVarint(format::ExtTag::ItemsRecorded, 1);
        out.fields.append(self->values->fields);
        out.payloads = std::move(self->values->payloads);
        delete self->values;
        self->values = nullptr;
    }
    if (closed) out.fields.addVarint(format::ExtTag::Closed, closed);
    // inner=True: the rewritten body's `finally` has just handed its inner calls over.
    if (const CapturedFunction& fn = interceptorCapture(self->interceptor); fn.inner) takeInnerCallsInto(fn, out);
    return out;
}

void onYield(CallInProgressObject* self, PyObject* item) {
    if (!self->call.active() || !counted(self)) return;
    ++self->yields;
    if (!self->values) return;
    std::string bytes;
    if (encodeOutcomeValue(self->call, item, bytes, *self->values))
        self->values->fields.addBytes(format::ExtTag::Yielded, bytes);
}

void onReturn(CallInProgressObject* self, PyObject* value) {
    if (!self->call.active()) return;
    OutcomeExtra extra = outcomeExtra(self, 0);
    finishReturned(self->call, value, &extra);
}

// The exception is set, and stays set.
void onRaise(CallInProgressObject* self) {
    if (!self->call.active()) return;
    OutcomeExtra extra = outcomeExtra(self, 0);
    finishRaised(self->call, &extra);
}

void onClose(CallInProgressObject* self, uint64_t how) {
    if (!self->call.active()) return;
    OutcomeExtra extra = outcomeExtra(self, how);
    finishUnfinished(self->call, &extra);
}

// Raises StopIteration(value) (what a generator's `return value` raises).
void setStopIteration(PyObject* value) {
    if (value == Py_None) {
        PyErr_SetNone(PyExc_StopIteration);
        return;
    }
    PyObject* e = PyObject_CallOneArg(PyExc_StopIteration, value);  // a tuple stays one argument
    if (e) {
        PyErr_SetObject(PyExc_StopIteration, e);
        Py_DECREF(e);
    }
}

// After the inner object ran: a yield is counted, an end is recorded.
PySendResult afterResume(CallInProgressObject* self, PySendResult r, PyObject* out) {
    if (r == PYGEN_NEXT) onYield(self, out);
    else if (r == PYGEN_RETURN) onReturn(self, out);
    else onRaise(self);
    return r;
}

PySendResult callSend(PyObject* o, PyObject* arg, PyObject** out) {
    auto* self = reinterpret_cast<CallInProgressObject*>(o);
    if (!self->inner) {
        PyErr_SetString(PyExc_RuntimeError, "this CallInProgress has nothing to run");
        *out = nullptr;
        return PYGEN_ERROR;
    }
    const PySendResult r = PyIter_Send(self->inner, arg, out);
    return afterResume(self, r, *out);
}

// A send() or __next__ result as a method's: the yielded item, or NULL with
// StopIteration(value) / the exception set.
PyObject* asMethodResult(PySendResult r, PyObject* out) {
    if (r == PYGEN_NEXT) return out;
    if (r == PYGEN_RETURN) {
        setStopIteration(out);
        Py_DECREF(out);
    }
    return nullptr;
}

PyObject* callIterNext(PyObject* o) {
    PyObject* out;
    PySendResult r = callSend(o, Py_None, &out);
    if (r == PYGEN_RETURN && out == Py_None) {  // tp_iternext: NULL without an error is the end
        Py_DECREF(out);
        return nullptr;
    }
    return asMethodResult(r, out);
}

PyObject* callSendMethod(PyObject* o, PyObject* arg) {
    PyObject* out;
    return asMethodResult(callSend(o, arg, &out), out);
}

// throw(...): into the inner object; what comes out is a yield, its return,
// or the exception it raised.
PyObject* callThrow(PyObject* o, PyObject* const* args, Py_ssize_t nargs) {
    auto* self = reinterpret_cast<CallInProgressObject*>(o);
    if (!self->inner) {
        PyErr_SetString(PyExc_RuntimeError, "this CallInProgress has nothing to run");
        return nullptr;
    }
    PyObject* method = PyObject_GetAttrString(self->inner, "throw");
    if (!method) return nullptr;
    PyObject* out = PyObject_Vectorcall(method, args, static_cast<size_t>(nargs), nullptr);
    Py_DECREF(method);
    if (out) {
        onYield(self, out);
        return out;
    }
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
        PyObject* value = nullptr;
        if (_PyGen_FetchStopIterationValue(&value) < 0) {
            onRaise(self);
            return nullptr;
        }
        onReturn(self, value);
        setStopIteration(value);
        Py_DECREF(value);
        return nullptr;
    }
    onRaise(self);
    return nullptr;
}

// close(): closes the inner object; the call ends closed (or with what
// closing it raised). A call that already ended is left as it was.
PyObject* callClose(PyObject* o, PyObject*) {
    auto* self = reinterpret_cast<CallInProgressObject*>(o);
    if (self->inner) {
        PyObject* r = PyObject_CallMethod(self->inner, "close", nullptr);
        if (!r) {
            onRaise(self);
            return nullptr;
        }
        Py_DECREF(r);
    }
    onClose(self, kClosed);
    Py_RETURN_NONE;
}

PyObject* callAwait(PyObject* o) {
    Py_INCREF(o);
    return o;
}

// For the async generator wrapper (intercept.py), which drives the inner
// async generator itself and reports what happened.
PyObject* callYielded(PyObject* o, PyObject* item) {
    onYield(reinterpret_cast<CallInProgressObject*>(o), item);
    Py_RETURN_NONE;
}

PyObject* callReturned(PyObject* o, PyObject* value) {
    onReturn(reinterpret_cast<CallInProgressObject*>(o), value);
    Py_RETURN_NONE;
}

PyObject* callRaised(PyObject* o, PyObject* exc) {
    if (!PyExceptionInstance_Check(exc)) {
        PyErr_SetString(PyExc_TypeError, "_raised() takes the exception raised");
        return nullptr;
    }
    PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(exc));
    Py_INCREF(type);
    Py_INCREF(exc);
    PyErr_Restore(type, exc, PyException_GetTraceback(exc));
    onRaise(reinterpret_cast<CallInProgressObject*>(o));
    PyErr_Clear();
    Py_RETURN_NONE;
}

PyObject* callClosed(PyObject* o, PyObject*) {
    onClose(reinterpret_cast<CallInProgressObject*>(o), kClosed);
    Py_RETURN_NONE;
}

PyObject* callInner(PyObject* o, void*) {
    auto* self = reinterpret_cast<CallInProgressObject*>(o);
    PyObject* inner = self->inner ? self->inner : Py_None;
    Py_INCREF(inner);
    return inner;
}

PyObject* callRecording(PyObject* o, void*) {
    return PyBool_FromLong(reinterpret_cast<CallInProgressObject*>(o)->call.active());
}

int callTraverse(PyObject* o, visitproc visit, void* arg) {
    auto* self = reinterpret_cast<CallInProgressObject*>(o);
    Py_VISIT(self->interceptor);
    Py_VISIT(self->inner);
    return 0;
}

// Ends an unfinished call as dropped (it never runs Python code), then lets go.
int callClear(PyObject* o) {
    auto* self = reinterpret_cast<CallInProgressObject*>(o);
    if (self->call.active()) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        onClose(self, kDropped);
        PyErr_Restore(t, v, tb);
    }
    Py_CLEAR(self->inner);
    Py_CLEAR(self->interceptor);
    return 0;
}

void callDealloc(PyObject* o) {
    auto* self = reinterpret_cast<CallInProgressObject*>(o);
    PyObject_GC_UnTrack(o);
    callClear(o);
    delete self->values;
    self->call.~ActiveCall();
    Py_TYPE(o)->tp_free(o);
}

PyObject* callRepr(PyObject* o) {
    auto* self = reinterpret_cast<CallInProgressObject*>(o);
    return PyUnicode_FromFormat("<callmonitor call in progress of %R>",
                                self->interceptor ? interceptorTarget(self->interceptor) : Py_None);
}

// begin_call(interceptor, args, kwargs, kind): begins recording a call made
// from a Python wrapper and makes it (func(*args, **kwargs)). Returns a
// CallInProgress over what the call returned, or, when the call is not
// recorded, that object itself (coroutines and generators; an async
// generator always gets a CallInProgress, inactive).
PyObject* beginCallFromPython(PyObject*, PyObject* const* a, Py_ssize_t n) {
    if (n != 4 || !PyObject_TypeCheck(a[0], interceptorType()) || !PyTuple_Check(a[1]) ||
        !(a[2] == Py_None || PyDict_Check(a[2])) || !PyLong_Check(a[3])) {
        PyErr_SetString(PyExc_TypeError, "begin_call(interceptor, args: tuple, kwargs: dict | None, kind: int)");
        return nullptr;
    }
    const long kindValue = PyLong_AsLong(a[3]);
    if (kindValue < 0 || kindValue > 2) {
        PyErr_SetString(PyExc_ValueError, "kind: 0 coroutine, 1 generator, 2 async generator");
        return nullptr;
    }
    const auto kind = static_cast<CallKind>(kindValue);
    CapturedFunction& fn = interceptorCapture(a[0]);
    PyObject* args = a[1];
    PyObject* kwargs = a[2] == Py_None ? nullptr : a[2];
    const Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    const Py_ssize_t nkw = kwargs ? PyDict_GET_SIZE(kwargs) : 0;
    // The vectorcall form of (args, kwargs): borrowed items, kwnames a new tuple.
    std::vector<PyObject*> vec(static_cast<size_t>(nargs + nkw));
    for (Py_ssize_t i = 0; i < nargs; ++i) vec[static_cast<size_t>(i)] = PyTuple_GET_ITEM(args, i);
    PyObject* kwnames = nullptr;
    if (nkw) {
        kwnames = PyTuple_New(nkw);
        if (!kwnames) return nullptr;
        Py_ssize_t pos = 0, i = 0;
        PyObject *key, *value;
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            Py_INCREF(key);
            PyTuple_SET_ITEM(kwnames, i, key);
            vec[static_cast<size_t>(nargs + i)] = value;
            ++i;
        }
    }
    auto* self = PyObject_GC_New(CallInProgressObject, &CallInProgressType);
    if (!self) {
        Py_XDECREF(kwnames);
        return nullptr;
    }
    Py_INCREF(a[0]);
    self->interceptor = a[0];
    self->inner = nullptr;
    new (&self->call) ActiveCall();
    self->yields = 0;
    self->kind = kind;
    self->values = nullptr;
    PyObject_GC_Track(self);
    auto* obj = reinterpret_cast<PyObject*>(self);
    // The wrapper's frame is the innermost: the call site is the one above.
    // A watch's callable (callmonitor.watch) records only the callers its
    // filter lets through; the others run unrecorded.
    CallStart start = CallStart::NotRecorded;
    if (!fn.watch || watchRecordsThisCall(fn.watch, 1))
        start = beginCall(fn, vec.data(), static_cast<size_t>(nargs), kwnames, self->call, 1);
    if (start == CallStart::Refused) {
        Py_XDECREF(kwnames);
        Py_DECREF(obj);
        return nullptr;
    }
    if (self->call.active() && fn.recordYields && kind != CallKind::Coroutine) self->values = new OutcomeExtra();
    PyObject* inner = PyObject_Vectorcall(fn.func, vec.data(), static_cast<size_t>(nargs), kwnames);
    Py_XDECREF(kwnames);
    if (!inner) {
        onRaise(self);
        Py_DECREF(obj);
        return nullptr;
    }
    if (!self->call.active() && kind != CallKind::AsyncGenerator) {
        Py_DECREF(obj);
        return inner;
    }
    self->inner = inner;
    return obj;
}

PyMethodDef callMethods[] = {
    {"send", callSendMethod, METH_O, "send(value): resumes the call's coroutine or generator with `value`"},
    {"throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(callThrow)), METH_FASTCALL,
     "throw(exc): raises `exc` inside the call's coroutine or generator"},
    {"close", callClose, METH_NOARGS, "close(): closes the call's coroutine or generator; the call ends closed"},
    {"_yielded", callYielded, METH_O, "the async generator yielded this item"},
    {"_returned", callReturned, METH_O, "the async generator ended (its value, None)"},
    {"_raised", callRaised, METH_O, "the async generator raised this exception"},
    {"_closed", callClosed, METH_NOARGS, "the async generator was closed before its end"},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef callGetset[] = {
    {"inner", callInner, nullptr, "what the function returned: its coroutine, generator or async generator", nullptr},
    {"recording", callRecording, nullptr, "True while the call is being recorded", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyAsyncMethods callAsync = {callAwait, nullptr, nullptr, callSend};

PyMethodDef moduleMethods[] = {
    {"begin_call", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(beginCallFromPython)),
     METH_FASTCALL,
     "begin_call(interceptor, args, kwargs, kind) -> CallInProgress | the call's own object: begins recording "
     "a call of a coroutine (kind 0), generator (1) or async generator (2) function (intercept.py's wrappers)"},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

int addCallIterationTypes(PyObject* module) {
    CallInProgressType.tp_name = "callmonitor._core.CallInProgress";
    CallInProgressType.tp_basicsize = sizeof(CallInProgressObject);
    CallInProgressType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    CallInProgressType.tp_doc =
        "A recorded call of a coroutine, generator or async generator function, while it runs: it delegates "
        "to what the function returned and records how that ends.";
    CallInProgressType.tp_dealloc = callDealloc;
    CallInProgressType.tp_traverse = callTraverse;
    CallInProgressType.tp_clear = callClear;
    CallInProgressType.tp_iter = PyObject_SelfIter;
    CallInProgressType.tp_iternext = callIterNext;
    CallInProgressType.tp_as_async = &callAsync;
    CallInProgressType.tp_methods = callMethods;
    CallInProgressType.tp_getset = callGetset;
    CallInProgressType.tp_repr = callRepr;
    if (PyType_Ready(&CallInProgressType) < 0) return -1;
    Py_INCREF(&CallInProgressType);
    if (PyModule_AddObject(module, "CallInProgress", reinterpret_cast<PyObject*>(&CallInProgressType)) < 0) {
        Py_DECREF(&CallInProgressType);
        return -1;
    }
    for (PyMethodDef* def = moduleMethods; def->ml_name; ++def) {
        PyObject* f = PyCFunction_NewEx(def, nullptr, nullptr);
        if (!f || PyModule_AddObject(module, def->ml_name, f) < 0) {
            Py_XDECREF(f);
            return -1;
        }
    }
    return 0;
}

}  // namespace callmonitor::py
