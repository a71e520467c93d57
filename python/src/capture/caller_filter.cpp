#include "capture/caller_filter.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/caller_frame.h"
#include "capture/interceptor.h"

namespace callmonitor::py {
namespace {

// Module-name rules of one watch. "a.b" matches "a.b" and "a.b.c", not "a.bc".
struct CallerRules {
    std::vector<std::string> allow;   // from_modules; empty: every caller but `deny`
    std::vector<std::string> deny;    // the watched packages (their calls into themselves)

    static bool matches(const std::vector<std::string>& prefixes, const std::string& name) {
        for (const auto& p : prefixes) {
            if (name.size() < p.size() || name.compare(0, p.size(), p) != 0) continue;
            if (name.size() == p.size() || name[p.size()] == '.') return true;
        }
        return false;
    }
    bool allows(const std::string& module) const {
        return allow.empty() ? !matches(deny, module) : matches(allow, module);
    }
};

struct WatchOptionsObject {
    PyObject_HEAD
    CallerRules* rules;
    std::unordered_map<PyObject*, bool>* decided;  // caller globals (strong ref) -> allowed
    PyObject* lastGlobals;                          // one-entry cache in front of `decided`
    bool lastAllowed;
    PyObject* summarize;                            // obj -> summary (values="summary"), or null
};

PyTypeObject WatchOptionsType = {PyVarObject_HEAD_INIT(nullptr, 0)};

std::string moduleNameOf(PyObject* globals) {
    if (!globals || !PyDict_Check(globals)) return "";
    PyObject* n = PyDict_GetItemString(globals, "__name__");  // borrowed
    const char* s = (n && PyUnicode_Check(n)) ? PyUnicode_AsUTF8(n) : nullptr;
    if (!s) {
        PyErr_Clear();
        return "";
    }
    return s;
}

bool readPrefixes(PyObject* seq, std::vector<std::string>& out) {
    if (!seq || seq == Py_None) return true;
    PyObject* fast = PySequence_Fast(seq, "allow/deny must be sequences of module names");
    if (!fast) return false;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); ++i) {
        PyObject* item = PySequence_Fast_GET_ITEM(fast, i);
        const char* s = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : nullptr;
        if (!s) {
            Py_DECREF(fast);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "module names must be str");
            return false;
        }
        out.emplace_back(s);
    }
    Py_DECREF(fast);
    return true;
}

PyObject* watchOptionsNew(PyTypeObject* type, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"allow", "deny", "summarize", nullptr};
    PyObject *allow = nullptr, *deny = nullptr, *summarize = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO", const_cast<char**>(kwlist), &allow, &deny, &summarize))
        return nullptr;
    if (summarize != Py_None && !PyCallable_Check(summarize)) {
        PyErr_SetString(PyExc_TypeError, "summarize must be a callable or None");
        return nullptr;
    }
    auto rules = std::make_unique<CallerRules>();
    if (!readPrefixes(allow, rules->allow) || !readPrefixes(deny, rules->deny)) return nullptr;
    auto* self = reinterpret_cast<WatchOptionsObject*>(type->tp_alloc(type, 0));
    if (!self) return nullptr;
    self->rules = rules.release();
    self->decided = new std::unordered_map<PyObject*, bool>();
    self->lastGlobals = nullptr;
    self->lastAllowed = false;
    self->summarize = summarize == Py_None ? nullptr : (Py_INCREF(summarize), summarize);
    return reinterpret_cast<PyObject*>(self);
}

void watchOptionsDealloc(WatchOptionsObject* self) {
    if (self->decided) {
        for (auto& [globals, allowed] : *self->decided) Py_DECREF(globals);
        delete self->decided;
    }
    delete self->rules;
    Py_XDECREF(self->summarize);
    Py_TYPE(self)->tp_free(reinterpret_cast<PyObject*>(self));
}

PyObject* watchOptionsAllows(WatchOptionsObject* self, PyObject* name) {
    const char* s = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : nullptr;
    if (!s) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "allows() takes a module name (str)");
        return nullptr;
    }
    return PyBool_FromLong(self->rules->allows(s));
}

PyObject* watchOptionsSummary(WatchOptionsObject* self, void*) {
    return PyBool_FromLong(self->summarize != nullptr);
}

