// Threads Python did not create, entering Python the way a C library's
// callback does: PyGILState_Ensure, calls, PyGILState_Release. The outermost
// Release clears the thread's Python state, which is when callmonitor frees
// its capture state (capture/thread_state.cpp); these hooks let the tests
// check that, and that the calls carry the thread's own identity.
#include "foreign_threads.h"

#include <Python.h>
#include <pythread.h>

#include <thread>
#include <utility>
#include <vector>

namespace callmonitor::py {
namespace {

namespace pb = pybind11;

struct ThreadOutcome {
    unsigned long ident = 0;
    unsigned long nativeId = 0;
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;  // the first error, strong
};

// One foreign thread's life: it has no Python state until Ensure makes one.
void runForeign(PyObject* fn, int thread, int calls, ThreadOutcome& out) {
    PyGILState_STATE gil = PyGILState_Ensure();
    out.ident = PyThread_get_thread_ident();
    out.nativeId = PyThread_get_thread_native_id();
    for (int i = 0; i < calls && !out.type; ++i) {
        PyObject* r = PyObject_CallFunction(fn, "ii", thread, i);
        if (r) Py_DECREF(r);
        else PyErr_Fetch(&out.type, &out.value, &out.traceback);
    }
    PyGILState_Release(gil);
}

// Runs `threads` std::threads, each calling fn(thread, i) for i < calls; `width` of
// them at a time (started together, then joined with the GIL released). Returns
// [(ident, native_id)] per thread; re-raises the first error a call raised.
pb::list runInCThreads(pb::object fn, int threads, int calls, int width) {
    if (threads < 0 || calls < 0 || width < 1) throw pb::value_error("threads, calls >= 0 and width >= 1");
    std::vector<ThreadOutcome> outcomes(static_cast<size_t>(threads));
    {
        pb::gil_scoped_release released;
        for (int first = 0; first < threads; first += width) {
            std::vector<std::thread> running;
            for (int k = first; k < threads && k < first + width; ++k)
                running.emplace_back(runForeign, fn.ptr(), k, calls, std::ref(outcomes[static_cast<size_t>(k)]));
            for (auto& t : running) t.join();
        }
    }
    pb::list result;
    ThreadOutcome* failed = nullptr;
    for (auto& o : outcomes) {
        result.append(pb::make_tuple(o.ident, o.nativeId));
        if (o.type && !failed) {
            failed = &o;
        } else if (o.type) {
            Py_XDECREF(o.type);
            Py_XDECREF(o.value);
            Py_XDECREF(o.traceback);
        }
    }
    if (failed) {
        PyErr_Restore(failed->type, failed->value, failed->traceback);
        throw pb::error_already_set();
    }
    return result;
}

}  // namespace

void defineTestingHooks(pb::module_& m) {
    pb::module_ t = m.def_submodule("_testing", "Hooks for callmonitor's tests; not an API.");
    t.def("run_in_c_threads", &runInCThreads, pb::arg("fn"), pb::arg("threads"), pb::arg("calls"),
          pb::arg("width") = 1,
          "Calls fn(thread, i) for i < calls in each of `threads` C++ std::threads that enter Python "
          "with PyGILState_Ensure (as a C library's callback thread does), `width` at a time; "
          "returns [(ident, native_id)] per thread and re-raises the first error of a call.");
}

}  // namespace callmonitor::py
