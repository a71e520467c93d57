// The hand-over between a function rewritten by callmonitor.inner (its
// InnerProfile, made with attach=True) and the Interceptor around it
// (@intercept(inner=True)), in one thread:
//
//   Interceptor: clearEndedInnerCalls(); call the function
//     rewritten function's `finally`: InnerProfile.end(buf) encodes buf here
//   Interceptor: takeEndedInnerCalls() -> the bytes for the outcome's
//     InnerCalls ext field
//
// An inner=True function called inside another takes its own bytes before
// the outer one's end() runs, so the slot always holds the invocation that
// ended last. GIL held throughout.
#pragma once

#include <Python.h>

#include <string>

namespace callmonitor::py {

// Adds InnerProfile and InnerCalls to `module`. -1 with an error set on failure.
int addInnerCallTypes(PyObject* module);

void clearEndedInnerCalls();
// The encoded inner calls (include/callmonitor/inner_calls.h) of the attached
// invocation that ended last in this thread, and (a new reference) its
// profile's per-site resolved names list (None until a site's first call).
// False when none ended since clearEndedInnerCalls().
bool takeEndedInnerCalls(std::string& bytes, PyObject*& names);

}  // namespace callmonitor::py
