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
    // Reading recorded objects, references and pickles (callmonitor/read/objects.py;
    // trust = allow_pickle: bool, allow_import: tuple of module names):
    PyObject* objectBegin = nullptr;      // (module, qualname, form, *trust) -> the object's shell
    PyObject* objectFinish = nullptr;     // (shell, module, qualname, form, state, *trust) -> object
    PyObject* resolveRef = nullptr;       // (kind, module, qualname, *trust) -> object | Unrestorable
    PyObject* loadPickle = nullptr;       // (type name, bytes, *trust) -> object | Unrestorable
    PyObject* restoreFailed = nullptr;    // (type name, what, exception) -> Unrestorable
    PyObject* warn = nullptr;             // (message) -> None, prints "callmonitor: warning: ..."
    PyObject* formatTraceback = nullptr;  // (exception) -> str (see callmonitor/capture/raised.py)

    static Hooks& get();
};

}  // namespace callmonitor::py
