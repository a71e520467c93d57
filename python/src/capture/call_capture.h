// The capture step: the work of recording one call, in one place for every
// front end that records calls (the Interceptor's vectorcall, the Watched
// subtype callmonitor.watch places, the coroutine and generator wrappers of
// call_iteration.cpp; code-free tracing and inner-call wrapping next).
//
// A front end keeps one CapturedFunction per wrapped callable and, per call:
//
//     ActiveCall call;
//     switch (beginCall(fn, args, nargs, kwnames, call)) {
//     case CallStart::NotRecorded: return PyObject_Vectorcall(fn.func, ...);  // runs unrecorded
//     case CallStart::Refused: return nullptr;  // strict mode refused an argument: error set
//     case CallStart::Recording: break;
//     }
//     PyObject* result = PyObject_Vectorcall(fn.func, ...);  // the call itself
//     finishCall(call, result);  // result, or null with the raised exception set (kept set)
//
// (recordedVectorcall below is exactly that.) Every call begun is finished
// exactly once: finishReturned / finishRaised / finishUnfinished, or, as a
// last resort, ~ActiveCall (which records it as dropped). Everything runs with
// the GIL held; a call may finish on another thread than it began on (a
// generator resumed elsewhere): the outcome goes to the entry's lane.
//
// Where a capture policy decides (issue 9, capture_policy.*):
//  - before encoding, in beginCall once the invocation number is taken
//    (recorded calls keep their real numbers): record, drop (the call runs
//    unrecorded: NotRecorded), or record and hold the encoded entry
//    (EntryMode::Hold) instead of submitting it;
//  - in finish*, when the call has an outcome: a held entry is submitted with
//    the outcome or discarded (keep only raised calls, only slower-than).
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "callmonitor/call_record.h"
#include "callmonitor/format.h"
#include "callmonitor/payload.h"
#include "callmonitor/writer.h"
#include "capture/payload_slots.h"

namespace callmonitor::py {

class FunctionPolicy;

struct WriterSlot;  // capture/recorder.h: the writer a call's entry went to

// What the step keeps about one wrapped callable (lives inside the front
// end's object, which owns the references).
struct CapturedFunction {
    PyObject* func = nullptr;   // the callable whose calls are recorded
    PyObject* watch = nullptr;  // callmonitor.watch's WatchOptions (summaries), or null
    PyObject* owner = nullptr;  // the front end's object (borrowed): its __dict__ holds the function's
                                // own capture policy (callmonitor/capture/policy.py); null: `func`
    uint64_t epoch = 0;         // the session `fid` belongs to
    uint32_t fid = 0;
    // This front end's capture policy in session `epoch` (owned by the
    // Recorder; null: every call recorded in full). Two interceptors of one
    // function each have their own options (Recorder::policyFor).
    FunctionPolicy* policy = nullptr;
    int8_t captureResult = -1;  // -1: the session's setting; 0/1: this function's option
    int8_t strict = -1;
    bool recordYields = false;  // generators: record the values yielded (@intercept(yields=True))
    bool inner = false;         // @intercept(inner=True): func is rewritten by callmonitor.inner (attach=True)
    bool onlyWithOutput = false;  // inner only: recorded only when an output was chosen (flat_profile)
};

// The input slots a result may repeat (sameAsInput), with their captured
// copies kept alive until the outcome.
struct HeldInputs {
    InputSlots slots;
    std::vector<std::shared_ptr<const void>> keep;
};

// An encoded entry not yet submitted (a policy deciding after the call).
struct HeldEntry {
    std::string record;
    std::vector<Payload> payloads;
};

enum class EntryMode : uint8_t {
    Submit,  // submitted before the call runs (a crash leaves it Pending on disk)
    Hold,    // kept in the ActiveCall; submitted or discarded when the call ends
};

// A call begun and not yet finished. Movable (a generator's wrapper keeps it
// across resumptions), not copyable.
class ActiveCall {
public:
    ActiveCall() = default;
    ActiveCall(ActiveCall&&) = default;
    ActiveCall& operator=(ActiveCall&&) = default;
    ActiveCall(const ActiveCall&) = delete;
    ActiveCall& operator=(const ActiveCall&) = delete;
    // A call begun and never finished is recorded as such (finishUnfinished).
    ~ActiveCall() {
        if (__builtin_expect(fn != nullptr, 0)) dropUnfinished();
    }

    bool active() const { return fn != nullptr; }

