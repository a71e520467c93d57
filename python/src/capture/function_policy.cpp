#include "capture/function_policy.h"

#include <cmath>

#include "builtin_table.h"
#include "codec/payload_codec.h"

namespace callmonitor::py {
namespace {

// callmonitor/capture/policy.py: resolve(wrapper) -> dict, summarize(value) -> ValueSummary.
PyObject* g_resolve = nullptr;
PyObject* g_summarize = nullptr;
PyObject* g_nbytes = nullptr;

bool readU64(PyObject* d, const char* key, uint64_t& out) {
    PyObject* v = PyDict_GetItemString(d, key);  // borrowed
    if (!v || v == Py_None) return true;
    unsigned long long n = PyLong_AsUnsignedLongLong(v);
    if (n == static_cast<unsigned long long>(-1) && PyErr_Occurred()) return false;
    out = n;
    return true;
}

bool readDouble(PyObject* d, const char* key, double& out) {
    PyObject* v = PyDict_GetItemString(d, key);
    if (!v || v == Py_None) return true;
    double x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred()) return false;
    out = x;
    return true;
}

// What a value node's summary takes, about (the JSON of a ValueSummary): a
// container's item over the limit counts this much, as it will be stored.
constexpr uint64_t kSummaryBytes = 256;

// The bytes of an object a built-in handler stores (pandas frames, series,
// indexes): its `nbytes` or, for a frame, memory_usage() (policy.py's
// value_nbytes); 0 when it cannot tell.
uint64_t handledBytes(PyObject* o) {
    if (!g_nbytes || !builtin::forType(Py_TYPE(o))) return 0;
    PyObject* n = PyObject_CallOneArg(g_nbytes, o);
    unsigned long long v = n && PyLong_Check(n) ? PyLong_AsUnsignedLongLong(n) : 0;
    Py_XDECREF(n);
    if (PyErr_Occurred()) PyErr_Clear();
    return v;
}

// The size a value node would take when stored, as far as it can be told
// cheaply: buffers (arrays), str and bytes exactly, built-in handlers' types
// (pandas) by their nbytes; lists, tuples, dicts and sets by their items
// (3 levels deep, then 8 bytes an item), an item over `limit` counting as
// its summary (it will be one: max_bytes= is per value node); plain objects
// count 0 (their attributes are measured when they are encoded). Stops
// counting past `limit`: the cost is bounded by `limit`, not by the value.
uint64_t estimateBytes(PyObject* o, uint64_t limit, int depth = 0) {
    if (PyBytes_Check(o)) return static_cast<uint64_t>(PyBytes_GET_SIZE(o));
    if (PyByteArray_Check(o)) return static_cast<uint64_t>(PyByteArray_GET_SIZE(o));
    if (PyUnicode_Check(o)) return static_cast<uint64_t>(PyUnicode_GET_LENGTH(o)) * PyUnicode_KIND(o);
    if (PyLong_CheckExact(o) || PyFloat_CheckExact(o) || o == Py_None || PyBool_Check(o)) return 8;
    const bool list = PyList_Check(o), tuple = PyTuple_Check(o), dict = PyDict_Check(o);
    const bool set = PyAnySet_Check(o);
    if (list || tuple || dict || set) {
        const Py_ssize_t n = list ? PyList_GET_SIZE(o) : tuple ? PyTuple_GET_SIZE(o) : dict ? PyDict_GET_SIZE(o)
                                                                                           : PySet_GET_SIZE(o);
        if (depth >= 3 || static_cast<uint64_t>(n) > limit / 8) return static_cast<uint64_t>(n) * 8;
        uint64_t total = 0;
        auto add = [&](PyObject* item) {
            const uint64_t b = estimateBytes(item, limit, depth + 1);
            total += b > limit ? kSummaryBytes : b;
        };
        if (list || tuple) {
            for (Py_ssize_t i = 0; i < n && total <= limit; ++i)
                add(list ? PyList_GET_ITEM(o, i) : PyTuple_GET_ITEM(o, i));
        } else if (dict) {
            Py_ssize_t pos = 0;
            PyObject *k, *v;
            while (total <= limit && PyDict_Next(o, &pos, &k, &v)) {
                add(k);
                add(v);
            }
        } else {
            Py_ssize_t pos = 0;
            PyObject* k;
            Py_hash_t h;
            while (total <= limit && _PySet_NextEntry(o, &pos, &k, &h)) add(k);
        }
        return total;
    }
    if (PyObject_CheckBuffer(o)) {
        Py_buffer view;
        if (PyObject_GetBuffer(o, &view, PyBUF_RECORDS_RO) != 0) {
            PyErr_Clear();
            return 0;
        }
        const uint64_t n = static_cast<uint64_t>(view.len);
        PyBuffer_Release(&view);
        return n;
    }
    return handledBytes(o);
}

// The marker of argument `i` of a call with `nargs` positional arguments, borrowed, or null.
PyObject* excludedMarker(const FunctionPolicy& p, size_t i, size_t nargs, PyObject* kwnames) {
    if (i < nargs) {
        if (i < p.excludedPositions.size() && p.excludedPositions[i]) return p.excludedPositions[i];
        if (p.excludedRest && p.restFrom >= 0 && static_cast<Py_ssize_t>(i) >= p.restFrom) return p.excludedRest;
        return nullptr;
    }
    if (!p.excludedNames) return nullptr;
    return PyDict_GetItem(p.excludedNames, PyTuple_GET_ITEM(kwnames, static_cast<Py_ssize_t>(i - nargs)));
}

PyObject* setPolicyHooks(PyObject*, PyObject* args) {
    PyObject *resolve, *summarize, *nbytes;
    if (!PyArg_ParseTuple(args, "OOO", &resolve, &summarize, &nbytes)) return nullptr;
    Py_INCREF(resolve);
    Py_INCREF(summarize);
    Py_INCREF(nbytes);
    Py_XSETREF(g_resolve, resolve);
    Py_XSETREF(g_summarize, summarize);
    Py_XSETREF(g_nbytes, nbytes);
    Py_RETURN_NONE;
}

// _policy_before(first, every, sample, max_calls, seed, full_name, invocation, kept) ->
// (reason, explanation): what before() decides for that call; the reader's "why not recorded".
PyObject* policyBefore(PyObject*, PyObject* args) {
    unsigned long long first, every, maxCalls, seed, invocation, kept;
    double sample;
    const char* name;
    if (!PyArg_ParseTuple(args, "KKdKKsKK", &first, &every, &sample, &maxCalls, &seed, &name, &invocation, &kept))
        return nullptr;
    PolicyOptions o;
    o.first = first;
    o.every = every ? every : 1;
    o.sample = sample;
    o.maxCalls = maxCalls;
    CapturePolicy p(o, seed, functionHash(name));
    DropReason r = p.before(invocation, kept);
    return Py_BuildValue("(ss)", dropReasonName(r), p.explain(r, invocation).c_str());
}

PyObject* policyExplain(PyObject*, PyObject* args) {
    const char* reason;
    double slowerThan = 0, sample = 1;
    unsigned long long maxCalls = 0;
    if (!PyArg_ParseTuple(args, "s|dKd", &reason, &slowerThan, &maxCalls, &sample)) return nullptr;
    PolicyOptions o;
    o.hasSlowerThan = true;
    o.slowerThanNs = static_cast<uint64_t>(std::llround(slowerThan * 1e9));
    o.maxCalls = maxCalls;
    o.sample = sample;
    for (size_t r = 0; r < kDropReasons; ++r) {
        if (std::string(dropReasonName(static_cast<DropReason>(r))) == reason)
            return PyUnicode_FromString(CapturePolicy(o, 0, 0).explain(static_cast<DropReason>(r), 0).c_str());
    }
    PyErr_Format(PyExc_ValueError, "unknown drop reason %s", reason);
    return nullptr;
}

// _content_hash(buffer) -> str: the xxh3-128 of a C-contiguous buffer's bytes
// in hex, as payloads are keyed (a summary's "hash" names the same bytes).
PyObject* contentHashHex(PyObject*, PyObject* obj) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS) != 0) return nullptr;
    codec::Hash h;
    Py_BEGIN_ALLOW_THREADS
    h = codec::contentHash(view.buf, static_cast<size_t>(view.len));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    static const char* digits = "0123456789abcdef";
    char hex[2 * codec::kHashSize];
    for (size_t i = 0; i < codec::kHashSize; ++i) {
        hex[2 * i] = digits[static_cast<unsigned char>(h.bytes[i]) >> 4];
        hex[2 * i + 1] = digits[static_cast<unsigned char>(h.bytes[i]) & 15];
    }
    return PyUnicode_FromStringAndSize(hex, sizeof hex);
}

