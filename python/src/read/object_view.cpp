#include "read/object_view.h"

#include "hooks.h"
#include "read/py_decoder.h"

namespace callmonitor::py {
namespace {

PyObject* str(std::string_view s) { return PyUnicode_DecodeUTF8(s.data(), (Py_ssize_t)s.size(), "surrogatepass"); }

PyObject* imports(const DecodeOptions& opt) {
    static PyObject* none = PyTuple_New(0);  // kept until exit
    PyObject* t = opt.allowImport ? opt.allowImport : none;
    Py_INCREF(t);
    return t;
}

// hook(*args, allow_pickle, allow_import), consuming the references in `args`.
PyObject* call(PyObject* hook, std::initializer_list<PyObject*> args, const DecodeOptions& opt) {
    PyObject* tuple = PyTuple_New(Py_ssize_t(args.size() + 2));
    bool ok = tuple != nullptr;
    Py_ssize_t i = 0;
    for (PyObject* a : args) {
        ok = ok && a;
        if (tuple && a) PyTuple_SET_ITEM(tuple, i, a);
        else Py_XDECREF(a);
        ++i;
    }
    if (!ok) {
        Py_XDECREF(tuple);
        return nullptr;
    }
    PyTuple_SET_ITEM(tuple, i, PyBool_FromLong(opt.allowPickle));
    PyTuple_SET_ITEM(tuple, i + 1, imports(opt));
    PyObject* r = PyObject_Call(hook, tuple, nullptr);
    Py_DECREF(tuple);
    return r;
}

}  // namespace

PyObject* objectShell(const Token& t, const DecodeOptions& opt) {
    return call(Hooks::get().objectBegin, {str(t.name), str(t.extra), PyLong_FromLongLong(t.integer)}, opt);
}

PyObject* objectFinish(PyObject* shell, std::string_view module, std::string_view qualname, uint8_t form,
                       PyObject* state, const DecodeOptions& opt) {
    Py_INCREF(shell);
    Py_INCREF(state);
    return call(Hooks::get().objectFinish, {shell, str(module), str(qualname), PyLong_FromLong(form), state}, opt);
}

PyObject* resolveReference(const Token& t, const DecodeOptions& opt) {
    return call(Hooks::get().resolveRef, {PyLong_FromLongLong(t.integer), str(t.name), str(t.extra)}, opt);
}

PyObject* loadPickled(const Token& t, const DecodeOptions& opt) {
    return call(Hooks::get().loadPickle,
                {str(t.name), PyBytes_FromStringAndSize(t.data.data(), (Py_ssize_t)t.data.size())}, opt);
}

PyObject* unrestorableFromError(std::string_view typeName, const char* what) {
    if (!PyErr_ExceptionMatches(PyExc_Exception)) return nullptr;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject* r = value ? PyObject_CallFunction(Hooks::get().restoreFailed, "NsO", str(typeName), what, value)
                        : nullptr;
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return r;
}

}  // namespace callmonitor::py
