#include "capture/call_capture.h"
#include "capture/inner_calls.h"

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "callmonitor/byte_buffer.h"
#include "callmonitor/value_writer.h"
#include "capture/caller_filter.h"
#include "capture/py_encoder.h"
#include "capture/recorder.h"
#include "capture/thread_state.h"
#include "hooks.h"

namespace callmonitor::py {
namespace {

// Counts what an encoding produced into the call's writer, and logs (once
// per process) a failing handler.
inline void account(Recorder& rec, Writer& writer, const EncodeCounts& counts) {
    if (__builtin_expect(counts.opaque | counts.pickled | counts.errors, 0) == 0) return;
    if (counts.opaque) writer.countOpaque(counts.opaque);
    if (counts.pickled) writer.countPickled(counts.pickled);
    if (counts.errors) rec.captureError(counts.firstError.c_str());
}

// The calling thread's capture state (capture/thread_state.h: its scratch,
// its writer and lane; freed when the thread ends).
inline CaptureState& threadState() { return threadCaptureState(); }

struct BusyGuard {
    explicit BusyGuard(CaptureState& s) : s_(s) { s_.busy = true; }
    ~BusyGuard() { s_.busy = false; }
    CaptureState& s_;
};

// Blocks (GIL released) while the writer's buffer is over its bound.
void waitForRoom(Writer& writer) {
    if (writer.hasRoom()) return;
    Py_BEGIN_ALLOW_THREADS
    writer.waitForRoom();
    Py_END_ALLOW_THREADS
}

// The bytes detail::putVarint writes for v (ids below 128, the common case, at once).
inline size_t varintSize(uint64_t v) {
    if (__builtin_expect(v < 0x80, 1)) return 1;
    return (70 - static_cast<size_t>(__builtin_clzll(v))) / 7;
}

// Scratch buffers are reused call after call; one huge call must not pin its size.
template <class Buffer> inline void releaseIfHuge(Buffer& buffer) {
    constexpr size_t kKeepBytes = size_t(4) << 20;
    if (__builtin_expect(buffer.capacity() > kKeepBytes, 0)) Buffer().swap(buffer);
}

// Keeps an input copy alive past submitEntry when the Payload shares its
// bytes (Payload::data a shared_ptr); returns them, or null when it cannot.
template <class Data>
const uint8_t* keepAlive(const Data& data, std::vector<std::shared_ptr<const void>>& keep) {
    if constexpr (std::is_copy_constructible_v<Data>) {
        keep.emplace_back(data, data.get());
        return reinterpret_cast<const uint8_t*>(data.get());
    } else {
        (void)data;
        (void)keep;
        return nullptr;
    }
}

std::string exceptionTypeName(PyObject* type) {
    auto* t = reinterpret_cast<PyTypeObject*>(type);
    PyObject* mod = PyObject_GetAttrString(type, "__module__");
    std::string out;
    if (mod && PyUnicode_Check(mod) && PyUnicode_AsUTF8(mod) && std::string(PyUnicode_AsUTF8(mod)) != "builtins") {
        out = PyUnicode_AsUTF8(mod);
        out += ".";
    }
    Py_XDECREF(mod);
    PyObject* q = PyObject_GetAttrString(type, "__qualname__");
    out += (q && PyUnicode_Check(q) && PyUnicode_AsUTF8(q)) ? PyUnicode_AsUTF8(q) : t->tp_name;
    Py_XDECREF(q);
    PyErr_Clear();
    return out;
}

// The outcome ext of a raised call: the formatted traceback (bounded by
// callmonitor/capture/raised.py) and the exception's args as a value. Runs
// Python code: the caller holds the busy guard and has fetched the error.
void raisedExt(Recorder& rec, Writer& writer, CaptureState& st, PyObject* value, PyObject* tb) {
    st.ext.clear();
    if (!value || !PyExceptionInstance_Check(value)) return;
    if (tb) PyException_SetTraceback(value, tb);  // what `except` would see
    if (PyObject* hook = Hooks::get().formatTraceback) {
        PyObject* text = PyObject_CallOneArg(hook, value);
        Py_ssize_t n;
        const char* c = text && PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : nullptr;
        if (c) st.ext.addBytes(format::ExtTag::Traceback, std::string_view(c, static_cast<size_t>(n)));
        Py_XDECREF(text);
        PyErr_Clear();
    }
    PyObject* args = reinterpret_cast<PyBaseExceptionObject*>(value)->args;
    if (args) {
        st.scratch.clear();
        ValueWriter w(st.scratch);
        EncodeOptions opt;  // inline, never strict
        EncodeCounts counts;
        st.encoder.encode(w, args, opt, counts);
        account(rec, writer, counts);
        st.ext.addBytes(format::ExtTag::ExceptionArgs, st.scratch);
        releaseIfHuge(st.scratch);
    }
}

// Registers the function in the session, routes this thread to its writer
// (opening it at its first call) and registers the function there. False:
// the call runs unrecorded. Runs Python code (describing the function,
// opening a writer, naming the thread), which must not record itself.
__attribute__((noinline)) bool prepare(Recorder& rec, CaptureState& st, CapturedFunction& fn) {
    BusyGuard busy(st);
    // The thread's writer first: opening the session's first one sets up the
    // session (its policy seed and ledger) that a function's policy belongs to.
    if (st.route != rec.routeEpoch() || !st.sink->live()) {
        if (!rec.route(st)) return false;
    }
    if (fn.epoch != rec.epoch()) {
        uint32_t fid;
        if (!rec.functionId(fn.func, fid)) return false;
        fn.fid = fid;
        fn.epoch = rec.epoch();
        fn.policy = rec.policyFor(fid, fn.owner ? fn.owner : fn.func);
    }
    // Python ran (describing the function, resolving its policy): a close()
    // meanwhile ends this thread's writer; this call is then not recorded.
    if (fn.epoch != rec.epoch() || st.route != rec.routeEpoch() || !st.sink || !st.sink->live()) return false;
    if (!st.sink->knows(fn.fid)) rec.registerIn(*st.sink, fn.fid);
    return true;
}

// The parent of the entry being encoded (recordInnerCall), or null.
// __thread, initial-exec: a plain TLS load on every recorded call (no __tls_get_addr).
__thread const format::CallKey* t_entryParent __attribute__((tls_model("initial-exec"))) = nullptr;
// While an inner=True call runs on this thread: its key (recordInnerCall's parent).
thread_local OuterCall t_outer;

// The caller's encoded entry tail (ext area, then the Pending byte) with a
// Parent field after its fields.
void appendTailWithParent(ByteBuffer& out, const Recorder::Caller& caller, const format::CallKey& parent) {
    const char* p = caller.tail;
    const char* end = p + caller.tailSize;
    const uint64_t n = detail::readExtVarint(p, end);
    ExtFields ext;
    forEachExtField(std::string_view(p, static_cast<size_t>(n)),
                    [&](uint64_t tag, std::string_view bytes) { ext.addBytes(static_cast<uint32_t>(tag), bytes); });
    ext.addParent(parent);
    appendExt(out, ext);
    out.push_back(*(end - 1));  // Pending
}

// Encodes the entry of a call about to run and submits it (or, EntryMode::Hold,
// keeps it in `call`). False with an error set: strict mode refused an argument.
// Inlined into begin(): a call and its ten arguments cost ~25 instructions per
// recorded call (bench/README.md).
__attribute__((always_inline)) inline bool recordEntry(Recorder& rec, CaptureState& st, CapturedFunction& fn, const format::CallKey& key,
                 const Recorder::Caller& caller, PyObject* const* args, size_t nargs,
                 PyObject* kwnames, EntryMode mode, ActiveCall& call) {
    st.inputPayloads.clear();
    st.inputs.clear();
    st.keep.clear();
    WriterSlot& sink = *st.sink;
    const uint64_t epoch = rec.epoch();
    // The header holds the start, known only once the inputs are encoded:
    // room for it first (the last header's size), filled in below. The last
    // record's own header is that room, when the buffer still holds it.
    st.record.resize(st.headSize);  // shrinks to the last header, or grows with zeros
    EncodeOptions opt;
    opt.strict = fn.strict < 0 ? sink.settings.strict : fn.strict != 0;
    opt.payloads.payloads = &st.inputPayloads;
    opt.payloads.sources = &st.inputs;
    opt.writerDir = &sink.directory;
    opt.functionDir = &rec.functionDirName(fn.fid);
    opt.invocation = key.invocation;
    opt.maxBytes = policyMaxBytes(fn.policy);  // max_bytes=
    EncodeCounts counts;
    bool encoded;
    {
        BusyGuard busy(st);
        ValueWriter w(st.record);
        WatchInputs recorded(fn.watch, args, nargs, kwnames);
        PolicyInputs stored(fn.policy, recorded.args(), nargs, kwnames);  // exclude=
        encoded = st.encoder.encodeInputs(w, stored.args(), nargs, kwnames, opt, counts);
    }
    if (!encoded) return false;  // strict mode: the CaptureError is set
    // A handler ran Python and another thread closed the session: `sink` is
    // gone; the call runs unrecorded (finish() skips its outcome likewise).
    if (__builtin_expect(epoch != rec.epoch(), 0)) return true;
    // The call's own time starts now: copying its inputs is not part of it.
    call.start = rec.nowNs();
    const size_t headSize = varintSize(call.start) + varintSize(st.thread) + varintSize(caller.module);
    if (__builtin_expect(headSize != st.headSize, 0)) {  // its varints changed length (a new thread or caller id)
        const size_t body = st.record.size() - st.headSize;
        if (headSize > st.headSize) st.record.resize(headSize + body);
        std::memmove(st.record.data() + headSize, st.record.data() + st.headSize, body);
        st.record.resize(headSize + body);
        st.headSize = headSize;
    }
    putCallHeader(st.record.data(), call.start, st.thread, caller.module);  // exactly headSize bytes
    account(rec, *sink.writer, counts);
    if (__builtin_expect(t_entryParent != nullptr, 0)) {
        appendTailWithParent(st.record, caller, *t_entryParent);  // consumed: calls made inside have their own
        t_entryParent = nullptr;
    } else {
        char* at = st.record.space(caller.tailSize);  // entry ext (Site, Label) and Pending
        detail::copyBytes(at, caller.tail, caller.tailSize);
        st.record.advanceTo(at + caller.tailSize);
    }
    for (size_t k = 0; k < st.inputPayloads.size(); ++k)
        st.inputs.bytes[k] = keepAlive(st.inputPayloads[k].data, st.keep);
    if (__builtin_expect(mode == EntryMode::Hold, 0)) {
        call.entry.reset(new HeldEntry{std::string(st.record.view()), std::move(st.inputPayloads)});
        releaseIfHuge(st.record);
        return true;
    }
    Writer& writer = *sink.writer;
    // The buffer bound is checked before the entry and after the outcome, not
    // between them: a call's two halves then meet in one op.
    waitForRoom(writer);
    writer.submitEntry(st.lane, key, st.record, std::move(st.inputPayloads));
    releaseIfHuge(st.record);
    if (__builtin_expect(sink.settings.sync, 0)) {
        Py_BEGIN_ALLOW_THREADS
        writer.flush();
        Py_END_ALLOW_THREADS
    }
    return true;
}

enum class Ending : uint8_t { Returned, Raised, Unfinished };

// Encodes the result value (borrowed) after the outcome's head: any value.
__attribute__((noinline)) void encodeResultValue(Recorder& rec, CaptureState& st, ActiveCall& call, PyObject* result) {
    EncodeOptions opt;  // never strict: not worth failing the call for
    opt.payloads.payloads = &st.resultPayloads;
    opt.payloads.sameAs = call.inputs ? &call.inputs->slots : nullptr;
    opt.maxBytes = policyMaxBytes(call.fn->policy);  // max_bytes=
    EncodeCounts counts;
    ValueWriter w(st.outcome);
    BusyGuard busy(st);
    WatchInputs recorded(call.fn->watch, &result, 1, nullptr);
    st.encoder.encode(w, recorded.args()[0], opt, counts);
    account(rec, *call.sink->writer, counts);
}

// Encodes the result value (borrowed) after the outcome's head. An immediate
// (None, a number, a short str) with no watch summary and no max_bytes= to
// apply is written on the spot (what encode() would write).
__attribute__((always_inline)) inline void encodeResult(Recorder& rec, CaptureState& st, ActiveCall& call, PyObject* result) {
    if (__builtin_expect(call.fn->watch == nullptr, 1) && policyMaxBytes(call.fn->policy) == 0) {
        ValueWriter w(st.outcome);
        if (writeImmediate(w, result)) return;
    }
    encodeResultValue(rec, st, call, result);
}

// The outcome section of a call that raised (the exception is set and must
// stay set, unchanged, when this returns) or ended without a result.
__attribute__((noinline)) void unreturnedOutcome(Recorder& rec, Writer& writer, CaptureState& st, Ending ending,
                                                 uint64_t duration, OutcomeExtra* extra) {
    if (ending == Ending::Unfinished) {
        appendNotRecorded(st.outcome, duration);
        if (extra) appendExt(st.outcome, extra->fields);
        else appendEmptyExt(st.outcome);
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    std::string message;
    {
        BusyGuard busy(st);
        if (value) {
            PyObject* s = PyObject_Str(value);
            if (s && PyUnicode_AsUTF8(s)) message = PyUnicode_AsUTF8(s);
            Py_XDECREF(s);
            PyErr_Clear();
        }
        raisedExt(rec, writer, st, value, tb);
    }
    if (extra) st.ext.append(extra->fields);
    std::string typeName = type ? exceptionTypeName(type) : "BaseException";
    appendRaised(st.outcome, duration, typeName, message);
    appendExt(st.outcome, st.ext);
    PyErr_Restore(type, value, tb);
}

// Submits a held entry (EntryMode::Hold) ahead of its outcome (lane null: a
// call finished on another thread than it began on, see outcomeLane).
__attribute__((noinline)) void submitHeldEntry(Writer& writer, Writer::Lane* lane, ActiveCall& call) {
    waitForRoom(writer);
    if (lane) writer.submitEntry(lane, call.key, call.entry->record, std::move(call.entry->payloads));
    else writer.submitEntry(call.key, call.entry->record, std::move(call.entry->payloads));
    call.entry.reset();
}

// The policy's decision on a held call (capture_policy.h, after()); counted.
// False: discarded.
__attribute__((noinline)) bool keepHeldCall(Recorder& rec, ActiveCall& call, Ending ending, uint64_t duration) {
    FunctionPolicy* policy = call.fn->policy;  // call.epoch is the session's: still valid
    PolicyCounts* writerCounts = call.sink->countsOf(call.fn->fid);  // the entry's writer's
    if (!policy || !writerCounts) return true;
    PolicyCounts& counts = *writerCounts;
    const DropReason r = policy->decide.after(ending == Ending::Raised, duration, counts.keptSoFar());
    counts.count(r);
    if (r == DropReason::Kept) return true;
    call.entry.reset();
    call.inputs.reset();
    return false;
}

// The policy before the call (capture_policy.h, before()): false drops it
// (the call then runs unrecorded); `mode` Hold when the decision waits for
// the outcome. Counted. A dropped call costs this and nothing else.
__attribute__((always_inline)) inline bool admitCall(Recorder& rec, FunctionPolicy& policy, PolicyCounts& counts,
                                                     const format::CallKey& key, EntryMode& mode) {
    counts.add(counts.seen);
    const DropReason r = __builtin_expect(rec.databaseFull(key.function, key.invocation), 0)
                             ? DropReason::MaxDbBytes
                             : policy.decide.before(key.invocation, counts.keptSoFar());
    if (r != DropReason::Kept) {
        counts.count(r);
        return false;
    }
    if (__builtin_expect(policy.decide.options().decidedAtFinish(), 0)) mode = EntryMode::Hold;
    else counts.count(DropReason::Kept);
    return true;
}

// The lane the outcome goes through: the entry's, when this thread began the
// call; otherwise none (the writer's own lock), because the thread that began
// it may have ended and its lane with it. The writer joins an entry and an
// outcome from different queues in the batch, in either order.
inline Writer::Lane* outcomeLane(const CaptureState& st, const ActiveCall& call) {
    return __builtin_expect(st.serial == call.owner, 1) ? call.lane : nullptr;
}

// Builds the outcome section of a finished call in st.outcome and submits it.
// Returns false when the writer's buffer is over its bound afterwards.
__attribute__((always_inline)) inline bool recordOutcome(Recorder& rec, CaptureState& st, ActiveCall& call,
                                                         Ending ending, PyObject* result, OutcomeExtra* extra) {
    uint64_t end = rec.nowNs();
    uint64_t duration = end > call.start ? end - call.start : 0;
    // The policy at the outcome (keep="raised", slower_than=): the held entry
    // is submitted with its outcome, or discarded before the outcome is encoded.
    if (__builtin_expect(call.entry != nullptr, 0) && !keepHeldCall(rec, call, ending, duration)) return true;
    st.outcome.clear();
    st.resultPayloads.clear();
    if (__builtin_expect(extra != nullptr, 0)) st.resultPayloads = std::move(extra->payloads);
    if (__builtin_expect(ending == Ending::Returned, 1)) {
        CapturedFunction& fn = *call.fn;
        bool capture = fn.captureResult < 0 ? call.sink->settings.captureResult : fn.captureResult != 0;
        if (!capture) {
            appendNotRecorded(st.outcome, duration);
        } else {
            appendReturned(st.outcome, duration);
            encodeResult(rec, st, call, result);
        }
        // No outcome ext: an empty one is left out (format.h).
        if (__builtin_expect(extra != nullptr, 0)) appendExt(st.outcome, extra->fields);
    } else {
        unreturnedOutcome(rec, *call.sink->writer, st, ending, duration, extra);
    }
    Writer& writer = *call.sink->writer;
    Writer::Lane* lane = outcomeLane(st, call);
    // Policy hook (at the outcome): a held entry is submitted with its
    // outcome, or discarded.
    if (__builtin_expect(call.entry != nullptr, 0)) submitHeldEntry(writer, lane, call);
    if (__builtin_expect(lane != nullptr, 1)) return writer.submitOutcome(lane, call.key, st.outcome, std::move(st.resultPayloads));
    writer.submitOutcome(call.key, st.outcome, std::move(st.resultPayloads));
    return writer.hasRoom();
}

// Finishes `call` once: the outcome goes to the session the entry went to
// (none when that session was closed during the call, e.g. close() inside it).
__attribute__((always_inline)) inline void finish(Recorder& rec, CaptureState& st, ActiveCall& call, Ending ending,
                                                  PyObject* result, OutcomeExtra* extra) {
    // call.sink is valid while its session is (writers close only with it);
    // its writer is not null (the entry went to it). A writer that failed
    // since drops the outcome in submitOutcome.
    if (__builtin_expect(call.epoch == rec.epoch(), 1)) {
        try {
            const bool room = recordOutcome(rec, st, call, ending, result, extra);
            releaseIfHuge(st.outcome);
            if (__builtin_expect(!room, 0)) waitForRoom(*call.sink->writer);
        } catch (const std::exception& e) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            rec.captureError(e.what());
            PyErr_Restore(t, v, tb);
        }
    }
    call.fn = nullptr;
}

// A finish from a front end other than recordedVectorcall: with the scratch
// of the thread finishing the call (maybe not the one that began it), or of
// its own when that thread is in the middle of capturing something else (a
// generator finishing inside a handler): the encoder is not reentrant.
void finishOnThisThread(ActiveCall& call, Ending ending, PyObject* result, OutcomeExtra* extra) {
    if (!call.active()) return;
    CaptureState& st = threadState();
    if (__builtin_expect(st.busy, 0)) {
        auto own = std::make_unique<CaptureState>();  // serial 0: never a lane's owner
        finish(Recorder::instance(), *own, call, ending, result, extra);
    } else {
        finish(Recorder::instance(), st, call, ending, result, extra);
    }
    call.inputs.reset();
    call.entry.reset();
}

__attribute__((always_inline)) inline CallStart begin(Recorder& rec, CaptureState& st, CapturedFunction& fn,
                                                      PyObject* const* args, size_t nargs, PyObject* kwnames,
                                                      ActiveCall& call, int callerDepth) {
    if (st.busy) return CallStart::NotRecorded;
    // The fast path: this thread routed to a live writer that knows this function.
    if (__builtin_expect(st.route != rec.routeEpoch() || fn.epoch != rec.epoch() || !st.sink->live() ||
                             !st.sink->knows(fn.fid), 0)) {
        if (!prepare(rec, st, fn)) return CallStart::NotRecorded;
    }
    format::CallKey key{fn.fid, st.sink->nextInvocation(fn.fid)};
    const uint64_t epoch = rec.epoch();  // the session st.sink belongs to
    // The capture policy, before anything is encoded: drop the call, or hold
    // its entry to decide when it ends (recorded calls keep their real numbers).
    EntryMode mode = EntryMode::Submit;
    if (FunctionPolicy* policy = fn.policy; __builtin_expect(policy != nullptr, 1)) {
        PolicyCounts* counts = st.sink->countsOf(fn.fid);  // this writer's counts of the function
        if (counts && !admitCall(rec, *policy, *counts, key, mode)) return CallStart::NotRecorded;
    }
    Recorder::Caller caller = callerDepth == 0 ? rec.caller() : rec.callerAbove(callerDepth);
    try {
        if (!recordEntry(rec, st, fn, key, caller, args, nargs, kwnames, mode, call))
            return CallStart::Refused;
    } catch (const std::exception& e) {
        st.busy = false;
        call.entry.reset();
        rec.captureError(e.what());
        return CallStart::NotRecorded;
    }
    call.key = key;
    call.epoch = epoch;  // a close() during the encoding (a handler's Python) leaves the outcome out
    // The writer and lane of the entry: its outcome goes there even if this
    // thread records elsewhere by then (a writer declared inside the call).
    call.sink = st.sink;
    call.lane = st.lane;
    call.owner = st.serial;
    call.fn = &fn;
    // The input slots, for the result to refer to: this call's own (a call
    // made inside this one reuses the thread's scratch), with their copies
    // kept alive until the outcome.
    if (__builtin_expect(!st.inputs.objects.empty(), 0))
        call.inputs.emplace(HeldInputs{std::move(st.inputs), std::move(st.keep)});
    return CallStart::Recording;
}

}  // namespace

CallStart beginCall(CapturedFunction& fn, PyObject* const* args, size_t nargs, PyObject* kwnames,
                    ActiveCall& call, int callerDepth) {
    return begin(Recorder::instance(), threadState(), fn, args, nargs, kwnames, call, callerDepth);
}

bool encodeOutcomeValue(ActiveCall& call, PyObject* value, std::string& out, OutcomeExtra& extra) {
    Recorder& rec = Recorder::instance();
    if (!call.active() || call.epoch != rec.epoch() || !call.sink->live()) return false;
    CaptureState& st = threadState();
    if (st.busy) return false;  // met inside capture itself: the encoder is in use
    try {
        EncodeOptions opt;  // never strict
        opt.payloads.payloads = &extra.payloads;
        opt.payloads.sameAs = call.inputs ? &call.inputs->slots : nullptr;
        opt.maxBytes = policyMaxBytes(call.fn->policy);  // max_bytes=
        EncodeCounts counts;
        ValueWriter w(out);
        BusyGuard busy(st);
        WatchInputs recorded(call.fn->watch, &value, 1, nullptr);
        st.encoder.encode(w, recorded.args()[0], opt, counts);
        account(rec, *call.sink->writer, counts);
        return true;
    } catch (const std::exception& e) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        rec.captureError(e.what());
        PyErr_Restore(t, v, tb);
        return false;
    }
}