    format::CallKey key{};
    uint64_t start = 0;            // ns on the recorder's clock once the entry was encoded: the header's start
    uint64_t epoch = 0;            // the session the entry belongs to
    WriterSlot* sink = nullptr;    // the entry's writer (valid while `epoch` is the session's)
    Writer::Lane* lane = nullptr;  // the entry's lane: the outcome follows it there from the same thread
    uint64_t owner = 0;            // CaptureState::serial of the thread that began the call
    CapturedFunction* fn = nullptr;  // null: nothing to finish
    std::optional<HeldInputs> inputs;  // only when the inputs have payload slots
    std::unique_ptr<HeldEntry> entry;  // EntryMode::Hold only

private:
    void dropUnfinished();
};

enum class CallStart : uint8_t {
    Recording,    // `call` is active: run the call, then finish it
    NotRecorded,  // run the call unrecorded (no session, capture inside capture, a policy drop)
    Refused,      // strict mode refused an argument: a CaptureError is set; do not run the call
};

// Begins recording a call of fn.func with vectorcall-style arguments: opens
// the session and registers the function and this thread when needed, takes
// the invocation number, encodes the inputs (copied now: a later mutation of
// an argument cannot change what was recorded), starts the call's clock
// (so capturing the inputs is not in its duration) and submits the entry.
// `callerDepth`: Python frames between the call site and this function (0
// for a C front end, which has no frame; 1 for a Python wrapper calling in).
CallStart beginCall(CapturedFunction& fn, PyObject* const* args, size_t nargs, PyObject* kwnames,
                    ActiveCall& call, int callerDepth = 0);

// What a front end adds to an outcome: ext fields (Yields, Yielded, Closed)
// and the payloads the values in those fields name (result slots 0..n-1; the
// result value's own slots follow them).
struct OutcomeExtra {
    ExtFields fields;
    std::vector<Payload> payloads;
};

// Finishes `call` (no-op when not active). finishReturned: `result`
// (borrowed) was returned. finishRaised: the exception is set, and is still
// set, unchanged, afterwards. finishUnfinished: the call ended without a
// result (a generator closed before its end): outcome NotRecorded.
// Capture failures are counted and logged, never raised.
void finishReturned(ActiveCall& call, PyObject* result, OutcomeExtra* extra = nullptr);
void finishRaised(ActiveCall& call, OutcomeExtra* extra = nullptr);
void finishUnfinished(ActiveCall& call, OutcomeExtra* extra = nullptr);
inline void finishCall(ActiveCall& call, PyObject* result) {
    if (result) finishReturned(call, result);
    else finishRaised(call);
}

// Encodes `value` (a generator's yielded item) as one value into `out`, its
// large parts as payloads appended to extra.payloads (result slots, so the
// result value's follow them) and an input returned as is as sameAsInput.
// Returns false, with nothing appended, when the call is not active or the
// value could not be captured (counted and logged, never raised).
bool encodeOutcomeValue(ActiveCall& call, PyObject* value, std::string& out, OutcomeExtra& extra);

// The vectorcall of a recording front end: the call through the step, i.e.
//     ActiveCall call;
//     switch (beginCall(fn, args, PyVectorcall_NARGS(nargsf), kwnames, call)) {
//     case CallStart::Recording: break;
//     case CallStart::NotRecorded: return PyObject_Vectorcall(fn.func, args, nargsf, kwnames);
//     case CallStart::Refused: return nullptr;
//     }
//     PyObject* result = PyObject_Vectorcall(fn.func, args, nargsf, kwnames);
//     finishCall(call, result);
//     return result;
// compiled as one function (the hot path of every @intercept call).
PyObject* recordedVectorcall(CapturedFunction& fn, PyObject* const* args, size_t nargsf, PyObject* kwnames);

// Inner calls with their arguments (@intercept(inner=True, inner_args=True)):
// while a recording inner=True call runs on this thread, its key (valid:
// false otherwise). A call made inside it through recordInnerCall is a
// call record of its own (fn: one per call site, fn.func the callee) whose
// entry names the outer call in its Parent field; the capture policies
// apply to it as to any call.
struct OuterCall {
    format::CallKey key{};
    uint64_t epoch = 0;
    bool valid = false;
};
// selfRecording: fn.func is an Interceptor (it records the call itself; only
// the Parent comes from here).
OuterCall currentOuterCall();
// inner=True coroutines and generators (call_iteration.cpp): the inner calls
// of the invocation that just ended on this thread, into `extra` (false: none).
bool takeInnerCallsInto(const CapturedFunction& fn, OutcomeExtra& extra);
PyObject* recordInnerCall(CapturedFunction& fn, const OuterCall& outer, PyObject* const* args, size_t nargsf,
                          PyObject* kwnames, bool selfRecording);

}  // namespace callmonitor::py
