#include "capture/object_state.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "callmonitor/module_names.h"
#include "capture/interceptor.h"
#include "capture/py_encoder.h"

namespace callmonitor::py {
namespace {

// What the encoder does with the instances of one type, decided once.
struct TypePlan {
    enum Kind : uint8_t { Pickle, Attrs, NamedTuple, Enum, State } kind = Pickle;
    std::string module, qualname;
    bool hasDict = false;
    // Attrs: the slot attributes of the MRO (name, member descriptor), strong refs.
    std::vector<std::pair<PyObject*, PyObject*>> slots;
    PyObject* fields = nullptr;  // NamedTuple: _fields (strong)
};

// A bounded cache: a notebook that redefines its classes makes new types.
constexpr size_t kMaxPlans = 4096;

std::unordered_map<PyTypeObject*, TypePlan>& plans() {
    static auto* m = new std::unordered_map<PyTypeObject*, TypePlan>();  // used until exit
    return *m;
}

void dropPlans() {
    auto old = std::move(plans());
    plans().clear();
    for (auto& [type, plan] : old) {
        for (auto& [name, descr] : plan.slots) {
            Py_DECREF(name);
            Py_DECREF(descr);
        }
        Py_XDECREF(plan.fields);
        Py_DECREF(reinterpret_cast<PyObject*>(type));
    }
}

// str attribute `name` of `o` as UTF-8, "" when absent or not a str. Clears errors.
std::string strAttr(PyObject* o, const char* name) {
    std::string out;
    PyObject* v = PyObject_GetAttrString(o, name);
    if (v && PyUnicode_Check(v)) {
        Py_ssize_t n;
        const char* c = PyUnicode_AsUTF8AndSize(v, &n);
        if (c) out.assign(c, static_cast<size_t>(n));
    }
    Py_XDECREF(v);
    PyErr_Clear();
    return out;
}

// The module a class or function is recorded under: a spawned child's main
// script runs as __mp_main__, and is __main__ to the user.
std::string moduleOf(PyObject* o) {
    std::string m(recordedModuleName(strAttr(o, "__module__")));
    return m.empty() ? "builtins" : m;
}

// `type`'s own entry `name` in its MRO (borrowed), nullptr when none.
PyObject* lookup(PyTypeObject* type, const char* name) {
    PyObject* key = PyUnicode_InternFromString(name);
    if (!key) {
        PyErr_Clear();
        return nullptr;
    }
    PyObject* found = _PyType_Lookup(type, key);
    Py_DECREF(key);
    return found;
}

bool overrides(PyTypeObject* type, const char* name) {
    PyObject* mine = lookup(type, name);
    return mine && mine != lookup(&PyBaseObject_Type, name);
}

PyTypeObject* stdlibType(const char* module, const char* name) {
    PyObject* m = PyImport_ImportModule(module);
    PyObject* t = m ? PyObject_GetAttrString(m, name) : nullptr;
    Py_XDECREF(m);
    if (!t || !PyType_Check(t)) {
        Py_XDECREF(t);
        PyErr_Clear();
        return nullptr;
    }
    return reinterpret_cast<PyTypeObject*>(t);  // kept for the process's life
}

// Looked up once, under the GIL, without a C++ static-init guard: an import
// may release the GIL, and another thread blocking on the guard would hold it.
PyTypeObject* enumType() {
    static bool looked = false;
    static PyTypeObject* type = nullptr;
    if (!looked) {
        looked = true;
        type = stdlibType("enum", "Enum");
    }
    return type;
}

bool hasCopyregReducer(PyTypeObject* type) {
    static bool looked = false;
    static PyObject* table = nullptr;  // copyreg.dispatch_table, kept until exit
    if (!looked) {
        looked = true;
        PyObject* m = PyImport_ImportModule("copyreg");
        table = m ? PyObject_GetAttrString(m, "dispatch_table") : nullptr;
        Py_XDECREF(m);
        PyErr_Clear();
    }
    if (!table || !PyDict_Check(table)) return false;
    int r = PyDict_Contains(table, reinterpret_cast<PyObject*>(type));
    if (r < 0) PyErr_Clear();
    return r == 1;
}

// `__x` in class `Cls` is stored as `_Cls__x` (Python's private name mangling).
PyObject* mangled(PyTypeObject* owner, PyObject* name) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if (n > 2 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_' &&
        !(PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_')) {
        std::string cls = owner->tp_name;
        size_t dot = cls.rfind('.');
        if (dot != std::string::npos) cls = cls.substr(dot + 1);
        size_t lead = cls.find_first_not_of('_');
        if (lead != std::string::npos) return PyUnicode_FromFormat("_%s%U", cls.c_str() + lead, name);
    }
    Py_INCREF(name);
    return name;
}

// The slot attributes of `type`'s MRO, base classes first. False when a
// __slots__ cannot be read (the type is then left to pickle).
bool collectSlots(PyTypeObject* type, TypePlan& plan) {
    PyObject* mro = type->tp_mro;
    for (Py_ssize_t i = PyTuple_GET_SIZE(mro); i-- > 0;) {
        auto* t = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
        PyObject* slots = t->tp_dict ? PyDict_GetItemString(t->tp_dict, "__slots__") : nullptr;
        if (!slots) continue;
        PyObject* names = PyUnicode_Check(slots) ? PyTuple_Pack(1, slots) : PySequence_Tuple(slots);
        if (!names) {
            PyErr_Clear();
            return false;
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(names); ++k) {
            PyObject* name = PyTuple_GET_ITEM(names, k);
            if (!PyUnicode_Check(name)) continue;
            if (PyUnicode_CompareWithASCIIString(name, "__dict__") == 0 ||
                PyUnicode_CompareWithASCIIString(name, "__weakref__") == 0)
                continue;
            PyObject* real = mangled(t, name);
            PyObject* descr = real ? PyDict_GetItem(t->tp_dict, real) : nullptr;
            if (!descr || !Py_TYPE(descr)->tp_descr_get) {
                Py_XDECREF(real);
                continue;
            }
            Py_INCREF(descr);
            plan.slots.emplace_back(real, descr);
        }
        Py_DECREF(names);
    }
    return true;
}

// The tp_dealloc of classes made by a class statement (type.__new__).
// Heap types are not enough: C types made with PyType_FromSpec
// (_thread.lock, since Python 3.10) are heap types too.
destructor classStatementDealloc() {
    static bool looked = false;  // no static-init guard: see enumType()
    static destructor found = nullptr;
    if (!looked) {
        looked = true;
        PyObject* probe = PyObject_CallFunction(reinterpret_cast<PyObject*>(&PyType_Type), "s(O){}",
                                                "_callmonitor_probe", reinterpret_cast<PyObject*>(&PyBaseObject_Type));
        found = probe ? reinterpret_cast<PyTypeObject*>(probe)->tp_dealloc : nullptr;
        Py_XDECREF(probe);
        PyErr_Clear();
    }
    return found;
}

// A class defined in Python all the way down to `object`.
bool pythonAllTheWay(PyTypeObject* type) {
    PyObject* mro = type->tp_mro;
    destructor python = classStatementDealloc();
    if (!mro || !python) return false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); ++i) {
        auto* t = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
        if (t != &PyBaseObject_Type && t->tp_dealloc != python) return false;
    }
    return true;
}

