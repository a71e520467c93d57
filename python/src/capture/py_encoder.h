// The capture stage's encoder: Python objects to value bytes (value_format.h).
// Iterative (an explicit work stack), so deep nesting cannot overflow the C
// stack; exact-type dispatch for the common types; shared objects and cycles
// become Backrefs. It never raises into the user's program: a value it cannot
// keep becomes an Opaque placeholder (type, truncated repr, reason) — unless
// `strict`, where that raises CaptureError.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "callmonitor/value_writer.h"
#include "capture/payload_slots.h"

namespace callmonitor::py {

// Writes a value that has no items and runs no Python code (None, bool,
// int64, float, complex, str, bytes). Returns false for anything else.
// Inlined into every caller: it runs for each argument of every call. W: a
// ValueWriter, or a ValueCursor with room for kMaxImmediateBytes.
inline constexpr size_t kMaxImmediateBytes = 1 + detail::kMaxVarintBytes + kInlineValueBytes;
template <class W> __attribute__((always_inline)) inline bool writeImmediate(W& w, PyObject* obj) {
    PyTypeObject* t = Py_TYPE(obj);
    if (t == &PyLong_Type) {
#if PY_VERSION_HEX < 0x030C0000
        // One digit (|v| < 2**30), the common case: read it without a call.
        Py_ssize_t size = Py_SIZE(obj);
        if (size >= -1 && size <= 1) {
            int64_t digit = static_cast<int64_t>(reinterpret_cast<PyLongObject*>(obj)->ob_digit[0]);
            w.integer(size * digit);
            return true;
        }
#endif
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow) return false;
        w.integer(v);
        return true;
    }
    if (t == &PyUnicode_Type) {
        Py_ssize_t n;
        const char* c;
        if (PyUnicode_IS_COMPACT_ASCII(obj)) {  // ASCII is its own UTF-8: read in place, no call
            n = PyUnicode_GET_LENGTH(obj);
            c = static_cast<const char*>(PyUnicode_DATA(obj));
        } else {
            c = PyUnicode_AsUTF8AndSize(obj, &n);
        }
        if (!c) {
            PyErr_Clear();  // lone surrogates: the general path passes them through
            return false;
        }
        if (static_cast<size_t>(n) > kInlineValueBytes) return false;  // maybe a payload
        w.str(std::string_view(c, static_cast<size_t>(n)));
        return true;
    }
    if (obj == Py_None) { w.none(); return true; }
    if (t == &PyFloat_Type) { w.real(PyFloat_AS_DOUBLE(obj)); return true; }
    if (t == &PyBool_Type) { w.boolean(obj == Py_True); return true; }
    if (t == &PyBytes_Type) {
        if (static_cast<size_t>(PyBytes_GET_SIZE(obj)) > kInlineValueBytes) return false;  // maybe a payload
        w.bytes(std::string_view(PyBytes_AS_STRING(obj), static_cast<size_t>(PyBytes_GET_SIZE(obj))));
        return true;
    }
    if (t == &PyComplex_Type) {
        Py_complex c = PyComplex_AsCComplex(obj);
        w.complex(c.real, c.imag);
        return true;
    }
    return false;
}

struct EncodeOptions {
    bool strict = false;
    // Where the bytes of large arrays, str and bytes go (this section's
    // payload slots); no payloads vector: inline.
    PayloadTarget payloads;
    // For 0.3-style handlers' files: <writerDir>/handlers/<functionDir>/<invocation>/
    const std::string* writerDir = nullptr;
    const std::string* functionDir = nullptr;
    uint64_t invocation = 0;
    // max_bytes= (capture policy): every value node over it is stored as its
    // summary (function_policy.h, summaryOverLimit); 0: values in full.
    uint64_t maxBytes = 0;
};

struct EncodeCounts {
    uint64_t opaque = 0;
    uint64_t pickled = 0;
    uint64_t errors = 0;       // a registered handler failed (the value became Opaque)
    std::string firstError;
};

class PyEncoder {
    friend class HandlerEncoder;  // what built-in handlers may use (handlers/builtin_handler.h)

public:
    // Encodes one value. Returns false only in strict mode, with a Python
    // error set; otherwise always true.
    bool encode(ValueWriter& w, PyObject* obj, const EncodeOptions& opt, EncodeCounts& counts);
    // Encodes the inputs of a vectorcall: (args tuple, kwargs dict) as one value.
    bool encodeInputs(ValueWriter& w, PyObject* const* args, size_t nargs, PyObject* kwnames,
                      const EncodeOptions& opt, EncodeCounts& counts);

private:
    friend bool encodeObjectState(PyEncoder&, ValueWriter&, PyObject*);  // capture/object_state.h
    enum Op : uint8_t { Item, DictHeader };
    // The 0.3 handlers' target of a top-level argument: its position, or its keyword.
    struct Target {
        int64_t position = -1;
        PyObject* keyword = nullptr;  // borrowed from the call's kwnames
    };
    struct Work {
        PyObject* obj;   // Item: strong reference while on the stack
        Op op;
        uint64_t n;      // DictHeader: pairs
        Target target;
    };

