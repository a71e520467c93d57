// The calling code location of an intercepted call: the innermost Python
// frame of the current thread (the interceptor is C and has no frame of its
// own). On CPython 3.11 it is read from the interpreter's frame struct (no
// frame object is created: a few loads); elsewhere through the public frame
// API, which materialises a frame object.
#pragma once

#include <Python.h>

namespace callmonitor::py {

struct CallerFrame {
    PyObject* code = nullptr;     // borrowed: the calling frame's code object
    PyObject* globals = nullptr;  // borrowed: its globals (the caller's module)
    // Where in `code` the call is: the instruction's byte offset (3.11+) or,
    // before 3.11, the line. The same for every call made from one call site.
    int location = 0;
};

// False when no Python frame is running (a call made from C without one).
bool currentCallerFrame(CallerFrame& out);
// The frame `depth` frames above the innermost (1: the caller of a Python
// wrapper whose own frame is the innermost); false when there is none.
bool callerFrameAbove(CallerFrame& out, int depth);

// The source line of `frame.location` in `frame.code` (-1 when unknown).
int callerLine(const CallerFrame& frame);

}  // namespace callmonitor::py