TypePlan makePlan(PyTypeObject* type) {
    PyTypeObject* enumBase = enumType();
    TypePlan plan;
    PyObject* t = reinterpret_cast<PyObject*>(type);
    plan.module = moduleOf(t);
    plan.qualname = strAttr(t, "__qualname__");
    if (plan.qualname.empty()) plan.qualname = type->tp_name;
    if (enumBase && PyType_IsSubtype(type, enumBase)) {
        plan.kind = TypePlan::Enum;
        return plan;
    }
    if (PyType_IsSubtype(type, &PyTuple_Type)) {
        PyObject* fields = PyObject_GetAttrString(t, "_fields");
        bool named = fields && PyTuple_Check(fields) && lookup(type, "_make");
        for (Py_ssize_t i = 0; named && i < PyTuple_GET_SIZE(fields); ++i)
            named = PyUnicode_Check(PyTuple_GET_ITEM(fields, i));
        PyErr_Clear();
        if (named) {
            plan.kind = TypePlan::NamedTuple;
            plan.fields = fields;
        } else {
            Py_XDECREF(fields);
        }
        return plan;
    }
    if (!pythonAllTheWay(type) || overrides(type, "__reduce_ex__") || overrides(type, "__reduce__") ||
        lookup(type, "__getnewargs_ex__") || lookup(type, "__getnewargs__") || hasCopyregReducer(type))
        return plan;  // pickle knows how to rebuild these
    if (overrides(type, "__getstate__") || lookup(type, "__setstate__")) {
        // Python before 3.11 has no object.__getstate__ to give a default state.
        if (lookup(type, "__getstate__")) plan.kind = TypePlan::State;
        return plan;
    }
    plan.hasDict = type->tp_dictoffset != 0;
    if (!collectSlots(type, plan)) {
        for (auto& [name, descr] : plan.slots) {
            Py_DECREF(name);
            Py_DECREF(descr);
        }
        plan.slots.clear();
        return plan;
    }
    plan.kind = TypePlan::Attrs;
    return plan;
}