void finishReturned(ActiveCall& call, PyObject* result, OutcomeExtra* extra) {
    finishOnThisThread(call, Ending::Returned, result, extra);
}
void finishRaised(ActiveCall& call, OutcomeExtra* extra) { finishOnThisThread(call, Ending::Raised, nullptr, extra); }
void finishUnfinished(ActiveCall& call, OutcomeExtra* extra) {
    finishOnThisThread(call, Ending::Unfinished, nullptr, extra);
}

void ActiveCall::dropUnfinished() {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    finishUnfinished(*this);
    PyErr_Restore(t, v, tb);
}

namespace {

// The inner calls of the invocation that just returned (inner=True), taken
// whatever happens next so that they never reach another call's outcome
// (capture/inner_calls.h); new resolved callee names go to the function's
// record. False when none.
bool takeInnerCalls(Recorder& rec, const CapturedFunction& fn, OutcomeExtra& extra) {
    std::string bytes;
    PyObject* names = nullptr;
    if (!takeEndedInnerCalls(bytes, names)) return false;
    if (fn.epoch == rec.epoch()) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);  // the call's own exception stays as it is
        rec.noteInnerNames(fn.fid, names);
        PyErr_Restore(t, v, tb);
    }
    Py_XDECREF(names);
    extra.fields.addBytes(format::ExtTag::InnerCalls, bytes);
    return true;
}