    bool run(ValueWriter& w, const EncodeOptions& opt, EncodeCounts& counts);
    bool encodeItem(ValueWriter& w, const Work& item, const EncodeOptions& opt, EncodeCounts& counts);
    // Writes the items of `seq_` in order: immediates directly, and from the
    // first item that needs more, the rest onto the work stack.
    void emitSequence(ValueWriter& w);
    // A value that is not an immediate nor a built-in container: the user's
    // registered handlers, then the built-in handlers' table, then pickle.
    bool encodeOther(ValueWriter& w, PyObject* obj, const Target& target, const EncodeOptions& opt,
                     EncodeCounts& counts);
    // The last step of encodeOther: a pickle, or else an Opaque placeholder.
    bool pickleOrOpaque(ValueWriter& w, PyObject* obj, const EncodeOptions& opt, EncodeCounts& counts);
    bool opaque(ValueWriter& w, PyObject* obj, const char* reason, const EncodeOptions& opt, EncodeCounts& counts);
    // A registered handler raised: counted, logged once by the caller, stored as Opaque.
    bool handlerFailed(ValueWriter& w, PyObject* obj, const std::string& handler, const EncodeOptions& opt,
                       EncodeCounts& counts);
    // Lists, tuples and dicts of at most kFlatItems immediates (`[3]`,
    // `{"a": 1}`), written in one go without the work stack; a shared one
    // (refcount above `heldRefs`, the references its holder accounts for)
    // takes its memo index or becomes a Backref as in encodeItem. Returns
    // false, having written nothing, for anything else.
    static constexpr Py_ssize_t kFlatItems = 16;
    // What writeFlat or writeImmediate writes at most (a ValueCursor's room per value).
    static constexpr size_t kMaxFlatBytes = 1 + detail::kMaxVarintBytes + 2 * kFlatItems * kMaxImmediateBytes;
    template <class W> bool writeFlat(W& w, PyObject* obj, Py_ssize_t heldRefs);
    // encodeInputs' common case: every argument and keyword value an
    // immediate or flat. Writes the (args, kwargs) value from argument i and
    // keyword k on (both 0: all of it), or stops at the first that is not and
    // returns false with i and k there (that argument, or pair, not written).
    template <class W>
    bool writeFlatInputs(W& w, PyObject* const* args, size_t nargs, PyObject* kwnames, size_t nkw, size_t& i,
                         size_t& k);
    // The most values (arguments, keywords and their values) written through a ValueCursor at once.
    static constexpr size_t kCursorValues = 8;
    void push(PyObject* obj, Target target);
    void push(PyObject* obj) { push(obj, Target{-1, nullptr}); }
    // The state of an Object, Builtin or Legacy value: part of its value's
    // layout, so never replaced by a summary itself (its items may be).
    static constexpr int64_t kStatePosition = -2;
    void pushState(PyObject* state) { push(state, Target{kStatePosition, nullptr}); }
    // Memo: returns the index of an object seen before, or -1.
    int64_t memoFind(PyObject* obj) const;
    void memoAdd(PyObject* obj);
    // For an object that may be shared (container, array): writes a Backref
    // and returns true when it was seen before; otherwise sets `memo` (it
    // takes the next memo index) and returns false.
    bool writeBackrefOrMemo(ValueWriter& w, PyObject* obj, bool& memo);
    // Drops the work stack and the memo: inline, a value of immediates left nothing to drop.
    void reset() {
        if (__builtin_expect(!stack_.empty() || !memo_.empty() || !legacyDone_.empty(), 0)) resetHeld();
    }
    void resetHeld();

    std::vector<Work> stack_;
    std::vector<PyObject*> memo_;   // strong references, index = memo index
    std::vector<Work> seq_;         // borrowed items of the container being written
    // Values already handed to a 0.3-style handler: met again inside that
    // handler's own state (its `_data`), they are not handed to it again.
    std::vector<PyObject*> legacyDone_;   // strong references
};

}  // namespace callmonitor::py