const TypePlan& planFor(PyTypeObject* type) {
    auto& m = plans();
    auto it = m.find(type);
    if (it != m.end()) return it->second;
    if (m.size() >= kMaxPlans) dropPlans();
    TypePlan plan = makePlan(type);
    Py_INCREF(reinterpret_cast<PyObject*>(type));
    return plans().emplace(type, std::move(plan)).first->second;
}

// The state of an Attrs object: its __dict__ itself when it has no slots
// (the encoder then walks it directly), else a new dict with both. A new
// reference, or nullptr with an error set.
PyObject* attrsState(PyObject* obj, const TypePlan& plan) {
    PyObject* dict = plan.hasDict ? PyObject_GenericGetDict(obj, nullptr) : PyDict_New();
    if (!dict || plan.slots.empty()) return dict;
    PyObject* state = PyDict_Copy(dict);
    Py_DECREF(dict);
    if (!state) return nullptr;
    PyTypeObject* type = Py_TYPE(obj);
    for (auto& [name, descr] : plan.slots) {
        PyObject* v = Py_TYPE(descr)->tp_descr_get(descr, obj, reinterpret_cast<PyObject*>(type));
        if (!v) {  // an unset slot is not part of the state
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                Py_DECREF(state);
                return nullptr;
            }
            PyErr_Clear();
            continue;
        }
        int rc = PyDict_SetItem(state, name, v);
        Py_DECREF(v);
        if (rc < 0) {
            Py_DECREF(state);
            return nullptr;
        }
    }
    return state;
}

// {field: value} of a namedtuple, in field order.
PyObject* namedTupleState(PyObject* obj, const TypePlan& plan) {
    PyObject* state = PyDict_New();
    Py_ssize_t n = std::min(PyTuple_GET_SIZE(plan.fields), PyTuple_GET_SIZE(obj));
    for (Py_ssize_t i = 0; state && i < n; ++i) {
        if (PyDict_SetItem(state, PyTuple_GET_ITEM(plan.fields, i), PyTuple_GET_ITEM(obj, i)) < 0)
            Py_CLEAR(state);
    }
    return state;
}

PyObject* enumState(PyObject* obj) {
    PyObject* name = PyObject_GetAttrString(obj, "_name_");
    PyObject* value = name ? PyObject_GetAttrString(obj, "_value_") : nullptr;
    PyObject* state = value ? Py_BuildValue("{sOsO}", "name", name, "value", value) : nullptr;
    Py_XDECREF(name);
    Py_XDECREF(value);
    return state;
}