// recordedVectorcall for inner=True: the invocation's inner calls go into
// the outcome's ext area.
__attribute__((noinline)) PyObject* innerCallsVectorcall(Recorder& rec, CaptureState& st, CapturedFunction& fn,
                                                         PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    ActiveCall call;
    CallStart started = fn.onlyWithOutput && !rec.outputChosen()
                            ? CallStart::NotRecorded
                            : begin(rec, st, fn, args, PyVectorcall_NARGS(nargsf), kwnames, call, 0);
    if (started == CallStart::Refused) return nullptr;
    clearEndedInnerCalls();
    const OuterCall enclosing = t_outer;  // restored after: nested inner=True calls
    if (started == CallStart::Recording) t_outer = OuterCall{call.key, call.epoch, true};
    PyObject* result = PyObject_Vectorcall(fn.func, args, nargsf, kwnames);
    t_outer = enclosing;
    if (started != CallStart::Recording) {
        clearEndedInnerCalls();  // not recorded: its inner calls are dropped unencoded
        return result;
    }
    OutcomeExtra extra;
    const bool have = takeInnerCalls(rec, fn, extra);
    finish(rec, st, call, result ? Ending::Returned : Ending::Raised, result, have ? &extra : nullptr);
    return result;
}

}  // namespace

OuterCall currentOuterCall() { return t_outer; }

