#include "capture/handler_table.h"

namespace callmonitor::py {

HandlerTable& HandlerTable::instance() {
    static auto* t = new HandlerTable();  // never destroyed: used until interpreter exit
    return *t;
}

void HandlerTable::setLookup(PyObject* lookup) {
    clear();
    Py_XINCREF(lookup);
    Py_XSETREF(lookup_, lookup);
}

void HandlerTable::clear() {
    auto old = std::move(cache_);
    cache_.clear();
    for (auto& [type, e] : old) {
        Py_XDECREF(e.handler);
        Py_DECREF(reinterpret_cast<PyObject*>(type));
    }
}

const HandlerEntry& HandlerTable::find(PyTypeObject* type) {
    static const HandlerEntry none;
    if (!lookup_) return none;
    auto it = cache_.find(type);
    if (it != cache_.end()) return it->second;
    HandlerEntry e;
    PyObject* r = PyObject_CallOneArg(lookup_, reinterpret_cast<PyObject*>(type));
    if (!r) {
        PyErr_Clear();
    } else if (r != Py_None && PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 3) {
        const char* kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 0));
        const char* name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 1));
        if (kind && name) {
            std::string k(kind);
            e.kind = k == "native" ? HandlerEntry::Native
                   : k == "codec"  ? HandlerEntry::Codec
                   : k == "legacy" ? HandlerEntry::Legacy
                                   : HandlerEntry::None;
            e.name = name;
            e.handler = PyTuple_GET_ITEM(r, 2);
            Py_INCREF(e.handler);
        } else {
            PyErr_Clear();
        }
    }
    Py_XDECREF(r);
    Py_INCREF(reinterpret_cast<PyObject*>(type));
    return cache_.emplace(type, std::move(e)).first->second;
}

}  // namespace callmonitor::py