// Names a function-like object can be found by: a Python function, a
// built-in function of a module (len, math.sqrt; not a bound method of
// another object), or an @intercept wrapper.
bool isNamedFunction(PyObject* obj) {
    if (PyFunction_Check(obj)) return true;
    if (PyCFunction_Check(obj)) {
        PyObject* self = PyCFunction_GET_SELF(obj);
        return !self || PyModule_Check(self);
    }
    return PyObject_TypeCheck(obj, interceptorType());
}

// A method descriptor of a C type (np.ndarray.sum, list.append, object.__init__):
// a function found as `qualname` in the module of the type that defines it.
bool isMethodDescriptor(PyObject* obj) {
    PyTypeObject* t = Py_TYPE(obj);
    return t == &PyMethodDescr_Type || t == &PyWrapperDescr_Type || t == &PyClassMethodDescr_Type;
}

// A lambda or a function defined inside a function: its name does not find it.
bool isLocalName(const std::string& qualname) {
    return qualname.find("<locals>") != std::string::npos || qualname.find("<lambda>") != std::string::npos;
}

PyTypeObject* partialType() {
    static bool looked = false;  // no static-init guard: see enumType()
    static PyTypeObject* type = nullptr;
    if (!looked) {
        looked = true;
        type = stdlibType("functools", "partial");
    }
    return type;
}

// A callable made of a function and values (docs/objects.md, "Callables"):
// its form, its function's name, and the value its state is made of.
struct CallableParts {
    ObjectForm form = ObjectForm::Method;
    std::string module, qualname;
    PyObject* state = nullptr;  // new reference
};

// The Local form's state of a Python function: where it was defined.
PyObject* definitionSite(PyObject* fn) {
    PyObject* code = PyFunction_Check(fn) ? PyFunction_GET_CODE(fn) : nullptr;
    if (!code || !PyCode_Check(code)) return Py_BuildValue("{sssi}", "file", "", "line", 0);
    auto* c = reinterpret_cast<PyCodeObject*>(code);
    return Py_BuildValue("{sOsi}", "file", c->co_filename, "line", c->co_firstlineno);
}

// False when `obj` is not such a callable, or one of its parts cannot be read
// (the caller then pickles it). Errors are cleared.
bool callableParts(PyObject* obj, CallableParts& out) {
    if (PyMethod_Check(obj)) {  // obj.f, Cls.classmethod
        PyObject* fn = PyMethod_GET_FUNCTION(obj);
        if (!isNamedFunction(fn)) return false;
        out.qualname = strAttr(fn, "__qualname__");
        if (out.qualname.empty() || isLocalName(out.qualname)) return false;
        out.module = moduleOf(fn);
        out.state = PyMethod_GET_SELF(obj);
        Py_INCREF(out.state);
        return true;
    }
    if (PyCFunction_Check(obj)) {  // [].append, a.sum, dict.fromkeys (module functions are Refs)
        PyObject* self = PyCFunction_GET_SELF(obj);
        out.qualname = strAttr(obj, "__qualname__");
        if (!self || PyModule_Check(self) || out.qualname.empty()) return false;
        out.module = moduleOf(PyType_Check(self) ? self : reinterpret_cast<PyObject*>(Py_TYPE(self)));
        out.state = self;
        Py_INCREF(self);
        return true;
    }
    if (Py_IS_TYPE(obj, &PyStaticMethod_Type) || Py_IS_TYPE(obj, &PyClassMethod_Type)) {
        out.form = ObjectForm::Wrapper;
        out.module = "builtins";
        out.qualname = Py_IS_TYPE(obj, &PyStaticMethod_Type) ? "staticmethod" : "classmethod";
        out.state = PyObject_GetAttrString(obj, "__func__");
        return out.state || (PyErr_Clear(), false);
    }
    if (PyTypeObject* partial = partialType(); partial && Py_IS_TYPE(obj, partial)) {
        // Attributes set on the partial itself are not part of the form: pickle keeps them.
        PyObject* dict = PyObject_GenericGetDict(obj, nullptr);
        bool extra = !dict || PyDict_GET_SIZE(dict) > 0;
        Py_XDECREF(dict);
        PyObject* fn = extra ? nullptr : PyObject_GetAttrString(obj, "func");
        PyObject* args = fn ? PyObject_GetAttrString(obj, "args") : nullptr;
        PyObject* kw = args ? PyObject_GetAttrString(obj, "keywords") : nullptr;
        if (kw) out.state = Py_BuildValue("{sOsOsO}", "func", fn, "args", args, "keywords", kw);
        Py_XDECREF(fn);
        Py_XDECREF(args);
        Py_XDECREF(kw);
        if (!out.state) {
            PyErr_Clear();
            return false;
        }
        out.form = ObjectForm::Partial;
        out.module = "functools";
        out.qualname = "partial";
        return true;
    }
    return false;
}

}  // namespace

