// The decoder's side of recorded objects (Object), references (Ref) and
// pickles: each call goes to callmonitor/read/objects.py, which decides by
// the reader's opt-in (allow_pickle, allow_import) between the real object,
// a read-only RecordedObject view and an Unrestorable saying why. Each
// returns a new reference, or nullptr with a Python error set (only when a
// hook itself breaks: a value that cannot be restored is an Unrestorable).
#pragma once

#include <Python.h>

#include <cstdint>
#include <string_view>

#include "callmonitor/value_parser.h"

namespace callmonitor::py {

struct DecodeOptions;

// What an Object's memo index stands for while its state is read: the
// object made without __init__ (cls.__new__), or a view to fill.
PyObject* objectShell(const Token& t, const DecodeOptions& opt);
// The Object's value once its `state` is read (may differ from `shell`: a
// namedtuple, an enum member, an Unrestorable).
PyObject* objectFinish(PyObject* shell, std::string_view module, std::string_view qualname, uint8_t form,
                       PyObject* state, const DecodeOptions& opt);
PyObject* resolveReference(const Token& t, const DecodeOptions& opt);
PyObject* loadPickled(const Token& t, const DecodeOptions& opt);
// The Python exception just raised while restoring a value of `typeName`
// (its handler failed, a 0.3 handler's load raised) as an Unrestorable whose
// reason says so. Exceptions that are not `Exception`s (KeyboardInterrupt)
// stay raised: nullptr.
PyObject* unrestorableFromError(std::string_view typeName, const char* what);

}  // namespace callmonitor::py