PyMethodDef policyMethods[] = {
    {"_content_hash", contentHashHex, METH_O, "(buffer) -> hex xxh3-128 of its bytes (C-contiguous)"},
    {"_set_policy_hooks", setPolicyHooks, METH_VARARGS, "(resolve, summarize, nbytes): callmonitor.capture.policy's hooks"},
    {"_policy_before", policyBefore, METH_VARARGS,
     "(first, every, sample, max_calls, seed, full_name, invocation, kept) -> (reason, explanation)"},
    {"_policy_explain", policyExplain, METH_VARARGS, "(reason[, slower_than, max_calls, sample]) -> explanation"},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

FunctionPolicy::~FunctionPolicy() {
    for (PyObject* m : excludedPositions) Py_XDECREF(m);
    Py_XDECREF(excludedRest);
    Py_XDECREF(excludedNames);
}

std::unique_ptr<FunctionPolicy> resolveFunctionPolicy(PyObject* wrapper, uint32_t fid, const std::string& fullName,
                                                      uint64_t seed, PolicyLedger& ledger) {
    PolicyOptions o;
    std::string optionsJson;
    PyObject* d = g_resolve ? PyObject_CallOneArg(g_resolve, wrapper) : nullptr;
    if (g_resolve && (!d || !PyDict_Check(d))) {
        Py_XDECREF(d);
        PyErr_Clear();
        return nullptr;
    }
    auto fail = [&]() -> std::unique_ptr<FunctionPolicy> {
        Py_XDECREF(d);
        PyErr_Clear();
        return nullptr;
    };
    if (d) {
        int keepRaised = 0, hasSlower = 0;
        if (!readU64(d, "max_calls", o.maxCalls) || !readU64(d, "first", o.first) || !readU64(d, "every", o.every) ||
            !readDouble(d, "sample", o.sample) || !readU64(d, "max_bytes", o.maxBytes) ||
            !readU64(d, "slower_than_ns", o.slowerThanNs))
            return fail();
        if (PyObject* k = PyDict_GetItemString(d, "keep_raised")) keepRaised = PyObject_IsTrue(k);
        if (PyObject* s = PyDict_GetItemString(d, "has_slower_than")) hasSlower = PyObject_IsTrue(s);
        o.keep = keepRaised > 0 ? Keep::Raised : Keep::All;
        o.hasSlowerThan = hasSlower > 0;
        if (o.every == 0) o.every = 1;
    }
    std::vector<std::string> names;
    PyObject* exclude = d ? PyDict_GetItemString(d, "exclude") : nullptr;  // [(name, position or None, marker, rest)]
    auto policy = std::make_unique<FunctionPolicy>(o, seed, functionHash(fullName));
    if (exclude && PyList_Check(exclude)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(exclude); ++i) {
            PyObject* item = PyList_GET_ITEM(exclude, i);
            PyObject *name, *position, *marker;
            int rest;
            if (!PyArg_ParseTuple(item, "UOOp", &name, &position, &marker, &rest)) return fail();
            names.emplace_back(PyUnicode_AsUTF8(name));
            if (rest) {
                policy->restFrom = PyLong_AsSsize_t(position);
                Py_INCREF(marker);
                Py_XSETREF(policy->excludedRest, marker);
                continue;
            }
            if (position != Py_None) {
                const Py_ssize_t at = PyLong_AsSsize_t(position);
                if (at < 0 || at > 4096) return fail();
                if (policy->excludedPositions.size() <= static_cast<size_t>(at))
                    policy->excludedPositions.resize(static_cast<size_t>(at) + 1, nullptr);
                Py_INCREF(marker);
                Py_XSETREF(policy->excludedPositions[static_cast<size_t>(at)], marker);
            }
            if (!policy->excludedNames && !(policy->excludedNames = PyDict_New())) return fail();
            if (PyDict_SetItem(policy->excludedNames, name, marker) < 0) return fail();
        }
    }
    Py_XDECREF(d);
    (void)ledger.counts(fid, policyOptionsJson(o, names));  // the session's ledger names the options
    return policy;
}

