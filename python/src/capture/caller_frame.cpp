#include "capture/caller_frame.h"

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
// CPython 3.11's interpreter frames (Debian ships the internal headers).
#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE
#define CALLMONITOR_FRAME_311 1
#else
#include <frameobject.h>
#endif

namespace callmonitor::py {

bool currentCallerFrame(CallerFrame& out) {
#if defined(CALLMONITOR_FRAME_311)
    PyThreadState* ts = PyThreadState_GET();
    _PyInterpreterFrame* f = ts->cframe->current_frame;
    if (f == nullptr) return false;
    out.code = reinterpret_cast<PyObject*>(f->f_code);
    out.globals = f->f_globals;
    // The CALL instruction (or one of its inline caches): fixed per call site.
    out.location = _PyInterpreterFrame_LASTI(f) * static_cast<int>(sizeof(_Py_CODEUNIT));
    return true;
#else
    PyFrameObject* f = PyEval_GetFrame();  // borrowed
    if (f == nullptr) return false;
    PyCodeObject* code = PyFrame_GetCode(f);  // new reference; the frame keeps it alive
    Py_DECREF(code);
    out.code = reinterpret_cast<PyObject*>(code);
    out.globals = PyEval_GetGlobals();
#if PY_VERSION_HEX >= 0x030B0000
    out.location = PyFrame_GetLasti(f);
#else
    out.location = PyFrame_GetLineNumber(f);
#endif
    return true;
#endif
}

bool callerFrameAbove(CallerFrame& out, int depth) {
#if defined(CALLMONITOR_FRAME_311)
    PyThreadState* ts = PyThreadState_GET();
    _PyInterpreterFrame* f = ts->cframe->current_frame;
    for (; f != nullptr && depth > 0; --depth) {
        f = f->previous;
        while (f != nullptr && _PyFrame_IsIncomplete(f)) f = f->previous;
    }
    if (f == nullptr) return false;
    out.code = reinterpret_cast<PyObject*>(f->f_code);
    out.globals = f->f_globals;
    out.location = _PyInterpreterFrame_LASTI(f) * static_cast<int>(sizeof(_Py_CODEUNIT));
    return true;
#else
    PyFrameObject* f = PyEval_GetFrame();  // borrowed
    for (; f != nullptr && depth > 0; --depth) {
        PyFrameObject* back = PyFrame_GetBack(f);  // new reference; the chain keeps it alive
        Py_XDECREF(back);
        f = back;
    }
    if (f == nullptr) return false;
    PyCodeObject* code = PyFrame_GetCode(f);  // new reference; the frame keeps it alive
    Py_DECREF(code);
    out.code = reinterpret_cast<PyObject*>(code);
#if PY_VERSION_HEX >= 0x030B0000
    PyObject* globals = PyFrame_GetGlobals(f);  // new reference; the frame keeps it alive
    Py_DECREF(globals);
    out.globals = globals;
    out.location = PyFrame_GetLasti(f);
#else
    out.globals = f->f_globals;
    out.location = PyFrame_GetLineNumber(f);
#endif
    return true;
#endif
}

int callerLine(const CallerFrame& frame) {
#if PY_VERSION_HEX >= 0x030B0000
    return PyCode_Addr2Line(reinterpret_cast<PyCodeObject*>(frame.code), frame.location);
#else
    return frame.location;
#endif
}

}  // namespace callmonitor::py
