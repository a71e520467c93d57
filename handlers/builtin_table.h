// The one table of built-in handlers (builtin_table.cpp lists them) and the
// three questions the encoder and decoder ask it. See builtin_handler.h for
// a handler's contract, docs/handlers.md for how to add one.
#pragma once

#include <Python.h>

#include <string_view>

#include "builtin_handler.h"

namespace callmonitor::py::builtin {

// The handler for values of exactly `type`, or nullptr. Answers are cached
// per type (the cache holds a reference to the type); the first handler in
// table order that takes the type wins.
BuiltinHandler* forType(PyTypeObject* type);
// The handler that decodes items of `tag` (Array, NpScalar), or nullptr.
BuiltinHandler* forTag(Tag tag);
// The handler that restores Builtin items of `kind`, or nullptr.
BuiltinHandler* forKind(std::string_view kind);

// Every handler, in table order (for tests and introspection).
struct Entries {
    BuiltinHandler* const* begin;
    BuiltinHandler* const* end;
};
Entries all();

}  // namespace callmonitor::py::builtin