PyMethodDef watchOptionsMethods[] = {
    {"allows", reinterpret_cast<PyCFunction>(watchOptionsAllows), METH_O,
     "allows(module_name) -> bool: whether calls made from this module are recorded"},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef watchOptionsGetset[] = {
    {"summary", reinterpret_cast<getter>(watchOptionsSummary), nullptr,
     "True when inputs and results are stored as summaries", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

// ---- the watched callable: an Interceptor that passes for what it wraps ----
// `__class__` reports the wrapped object's type (isinstance(np.add, np.ufunc)
// holds) and attributes the wrapper does not have come from the wrapped
// object (np.add.reduce, .nin, .types): no AttributeError is raised on the way.
PyTypeObject WatchedType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* watchedGetattro(PyObject* self, PyObject* name) {
    if (_PyType_Lookup(Py_TYPE(self), name)) return PyObject_GenericGetAttr(self, name);
    PyObject** dictPtr = _PyObject_GetDictPtr(self);
    if (dictPtr && *dictPtr && PyDict_GetItemWithError(*dictPtr, name)) return PyObject_GenericGetAttr(self, name);
    if (PyErr_Occurred()) return nullptr;
    return PyObject_GetAttr(interceptorTarget(self), name);
}

PyObject* watchedClass(PyObject* self, void*) {
    PyObject* t = reinterpret_cast<PyObject*>(Py_TYPE(interceptorTarget(self)));
    Py_INCREF(t);
    return t;
}

// Binds as a method only if the wrapped object does: a function in a class
// body binds, a ufunc stored as a class attribute does not.
PyObject* watchedGet(PyObject* self, PyObject* obj, PyObject* type) {
    if (obj == nullptr || obj == Py_None || !Py_TYPE(interceptorTarget(self))->tp_descr_get) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

// The wrapped object's repr: doctests and messages read as before.
PyObject* watchedRepr(PyObject* self) { return PyObject_Repr(interceptorTarget(self)); }

PyGetSetDef watchedGetset[] = {
    {"__class__", watchedClass, nullptr, "the wrapped object's type", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

// Short literals are kept as they are; anything else goes to the summarizer.
bool keptAsIs(PyObject* o) {
    constexpr Py_ssize_t kShort = 64;
    if (o == Py_None || PyBool_Check(o) || PyFloat_CheckExact(o) || PyComplex_CheckExact(o)) return true;
    if (PyLong_CheckExact(o)) return _PyLong_NumBits(o) <= 64;
    if (PyUnicode_CheckExact(o)) return PyUnicode_GET_LENGTH(o) <= kShort;
    if (PyBytes_CheckExact(o)) return PyBytes_GET_SIZE(o) <= kShort;
    return false;
}

}  // namespace

bool watchRecordsThisCall(PyObject* watch, int callerDepth) {
    auto* w = reinterpret_cast<WatchOptionsObject*>(watch);
    PyObject* g = nullptr;
    if (callerDepth == 0) {
        g = PyEval_GetGlobals();  // the caller's frame: the wrapper has none of its own
    } else if (CallerFrame above; callerFrameAbove(above, callerDepth)) {
        g = above.globals;
    }
    if (!g) g = Py_None;  // called from C with no Python frame
    if (g == w->lastGlobals) return w->lastAllowed;
    bool allowed;
    auto it = w->decided->find(g);
    if (it != w->decided->end()) {
        allowed = it->second;
    } else {
        allowed = w->rules->allows(moduleNameOf(g));
        Py_INCREF(g);  // kept: the key must not be reused by another dict
        w->decided->emplace(g, allowed);
    }
    w->lastGlobals = g;
    w->lastAllowed = allowed;
    return allowed;
}

PyObject* watchedVectorcall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    CapturedFunction& fn = interceptorCapture(callable);
    if (!watchRecordsThisCall(fn.watch)) return PyObject_Vectorcall(fn.func, args, nargsf, kwnames);
    return recordedVectorcall(fn, args, nargsf, kwnames);
}

bool isWatchOptions(PyObject* o) { return PyObject_TypeCheck(o, &WatchOptionsType); }

void WatchInputs::summarize(PyObject* watch, size_t nargs, PyObject* kwnames) {
    PyObject* const* args = args_;
    auto* w = reinterpret_cast<WatchOptionsObject*>(watch);
    if (!w->summarize) return;
    count_ = nargs + (kwnames ? static_cast<size_t>(PyTuple_GET_SIZE(kwnames)) : 0);
    owned_ = new PyObject*[count_ ? count_ : 1];
    for (size_t i = 0; i < count_; ++i) {
        PyObject* o = args[i];
        PyObject* s = keptAsIs(o) ? nullptr : PyObject_CallOneArg(w->summarize, o);
        if (!s) {
            PyErr_Clear();
            Py_INCREF(o);
            s = o;
        }
        owned_[i] = s;
    }
    args_ = owned_;
}

void WatchInputs::release() {
    for (size_t i = 0; i < count_; ++i) Py_DECREF(owned_[i]);
    delete[] owned_;
}

int addWatchTypes(PyObject* module) {
    WatchOptionsType.tp_name = "callmonitor._core.WatchOptions";
    WatchOptionsType.tp_basicsize = sizeof(WatchOptionsObject);
    WatchOptionsType.tp_flags = Py_TPFLAGS_DEFAULT;
    WatchOptionsType.tp_doc =
        "WatchOptions(allow=(), deny=(), summarize=None): which callers a watch records "
        "(module-name prefixes: only `allow` if given, else all but `deny`) and how it stores values.";
    WatchOptionsType.tp_new = watchOptionsNew;
    WatchOptionsType.tp_dealloc = reinterpret_cast<destructor>(watchOptionsDealloc);
    WatchOptionsType.tp_methods = watchOptionsMethods;
    WatchOptionsType.tp_getset = watchOptionsGetset;

    WatchedType.tp_name = "callmonitor._core.Watched";
    WatchedType.tp_base = interceptorType();
    WatchedType.tp_basicsize = interceptorType()->tp_basicsize;
    // Not a METHOD_DESCRIPTOR: obj.attr(...) must go through watchedGet, which
    // binds only when the wrapped object would.
    WatchedType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
    WatchedType.tp_doc = "An Interceptor placed by callmonitor.watch: it passes for the object it wraps.";
    WatchedType.tp_getattro = watchedGetattro;
    WatchedType.tp_descr_get = watchedGet;
    WatchedType.tp_repr = watchedRepr;
    WatchedType.tp_traverse = interceptorType()->tp_traverse;  // checked before inheritance
    WatchedType.tp_clear = interceptorType()->tp_clear;
    WatchedType.tp_getset = watchedGetset;
    for (PyTypeObject* t : {&WatchOptionsType, &WatchedType}) {
        if (PyType_Ready(t) < 0) return -1;
        t->tp_flags &= ~Py_TPFLAGS_METHOD_DESCRIPTOR;  // in case PyType_Ready inherited it
        Py_INCREF(t);
        const char* name = t == &WatchedType ? "Watched" : "WatchOptions";
        if (PyModule_AddObject(module, name, reinterpret_cast<PyObject*>(t)) < 0) {
            Py_DECREF(t);
            return -1;
        }
    }
    return 0;
}

}  // namespace callmonitor::py
