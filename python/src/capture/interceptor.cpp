#include "capture/interceptor.h"

#include <cstddef>

#include "capture/call_capture.h"
#include "capture/caller_filter.h"

namespace callmonitor::py {
namespace {

struct InterceptorObject {
    PyObject_HEAD
    CapturedFunction fn;      // the wrapped callable (owned) and what the capture step keeps about it
    PyObject* dict;           // __dict__
    PyObject* weakrefs;
    vectorcallfunc vectorcall;
};

// The front end of the capture step: every call goes through it.
PyObject* interceptorCall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    return recordedVectorcall(reinterpret_cast<InterceptorObject*>(callable)->fn, args, nargsf, kwnames);
}

PyObject* interceptorNew(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"func", "result", "strict", "watch", "yields", nullptr};
    PyObject* func;
    PyObject* watch = Py_None;
    int result = -1, strict = -1, yields = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|iiOp", const_cast<char**>(kwlist), &func, &result, &strict,
                                     &watch, &yields))
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
    new (&self->fn) CapturedFunction();
    self->fn.func = func;
    self->fn.captureResult = static_cast<int8_t>(result < 0 ? -1 : result != 0);
    self->fn.strict = static_cast<int8_t>(strict < 0 ? -1 : strict != 0);
    self->fn.watch = watch == Py_None ? nullptr : (Py_INCREF(watch), watch);
    self->fn.recordYields = yields != 0;
    // A watch's callables pass through its caller filter first.
    self->vectorcall = self->fn.watch ? watchedVectorcall : interceptorCall;
    self->dict = PyDict_New();
    if (!self->dict) {
        Py_DECREF(self);
        return nullptr;
    }
    return reinterpret_cast<PyObject*>(self);
}

int interceptorTraverse(InterceptorObject* self, visitproc visit, void* arg) {
    Py_VISIT(self->fn.func);
    Py_VISIT(self->dict);
    Py_VISIT(self->fn.watch);
    return 0;
}

int interceptorClear(InterceptorObject* self) {
    Py_CLEAR(self->fn.func);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->fn.watch);
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
    return PyUnicode_FromFormat("<callmonitor.intercept of %R>", self->fn.func);
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
    Py_INCREF(self->fn.func);
    return self->fn.func;
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
PyObject* interceptorTarget(PyObject* interceptor) { return reinterpret_cast<InterceptorObject*>(interceptor)->fn.func; }
CapturedFunction& interceptorCapture(PyObject* interceptor) { return reinterpret_cast<InterceptorObject*>(interceptor)->fn; }

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