void PolicyInputs::shape(const FunctionPolicy& policy, size_t nargs, PyObject* kwnames) {
    const FunctionPolicy* p = &policy;
    PyObject* const* args = args_;
    count_ = nargs + (kwnames ? static_cast<size_t>(PyTuple_GET_SIZE(kwnames)) : 0);
    owned_ = new PyObject*[count_ ? count_ : 1];
    for (size_t i = 0; i < count_; ++i) {
        PyObject* o = excludedMarker(*p, i, nargs, kwnames);
        if (!o) o = args[i];
        Py_INCREF(o);
        owned_[i] = o;
    }
    args_ = owned_;
}

void PolicyInputs::release() {
    for (size_t i = 0; i < count_; ++i) Py_DECREF(owned_[i]);
    delete[] owned_;
}

PyObject* summaryOverLimit(PyObject* o, uint64_t limit) {
    if (!g_summarize || estimateBytes(o, limit) <= limit) return nullptr;
    PyObject* s = PyObject_CallOneArg(g_summarize, o);
    if (!s) PyErr_Clear();  // the value itself is recorded then
    return s;
}

PyObject* pickledSummary(PyObject* value, PyObject* pickled) {
    if (!g_summarize) return nullptr;
    PyObject* reason = PyUnicode_FromString("max_bytes");
    PyObject* s = reason ? PyObject_CallFunctionObjArgs(g_summarize, value, reason, pickled, nullptr) : nullptr;
    Py_XDECREF(reason);
    if (!s) PyErr_Clear();
    return s;
}

int addPolicyFunctions(PyObject* module) { return PyModule_AddFunctions(module, policyMethods); }

}  // namespace callmonitor::py
