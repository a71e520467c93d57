// What `callmonitor.watch` adds to an Interceptor (callmonitor/trace/): a
// WatchOptions object shared by every callable one watch wraps. It decides,
// in C and before any capture work, whether the calling module is one whose
// calls are recorded, and whether inputs are stored as summaries.
#pragma once

#include <Python.h>

#include <cstddef>

namespace callmonitor::py {

// True when the call being made now (the caller is the innermost Python
// frame) is to be recorded under `watch` (a WatchOptions). Cached per
// caller globals dict: a repeated caller costs one pointer compare.
// `callerDepth`: Python frames between the caller and here (1 for the
// coroutine / generator wrappers of call_iteration.cpp, whose own frame is
// the innermost).
bool watchRecordsThisCall(PyObject* watch, int callerDepth = 0);

// The vectorcall of an Interceptor made with a watch (the Watched subtype):
// the caller filter, before any capture work (<= +50 ns when filtered out),
// then the capture step.
PyObject* watchedVectorcall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames);

// The inputs to encode for a call: the arguments themselves, or their
// summaries when the watch asks for values="summary" (new references,
// released by the destructor). Never fails: a summary that cannot be made
// is the argument itself.
class WatchInputs {
public:
    // Inline: an @intercept without a watch (every call) pays one compare.
    WatchInputs(PyObject* watch, PyObject* const* args, size_t nargs, PyObject* kwnames) : args_(args) {
        if (__builtin_expect(watch != nullptr, 0)) summarize(watch, nargs, kwnames);
    }
    ~WatchInputs() {
        if (__builtin_expect(owned_ != nullptr, 0)) release();
    }
    WatchInputs(const WatchInputs&) = delete;
    WatchInputs& operator=(const WatchInputs&) = delete;
    PyObject* const* args() const { return args_; }

private:
    void summarize(PyObject* watch, size_t nargs, PyObject* kwnames);
    void release();

    PyObject* const* args_;
    PyObject** owned_ = nullptr;
    size_t count_ = 0;
};

bool isWatchOptions(PyObject* o);

int addWatchTypes(PyObject* module);

}  // namespace callmonitor::py