bool takeInnerCallsInto(const CapturedFunction& fn, OutcomeExtra& extra) {
    return takeInnerCalls(Recorder::instance(), fn, extra);
}

PyObject* recordInnerCall(CapturedFunction& fn, const OuterCall& outer, PyObject* const* args, size_t nargsf,
                          PyObject* kwnames, bool selfRecording) {
    Recorder& rec = Recorder::instance();
    if (!outer.valid || outer.epoch != rec.epoch()) return PyObject_Vectorcall(fn.func, args, nargsf, kwnames);
    t_entryParent = &outer.key;  // taken by the next entry encoded on this thread: this call's
    PyObject* result = selfRecording ? PyObject_Vectorcall(fn.func, args, nargsf, kwnames)
                                     : recordedVectorcall(fn, args, nargsf, kwnames);
    t_entryParent = nullptr;  // not taken: the call was not recorded (a policy, capture inside capture)
    return result;
}

PyObject* recordedVectorcall(CapturedFunction& fn, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    Recorder& rec = Recorder::instance();
    CaptureState& st = threadState();
    if (__builtin_expect(fn.inner, 0)) return innerCallsVectorcall(rec, st, fn, args, nargsf, kwnames);
    ActiveCall call;
    switch (begin(rec, st, fn, args, PyVectorcall_NARGS(nargsf), kwnames, call, 0)) {
    case CallStart::Recording: break;
    case CallStart::NotRecorded: return PyObject_Vectorcall(fn.func, args, nargsf, kwnames);
    case CallStart::Refused: return nullptr;
    }
    PyObject* result = PyObject_Vectorcall(fn.func, args, nargsf, kwnames);
    finish(rec, st, call, result ? Ending::Returned : Ending::Raised, result, nullptr);
    return result;
}

}  // namespace callmonitor::py
