// callmonitor._core.Interceptor: the C-level callable that @intercept returns.
// vectorcall on the hot path; a method descriptor (binds like a function);
// a __dict__ so functools.update_wrapper can copy __name__, __doc__,
// __wrapped__, ...; pickles by reference (module + qualname) like a function.
#pragma once

#include <Python.h>

#include "capture/call_capture.h"

namespace callmonitor::py {

// Adds the type to `module`. Returns -1 with an error set on failure.
int addInterceptorType(PyObject* module);

// For callmonitor.watch's subtype (caller_filter.cpp): the Interceptor type,
// and the callable an Interceptor wraps (borrowed).
PyTypeObject* interceptorType();
PyObject* interceptorTarget(PyObject* interceptor);
// What the capture step keeps about an Interceptor's callable (for front
// ends built on the type: the Watched vectorcall, the coroutine and
// generator wrappers).
CapturedFunction& interceptorCapture(PyObject* interceptor);

}  // namespace callmonitor::py
