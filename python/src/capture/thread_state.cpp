#include "capture/thread_state.h"

#include "capture/recorder.h"

namespace callmonitor::py {

__thread CaptureState* t_captureState __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

// Ties a CaptureState to the end of its thread.
//
// Why not a C++ thread_local destructor: it runs at pthread exit, after the
// thread's Python state is gone and without the GIL, while the Recorder's
// tables (which writers exist, in which session) are guarded by the GIL and
// another thread may be closing those writers at that moment. Instead a
// small object holding the state is put into the thread's Python
// thread-state dict (PyThreadState_GetDict). CPython clears that dict in
// PyThreadState_Clear when the thread ends — for threading's threads at the
// end of their run, for a C thread at its outermost PyGILState_Release —
// on that very thread with the GIL held, before it lets the GIL go for the
// last time. So the release is serialised with close(), flush() and every
// other thread's capture, it can hand the thread's lanes to their writers
// (whose thread drains them under its own lock), and nothing waits for it.
//
// A dict cleared by another thread (the forking thread clearing the
// vanished threads of a forked child; the main thread clearing daemon
// threads at exit) leaves the state alone: its lanes may belong to a writer
// whose lock died with the parent's writer thread, or the thread may still
// run C code. That state stays allocated, as every state did before.
struct ThreadEndObject {
    PyObject_HEAD
    CaptureState* state;
};

void threadEndDealloc(PyObject* self) {
    CaptureState* st = reinterpret_cast<ThreadEndObject*>(self)->state;
    if (st && st == t_captureState && !st->busy) {
        Recorder::instance().releaseThread(*st);
        t_captureState = nullptr;
        delete st;
    }
    Py_TYPE(self)->tp_free(self);
}

PyTypeObject* threadEndType() {
    static PyTypeObject type = [] {
        PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
        t.tp_name = "callmonitor._core._ThreadCaptureState";
        t.tp_basicsize = sizeof(ThreadEndObject);
        t.tp_flags = Py_TPFLAGS_DEFAULT;
        t.tp_doc = "Frees callmonitor's capture state of a thread when the thread ends.";
        t.tp_dealloc = threadEndDealloc;
        return t;
    }();
    static bool ready = PyType_Ready(&type) == 0;
    return ready ? &type : nullptr;
}

// Key of the holder in the thread-state dict.
constexpr const char* kThreadStateKey = "callmonitor.capture_state";

void tieToThreadEnd(CaptureState* st) {
    PyObject* dict = PyThreadState_GetDict();  // borrowed; null when there is none
    PyTypeObject* type = threadEndType();
    if (!dict || !type) {
        PyErr_Clear();
        return;  // kept for the thread's life
    }
    auto* holder = PyObject_New(ThreadEndObject, type);
    if (!holder) {
        PyErr_Clear();
        return;
    }
    holder->state = st;
    if (PyDict_SetItemString(dict, kThreadStateKey, reinterpret_cast<PyObject*>(holder)) < 0) {
        holder->state = nullptr;  // not tied: kept for the thread's life
        PyErr_Clear();
    }
    Py_DECREF(holder);
}

}  // namespace

__attribute__((noinline)) CaptureState* newCaptureState() {
    static uint64_t serials = 0;  // the GIL is held
    auto* st = new CaptureState();
    st->serial = ++serials;
    t_captureState = st;
    tieToThreadEnd(st);
    return st;
}

}  // namespace callmonitor::py
