// The read stage's decoder: value bytes to Python objects. Iterative, so a
// hostile or very deep value cannot overflow the C stack. Shared objects and
// cycles come back shared. Values that must not or cannot be rebuilt
// (pickles without allow_pickle, Opaque placeholders) come back as
// callmonitor.Unrestorable.
#pragma once

#include <Python.h>

#include <functional>
#include <string>
#include <string_view>

#include "callmonitor/value.h"

namespace callmonitor::py {

struct DecodeOptions {
    bool allowPickle = false;
    // load(allow_import=...): a tuple of module names whose classes may be
    // imported and rebuilt (borrowed; null: none). See read/object_view.h.
    PyObject* allowImport = nullptr;
    BlobResolver blobs;          // throws on a missing blob
    // Called once the bytes `blobs` returned are copied: the resolver may
    // release what kept them valid (a read snapshot) before Python code runs.
    std::function<void()> blobDone;
    std::string writerDir;       // where 0.3-style handler files live
    // The zero-copy read: when set, an array stored apart comes back as a
    // read-only view of the bytes `blobs` returned, its base a new reference
    // from keepAlive() that keeps those bytes valid (blobDone is not called).
    std::function<PyObject*()> keepAlive;
    bool readOnlyArrays = false; // arrays that are copies are made read-only too
};

// A new reference, or nullptr with a Python exception set (DecodeError and
// the core's errors are translated by the caller's exception translator; a
// failing handler's exception propagates).
PyObject* decodeToPython(std::string_view bytes, const DecodeOptions& opt);

}  // namespace callmonitor::py
