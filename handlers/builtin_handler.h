// The contract of a built-in handler, Python side (docs/handlers.md).
//
// A built-in handler is one folder under handlers/: handlers/<name>/python/
// (built into the extension: Python objects <-> values) and, when C++ readers
// need it, handlers/<name>/core/<name>/ (built into the core library: what
// the values are to C++). Its Python side is one BuiltinHandler, listed once,
// in builtin_table.cpp. The encoder (capture/py_encoder.cpp) and the decoder
// (read/py_decoder.cpp) name no handler: they ask the table.
//
// Capture, for a value no user-registered handler takes (REGISTRY wins):
//   table.forType(type(value)) -> handler or none   (asked once per type, cached)
//   handler.encode(cx, value)  -> Written | Declined | Failed
//   Declined: the value is pickled (the encoder's last step), as before the
//   handler existed; never taken apart by the steps between (objects by state).
// Read: a value's tag (Array, NpScalar: handler.decodesTag) or a Builtin item's
// kind (handler.restoresKind) names the handler that makes the Python object.
#pragma once

#include <Python.h>

#include <string>
#include <string_view>

#include "callmonitor/value_parser.h"
#include "callmonitor/value_writer.h"
#include "capture/payload_slots.h"

namespace callmonitor::py {

class PyEncoder;
struct DecodeOptions;

// What the encoder lends a handler to write one value with. Valid for one
// encode() call.
class HandlerEncoder {
public:
    HandlerEncoder(PyEncoder& encoder, ValueWriter& writer, const PayloadTarget& payloads)
        : writer(writer), payloads(payloads), encoder_(encoder) {}

    ValueWriter& writer;
    const PayloadTarget& payloads;  // where large bytes go (this section's payload slots)

    // When `obj` was written earlier in this value section: writes a Backref
    // to it and returns true (the handler is done: Written).
    bool backref(PyObject* obj);
    // `obj` may be met again: gives it the next memo index and returns true.
    // The handler then writes exactly one memoizable item (Array, Builtin)
    // with the memo flag, and nothing before it.
    bool takeMemo(PyObject* obj);
    // Writes `obj` as a Builtin item of `kind` (its memo decided here) whose
    // one value is `state`, encoded next like any value: arrays in it become
    // payloads, pandas objects in it go through this table again. Holds its
    // own reference to `state`.
    void writeState(std::string_view kind, PyObject* obj, PyObject* state);

private:
    PyEncoder& encoder_;
};

enum class Encoded {
    Written,   // exactly one value written
    Declined,  // nothing written, no error set: the value is pickled
    Failed,    // nothing written, a Python error set: the value becomes an Opaque saying why
};

class BuiltinHandler {
public:
    virtual ~BuiltinHandler() = default;

    // The folder under handlers/ ("ndarray", "pandas").
    virtual std::string_view name() const = 0;

    // --- capture (the caller's thread, GIL held; must not raise) ---
    // May values of exactly this type be this handler's? Asked once per type
    // (the answer is cached for the process), only with the type's module
    // imported by the program. Never imports anything itself.
    virtual bool takesType(PyTypeObject* type) = 0;
    virtual Encoded encode(HandlerEncoder& cx, PyObject* obj) = 0;

    // --- read (GIL held) ---
    // Items of these tags are this handler's (ndarray: Array, NpScalar).
    virtual bool decodesTag(Tag) const { return false; }
    // A new reference, or nullptr with a Python error set.
    virtual PyObject* decode(const Token& /*t*/, const DecodeOptions& /*opt*/) {
        PyErr_SetString(PyExc_TypeError, "this handler decodes no value tags");
        return nullptr;
    }
    // Builtin items of this kind ("pandas.DataFrame") are this handler's.
    virtual bool restoresKind(std::string_view) const { return false; }
    // The object for a Builtin item, from its decoded state. A new reference,
    // or nullptr with a Python error set (an ImportError: a module the value
    // needs is missing in the reading process); the decoder turns a failure
    // into an Unrestorable that says why, never into a failed call.
    virtual PyObject* restore(std::string_view kind, PyObject* /*state*/) {
        PyErr_Format(PyExc_TypeError, "this handler restores no kind %.200s", std::string(kind).c_str());
        return nullptr;
    }
    // The module the handler's values need to be restored ("pandas"), for
    // the message of a failed import.
    virtual std::string_view neededModule() const { return name(); }
};

// The current Python error as "Type: message", cleared.
std::string takeErrorText();

}  // namespace callmonitor::py
