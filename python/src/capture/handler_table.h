// The capture side's view of callmonitor.REGISTRY: which handler, if any,
// encodes a value of a given type. The Python registry owns the truth; this
// table caches its answers per type and is cleared whenever it changes.
#pragma once

#include <Python.h>

#include <string>
#include <unordered_map>

namespace callmonitor::py {

struct HandlerEntry {
    enum Kind { None, Native, Codec, Legacy } kind = None;
    PyObject* handler = nullptr;   // Codec: handler instance; Legacy: handler class (strong refs)
    std::string name;              // "module.qualname" of the handler class
};

class HandlerTable {
public:
    static HandlerTable& instance();
    // `lookup` is callmonitor's Python function type -> (kind, name, handler) or None.
    void setLookup(PyObject* lookup);
    void clear();
    // Borrowed entry for `type`; kind None when no handler applies. Never
    // raises: a failing lookup counts as no handler.
    const HandlerEntry& find(PyTypeObject* type);
    bool empty() const { return lookup_ == nullptr; }

private:
    PyObject* lookup_ = nullptr;
    std::unordered_map<PyTypeObject*, HandlerEntry> cache_;  // holds a reference to each type
};

}  // namespace callmonitor::py
