#include "python_state_handler.h"

namespace callmonitor::py {

PythonStateHandler::PythonStateHandler(const char* name, const char* needs, const char* module, const char* source,
                                       const char* filename, std::initializer_list<const char*> kinds)
    : name_(name), needs_(needs), moduleName_(module), source_(source), filename_(filename),
      kinds_(kinds.begin(), kinds.end()) {}

PyObject* PythonStateHandler::module() {
    if (module_) return module_;
    PyObject* code = Py_CompileString(source_, filename_, Py_file_input);
    if (!code) return nullptr;
    PyObject* mod = PyImport_ExecCodeModuleEx(moduleName_, code, filename_);  // also in sys.modules
    Py_DECREF(code);
    if (!mod) return nullptr;
    module_ = mod;
    return module_;
}

PyObject* PythonStateHandler::function(const char* attr) {
    PyObject* mod = module();
    if (!mod) return nullptr;
    PyObject* f = PyObject_GetAttrString(mod, attr);
    if (!f) return nullptr;
    Py_DECREF(f);  // the module keeps it
    return f;
}

bool PythonStateHandler::takesType(PyTypeObject* type) {
    // No value of ours can exist before the program imported `needs`.
    PyObject* modules = PyImport_GetModuleDict();
    if (!PyDict_GetItemString(modules, needs_)) return false;
    PyObject* takes = function("takes");
    PyObject* r = takes ? PyObject_CallOneArg(takes, reinterpret_cast<PyObject*>(type)) : nullptr;
    bool yes = r && PyObject_IsTrue(r) == 1;
    Py_XDECREF(r);
    PyErr_Clear();
    return yes;
}

Encoded PythonStateHandler::encode(HandlerEncoder& cx, PyObject* obj) {
    if (cx.backref(obj)) return Encoded::Written;
    PyObject* stateOf = function("state");
    PyObject* r = stateOf ? PyObject_CallOneArg(stateOf, obj) : nullptr;
    if (!r) {
        // A value this handler did not foresee: pickle keeps it, as it did
        // before the handler existed.
        PyErr_Clear();
        return Encoded::Declined;
    }
    if (r == Py_None) {
        Py_DECREF(r);
        return Encoded::Declined;
    }
    const char* kind = PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 2 && PyUnicode_Check(PyTuple_GET_ITEM(r, 0))
                           ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 0))
                           : nullptr;
    if (!kind) {
        Py_DECREF(r);
        PyErr_Format(PyExc_TypeError, "built-in handler %s: state() must return (kind, state) or None", name_);
        return Encoded::Failed;
    }
    cx.writeState(kind, obj, PyTuple_GET_ITEM(r, 1));
    Py_DECREF(r);
    return Encoded::Written;
}

bool PythonStateHandler::restoresKind(std::string_view kind) const {
    for (const std::string& k : kinds_)
        if (kind.size() > k.size() && kind.substr(0, k.size()) == k) return true;
    return false;
}

PyObject* PythonStateHandler::restore(std::string_view kind, PyObject* state) {
    PyObject* restoreFn = function("restore");
    if (!restoreFn) return nullptr;
    PyObject* k = PyUnicode_FromStringAndSize(kind.data(), static_cast<Py_ssize_t>(kind.size()));
    if (!k) return nullptr;
    PyObject* r = PyObject_CallFunctionObjArgs(restoreFn, k, state, nullptr);
    Py_DECREF(k);
    return r;
}

}  // namespace callmonitor::py
