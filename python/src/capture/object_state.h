// Objects by their state, and functions, classes and modules by their name:
// how the encoder records the instances users pass every day without
// pickling them (docs/objects.md has the rule; value_format.h the bytes).
//
//   an instance of a plain class     Object Attrs      {attribute: value} (__dict__, then slots)
//   ... whose class has __getstate__  Object State      what __getstate__ returned
//   ... or __setstate__ only          Object State      the default state (object.__getstate__)
//   a namedtuple                      Object NamedTuple {field: value}
//   an enum member                    Object Enum       {"name": ..., "value": ...}
//   a function, class or module       Ref               kind, module, qualname
//
// A class is plain when every class of its MRO but `object` is defined in
// Python (no C base such as dict, Exception or a Cython type) and it does
// not customise pickling (__reduce__, __reduce_ex__, __getnewargs__(_ex),
// a copyreg reducer): those keep the pickle fallback, which knows how to
// rebuild them. Each attribute is encoded as a value of its own, so arrays
// are payloads and an attribute that cannot be kept becomes an Opaque
// placeholder without losing the others.
#pragma once

#include <Python.h>

#include "callmonitor/value_writer.h"

namespace callmonitor::py {

class PyEncoder;

// Writes `obj` as an Object or a Ref when it qualifies (an Object's state is
// pushed on the encoder's work stack, so it is written next) and returns
// true. Returns false, having written nothing, when `obj` does not qualify
// or its state cannot be read (a raising __getstate__): the caller then
// pickles it, and pickle's error becomes the Opaque placeholder's reason.
bool encodeObjectState(PyEncoder& encoder, ValueWriter& w, PyObject* obj);

}  // namespace callmonitor::py
