// Python callables the extension calls back into (set once by the
// callmonitor package at import through _core._install_hooks). Strong refs.
#pragma once

#include <Python.h>

namespace callmonitor::py {

struct Hooks {
    PyObject* registryLookup = nullptr;   // type -> (kind, name, handler) | None
    PyObject* legacySave = nullptr;       // (cls, obj, target, absdir) -> state dict
    PyObject* describeFunction = nullptr; // func -> dict (see callmonitor/capture/describe.py)
    PyObject* openSession = nullptr;      // () -> dict (see callmonitor/capture/session.py)
    PyObject* threadName = nullptr;       // () -> str
    PyObject* makeUnrestorable = nullptr; // (type_name, repr, reason) -> Unrestorable
    PyObject* decodeHandler = nullptr;    // (name, memoryview) -> obj
    PyObject* legacyLoad = nullptr;       // (name, absdir, state) -> obj
    PyObject* pickleDumps = nullptr;      // pickle.dumps
    PyObject* pickleLoads = nullptr;      // pickle.loads
    PyObject* warn = nullptr;             // (message) -> None, prints "callmonitor: warning: ..."
    PyObject* formatTraceback = nullptr;  // (exception) -> str (see callmonitor/capture/raised.py)

    static Hooks& get();
};

}  // namespace callmonitor::py