bool encodeObjectState(PyEncoder& enc, ValueWriter& w, PyObject* obj) {
    if (PyType_Check(obj)) {
        w.reference(RefKind::Class, moduleOf(obj), strAttr(obj, "__qualname__"));
        return true;
    }
    if (PyModule_Check(obj)) {
        const char* name = PyModule_GetName(obj);
        if (!name) {
            PyErr_Clear();
            return false;
        }
        w.reference(RefKind::Module, name, "");
        return true;
    }
    if (isNamedFunction(obj)) {
        std::string qualname = strAttr(obj, "__qualname__");
        if (qualname.empty()) return false;
        if (isLocalName(qualname)) {  // not found by name: its name and where it was defined
            PyObject* site = definitionSite(obj);
            if (!site) {
                PyErr_Clear();
                return false;
            }
            w.beginObject(moduleOf(obj), qualname, ObjectForm::Local, false);
            enc.push(site);
            Py_DECREF(site);
            return true;
        }
        w.reference(RefKind::Function, moduleOf(obj), qualname);
        return true;
    }
    if (isMethodDescriptor(obj)) {
        PyObject* owner = reinterpret_cast<PyObject*>(PyDescr_TYPE(obj));
        std::string qualname = strAttr(obj, "__qualname__");
        if (qualname.empty()) return false;
        w.reference(RefKind::Function, moduleOf(owner), qualname);
        return true;
    }
    if (int64_t seen = enc.memoFind(obj); seen >= 0) {
        w.backref(static_cast<uint64_t>(seen));
        return true;
    }
    if (CallableParts parts; callableParts(obj, parts)) {
        bool memo;
        enc.writeBackrefOrMemo(w, obj, memo);  // not seen before (checked above): decides `memo`
        w.beginObject(parts.module, parts.qualname, parts.form, memo);
        enc.push(parts.state);
        Py_DECREF(parts.state);
        return true;
    }
    const TypePlan& plan = planFor(Py_TYPE(obj));
    if (plan.kind == TypePlan::Pickle) return false;
    PyObject* state = nullptr;
    ObjectForm form = ObjectForm::Attrs;
    switch (plan.kind) {
        case TypePlan::Attrs: state = attrsState(obj, plan); break;
        case TypePlan::NamedTuple: state = namedTupleState(obj, plan); form = ObjectForm::NamedTuple; break;
        case TypePlan::Enum: state = enumState(obj); form = ObjectForm::Enum; break;
        case TypePlan::State:
            state = PyObject_CallMethod(obj, "__getstate__", nullptr);
            form = ObjectForm::State;
            break;
        case TypePlan::Pickle: break;
    }
    if (!state) {
        PyErr_Clear();
        return false;
    }
    bool memo;
    enc.writeBackrefOrMemo(w, obj, memo);  // not seen before (checked above): decides `memo`
    w.beginObject(plan.module, plan.qualname, form, memo);
    enc.pushState(state);
    Py_DECREF(state);
    return true;
}

}  // namespace callmonitor::py
