// The capture state of one thread: scratch buffers reused call after call
// (no allocation per call once warm), and where the thread records — its
// writer and that writer's lane — in the current session.
//
// Lifetime: created at the thread's first intercepted call, freed when the
// thread ends (threadCaptureState() ties it to the thread's Python thread
// state, see thread_state.cpp), its lanes' calls handed to their writers first.
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "callmonitor/call_record.h"
#include "callmonitor/writer.h"
#include "capture/payload_slots.h"
#include "capture/py_encoder.h"

namespace callmonitor::py {

struct WriterSlot;

struct CaptureState {
    PyEncoder encoder;
    ByteBuffer record;   // the capture scratch: ValueWriter and call_record.h append to it inline
    ByteBuffer outcome;
    std::string scratch;                   // an exception's args value
    size_t headSize = 0;                   // the last header's size: the room left for the next
    ExtFields ext;
    std::vector<Payload> inputPayloads, resultPayloads;
    InputSlots inputs;                     // the inputs' slots, for the result (sameAsInput)
    std::vector<std::shared_ptr<const void>> keep;  // input copies kept alive until the outcome
    // Stops capture of calls made by capture itself (a handler or __reduce__
    // calling an intercepted function).
    bool busy = false;
    // Unique per state, never reused (a call finished on another thread
    // tells by it whether its entry's lane is this thread's).
    uint64_t serial = 0;

    // Where this thread records: valid while route == Recorder::route().
    uint64_t route = 0;
    WriterSlot* sink = nullptr;            // the writer of this thread
    Writer::Lane* lane = nullptr;          // this thread's lane of sink's writer
    // This thread's index in the session (valid while threadEpoch == Recorder::epoch()).
    uint64_t threadEpoch = 0;
    uint32_t thread = 0;
    // The lanes this thread opened in session laneEpoch, one per writer it
    // recorded into (closed when the thread ends).
    uint64_t laneEpoch = 0;
    std::vector<std::pair<WriterSlot*, Writer::Lane*>> lanes;
    // The writer this thread declared (Settings().enable_multi_threading in
    // a thread other than the main one), e.g. "tid-3"; "" follows the process.
    std::string declared;
};

// initial-exec: a plain TLS slot, no __tls_get_addr call on the hot path.
// __thread (not thread_local): a pointer needs no constructor, so no TLS wrapper call.
extern __thread CaptureState* t_captureState __attribute__((tls_model("initial-exec")));

// The calling thread's state, created at its first use (needs the GIL).
CaptureState* newCaptureState();
inline CaptureState& threadCaptureState() {
    CaptureState* s = t_captureState;
    return __builtin_expect(s != nullptr, 1) ? *s : *newCaptureState();
}

}  // namespace callmonitor::py
