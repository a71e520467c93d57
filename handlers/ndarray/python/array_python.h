// The ndarray handler, Python side: numpy arrays and scalars to and from the
// Array / NpScalar values of value_format.h. The only file that includes
// numpy's C API. numpy is initialised lazily: a process that never imported
// numpy cannot pass an array, so nothing here imports it on its own.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "callmonitor/value_parser.h"
#include "callmonitor/value_writer.h"
#include "capture/payload_slots.h"

namespace callmonitor::py {

// Arrays at most this many bytes are stored inline in the call record.
inline constexpr size_t kInlineArrayBytes = kInlineValueBytes;

// True once numpy is imported by the program and its C API is loaded.
bool numpyReady();
// Loads numpy's C API when numpy is importable. Returns false otherwise.
bool ensureNumpy();

// Exactly numpy.ndarray, or a numpy scalar type (numpy.float64, ...): the
// types whose values may be Array / NpScalar values. False before numpy is ready.
bool isArrayOrScalarType(PyTypeObject* type);
bool isArrayType(PyTypeObject* type);

// Exactly numpy.ndarray (not a subclass) with a dtype we store natively.
bool isPlainArray(PyObject* obj);
// A numpy scalar of a numeric, bool, datetime or timedelta dtype.
bool isNumericScalar(PyObject* obj);

// Writes an Array value: inline, or, when large and `payloads` takes them, as
// a payload slot (a copy, or a reference to the input slot it repeats).
// Returns false with a Python error set on failure.
bool writeArray(ValueWriter& w, PyObject* array, bool memo, const PayloadTarget& payloads);
bool writeScalar(ValueWriter& w, PyObject* scalar);

// New references, or nullptr with a Python error set. `bytes` holds the
// element bytes (inline data or the resolved blob).
PyObject* readArray(const Token& t, std::string_view bytes);
// A read-only array over `bytes` themselves (no copy). `keepAlive` (a new
// reference, stolen, also on failure) becomes the array's base: it must keep
// the bytes valid for as long as it lives.
PyObject* viewArray(const Token& t, std::string_view bytes, PyObject* keepAlive);
// Clears the WRITEABLE flag of a numpy array (anything else: untouched).
void makeReadOnly(PyObject* obj);
PyObject* readScalar(const Token& t);

}  // namespace callmonitor::py
