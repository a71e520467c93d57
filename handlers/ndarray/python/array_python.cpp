#include "ndarray/python/array_python.h"

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL callmonitor_ARRAY_API
#include <numpy/arrayobject.h>
#include <numpy/arrayscalars.h>

#include <cstring>
#include <string>
#include <unordered_map>

#include <xtensor/xadapt.hpp>
#include <xtensor/xstrided_view.hpp>

namespace callmonitor::py {
namespace {

bool g_ready = false;

// dtype.str by descriptor (builtin descriptors are singletons; the map holds
// a reference so a cached pointer is never reused by another descriptor).
std::unordered_map<PyArray_Descr*, std::string>& dtypeNames() {
    static auto* m = new std::unordered_map<PyArray_Descr*, std::string>();
    return *m;
}
std::unordered_map<std::string, PyArray_Descr*>& descrByName() {
    static auto* m = new std::unordered_map<std::string, PyArray_Descr*>();
    return *m;
}

bool nativeKind(char kind) {
    switch (kind) {
        case 'b': case 'i': case 'u': case 'f': case 'c': case 'M': case 'm': case 'S': case 'U':
            return true;
        default:
            return false;
    }
}

// dtype.str of `d`, or nullptr when the dtype is not stored natively
// (object, structured, sub-array, void).
const std::string* dtypeName(PyArray_Descr* d) {
    auto& m = dtypeNames();
    auto it = m.find(d);
    if (it != m.end()) return &it->second;
    if (!nativeKind(d->kind) || PyDataType_HASFIELDS(d) || PyDataType_HASSUBARRAY(d)) return nullptr;
    PyObject* s = PyObject_GetAttrString(reinterpret_cast<PyObject*>(d), "str");
    if (!s) { PyErr_Clear(); return nullptr; }
    Py_ssize_t n;
    const char* c = PyUnicode_AsUTF8AndSize(s, &n);
    if (!c) { Py_DECREF(s); PyErr_Clear(); return nullptr; }
    std::string name(c, static_cast<size_t>(n));
    Py_DECREF(s);
    Py_INCREF(d);
    return &m.emplace(d, std::move(name)).first->second;
}

// A new reference to the descriptor named `name`, or nullptr with an error set.
PyArray_Descr* descrFor(std::string_view name) {
    auto& m = descrByName();
    std::string key(name);
    auto it = m.find(key);
    if (it != m.end()) { Py_INCREF(it->second); return it->second; }
    PyObject* s = PyUnicode_FromStringAndSize(name.data(), static_cast<Py_ssize_t>(name.size()));
    if (!s) return nullptr;
    PyArray_Descr* d = nullptr;
    int ok = PyArray_DescrConverter(s, &d);
    Py_DECREF(s);
    if (!ok || !d) return nullptr;
    m.emplace(std::move(key), d);  // keeps the converter's reference
    Py_INCREF(d);
    return d;
}

// Copies a non-contiguous array into C order. xtensor does the strided walk
// for the common element sizes; other sizes use a plain index walk.
template <class E>
void stridedCopyTyped(PyArrayObject* a, uint8_t* dst) {
    int nd = PyArray_NDIM(a);
    std::vector<size_t> shape(nd);
    std::vector<std::ptrdiff_t> strides(nd);
    size_t n = 1;
    for (int i = 0; i < nd; ++i) {
        shape[i] = static_cast<size_t>(PyArray_DIMS(a)[i]);
        strides[i] = PyArray_STRIDES(a)[i] / static_cast<std::ptrdiff_t>(sizeof(E));
        n *= shape[i];
    }
    // Negative strides: xt::adapt wants the pointer to element 0, which is
    // exactly PyArray_DATA.
    auto src = xt::adapt(reinterpret_cast<const E*>(PyArray_DATA(a)), n, xt::no_ownership(), shape, strides);
    auto out = xt::adapt(reinterpret_cast<E*>(dst), n, xt::no_ownership(), shape);
    out = src;
}

struct alignas(8) Item16 { uint8_t b[16]; };

void stridedCopyGeneric(PyArrayObject* a, uint8_t* dst) {
    int nd = PyArray_NDIM(a);
    size_t item = static_cast<size_t>(PyArray_ITEMSIZE(a));
    std::vector<npy_intp> idx(nd, 0);
    npy_intp n = PyArray_SIZE(a);
    const char* base = static_cast<const char*>(PyArray_DATA(a));
    for (npy_intp k = 0; k < n; ++k) {
        const char* p = base;
        for (int i = 0; i < nd; ++i) p += idx[i] * PyArray_STRIDES(a)[i];
        std::memcpy(dst + static_cast<size_t>(k) * item, p, item);
        for (int i = nd - 1; i >= 0; --i) {
            if (++idx[i] < PyArray_DIMS(a)[i]) break;
            idx[i] = 0;
        }
    }
}

void copyToCOrder(PyArrayObject* a, uint8_t* dst) {
    // Strides must be multiples of the item size for the typed walk.
    size_t item = static_cast<size_t>(PyArray_ITEMSIZE(a));
    bool aligned = true;
    for (int i = 0; i < PyArray_NDIM(a); ++i)
        if (PyArray_STRIDES(a)[i] % static_cast<npy_intp>(item) != 0) aligned = false;
    if (aligned) {
        switch (item) {
            case 1: return stridedCopyTyped<uint8_t>(a, dst);
            case 2: return stridedCopyTyped<uint16_t>(a, dst);
            case 4: return stridedCopyTyped<uint32_t>(a, dst);
            case 8: return stridedCopyTyped<uint64_t>(a, dst);
            default: break;
        }
    }
    stridedCopyGeneric(a, dst);
}

}  // namespace

bool numpyReady() { return g_ready; }

bool ensureNumpy() {
    if (g_ready) return true;
    // Only when the program has imported numpy already.
    PyObject* modules = PyImport_GetModuleDict();
    PyObject* np = PyDict_GetItemString(modules, "numpy");
    if (!np) return false;
    if (_import_array() < 0) {
        PyErr_Clear();
        return false;
    }
    g_ready = true;
    return true;
}

// Reading needs numpy even when the reading program never imported it.
static bool importNumpy() {
    if (ensureNumpy()) return true;
    PyObject* np = PyImport_ImportModule("numpy");
    if (!np) return false;
    Py_DECREF(np);
    if (ensureNumpy()) return true;
    PyErr_SetString(PyExc_ImportError, "numpy's C API could not be loaded");
    return false;
}

bool isArrayType(PyTypeObject* type) { return g_ready && type == &PyArray_Type; }

bool isArrayOrScalarType(PyTypeObject* type) {
    return g_ready && (type == &PyArray_Type || PyType_IsSubtype(type, &PyGenericArrType_Type));
}

bool isPlainArray(PyObject* obj) {
    if (!g_ready || Py_TYPE(obj) != &PyArray_Type) return false;
    return dtypeName(PyArray_DESCR(reinterpret_cast<PyArrayObject*>(obj))) != nullptr;
}

bool isNumericScalar(PyObject* obj) {
    if (!g_ready || !PyArray_IsScalar(obj, Generic)) return false;
    PyArray_Descr* d = PyArray_DescrFromScalar(obj);
    if (!d) { PyErr_Clear(); return false; }
    char k = d->kind;
    bool ok = (k == 'b' || k == 'i' || k == 'u' || k == 'f' || k == 'c' || k == 'M' || k == 'm') &&
              dtypeName(d) != nullptr;
    Py_DECREF(d);
    return ok;
}

bool writeArray(ValueWriter& w, PyObject* obj, bool memo, const PayloadTarget& payloads) {
    auto* a = reinterpret_cast<PyArrayObject*>(obj);
    const std::string* name = dtypeName(PyArray_DESCR(a));
    if (!name) {
        PyErr_SetString(PyExc_TypeError, "array dtype is not stored natively");
        return false;
    }
    ArrayHeader h;
    h.dtype = *name;
    int nd = PyArray_NDIM(a);
    h.shape.resize(static_cast<size_t>(nd));
    for (int i = 0; i < nd; ++i) h.shape[i] = static_cast<uint64_t>(PyArray_DIMS(a)[i]);
    size_t nbytes = static_cast<size_t>(PyArray_NBYTES(a));
    bool c = PyArray_IS_C_CONTIGUOUS(a), f = PyArray_IS_F_CONTIGUOUS(a);
    h.order = (!c && f) ? 'F' : 'C';
    const void* src = (c || f) ? PyArray_DATA(a) : nullptr;
    if (nbytes <= kInlineArrayBytes || payloads.payloads == nullptr) {
        uint8_t* dst = w.arrayInlineReserve(h, nbytes, memo);
        if (src) { if (nbytes) std::memcpy(dst, src, nbytes); }
        else copyToCOrder(a, dst);
        return true;
    }
    uint8_t* fill;
    int64_t slot = addPayload(payloads, obj, src, nbytes, &fill);
    if (slot < 0) return false;
    if (fill) {
        if (src) std::memcpy(fill, src, nbytes);
        else copyToCOrder(a, fill);
    }
    w.arrayBlob(h, static_cast<uint32_t>(slot), nbytes, memo);
    return true;
}

bool writeScalar(ValueWriter& w, PyObject* obj) {
    PyArray_Descr* d = PyArray_DescrFromScalar(obj);
    if (!d) return false;
    const std::string* name = dtypeName(d);
    if (!name) {
        Py_DECREF(d);
        PyErr_SetString(PyExc_TypeError, "scalar dtype is not stored natively");
        return false;
    }
    uint8_t buf[64];
    size_t n = static_cast<size_t>(d->elsize);
    if (n > sizeof(buf)) {
        Py_DECREF(d);
        PyErr_SetString(PyExc_TypeError, "scalar too wide");
        return false;
    }
    PyArray_ScalarAsCtype(obj, buf);
    w.numpyScalar(*name, buf, n);
    Py_DECREF(d);
    return true;
}

PyObject* readArray(const Token& t, std::string_view bytes) {
    if (!importNumpy()) return nullptr;
    PyArray_Descr* d = descrFor(t.name);
    if (!d) return nullptr;
    std::vector<npy_intp> dims(t.shape.begin(), t.shape.end());
    PyObject* arr = PyArray_Empty(static_cast<int>(dims.size()), dims.data(), d, t.order == 'F' ? 1 : 0);
    if (!arr) return nullptr;
    auto* a = reinterpret_cast<PyArrayObject*>(arr);
    if (static_cast<uint64_t>(PyArray_NBYTES(a)) != bytes.size()) {
        Py_DECREF(arr);
        PyErr_SetString(PyExc_ValueError, "stored array bytes do not match its shape and dtype");
        return nullptr;
    }
    if (!bytes.empty()) std::memcpy(PyArray_DATA(a), bytes.data(), bytes.size());
    return arr;
}

PyObject* viewArray(const Token& t, std::string_view bytes, PyObject* keepAlive) {
    if (!importNumpy()) {
        Py_DECREF(keepAlive);
        return nullptr;
    }
    PyArray_Descr* d = descrFor(t.name);  // stolen by PyArray_NewFromDescr
    if (!d) {
        Py_DECREF(keepAlive);
        return nullptr;
    }
    std::vector<npy_intp> dims(t.shape.begin(), t.shape.end());
    const int flags = t.order == 'F' ? NPY_ARRAY_F_CONTIGUOUS : NPY_ARRAY_C_CONTIGUOUS;  // not WRITEABLE
    PyObject* arr = PyArray_NewFromDescr(&PyArray_Type, d, static_cast<int>(dims.size()), dims.data(), nullptr,
                                         const_cast<char*>(bytes.data()), flags, nullptr);
    if (!arr) {
        Py_DECREF(keepAlive);
        return nullptr;
    }
    auto* a = reinterpret_cast<PyArrayObject*>(arr);
    if (static_cast<uint64_t>(PyArray_NBYTES(a)) != bytes.size()) {
        Py_DECREF(arr);
        Py_DECREF(keepAlive);
        PyErr_SetString(PyExc_ValueError, "stored array bytes do not match its shape and dtype");
        return nullptr;
    }
    if (PyArray_SetBaseObject(a, keepAlive) < 0) {  // steals keepAlive, even on failure
        Py_DECREF(arr);
        return nullptr;
    }
    return arr;
}

void makeReadOnly(PyObject* obj) {
    if (numpyReady() && PyArray_Check(obj)) PyArray_CLEARFLAGS(reinterpret_cast<PyArrayObject*>(obj), NPY_ARRAY_WRITEABLE);
}

PyObject* readScalar(const Token& t) {
    if (!importNumpy()) return nullptr;
    PyArray_Descr* d = descrFor(t.name);
    if (!d) return nullptr;
    alignas(16) uint8_t buf[64];
    if (t.data.size() > sizeof(buf) || t.data.size() != static_cast<size_t>(d->elsize)) {
        Py_DECREF(d);
        PyErr_SetString(PyExc_ValueError, "stored scalar does not match its dtype");
        return nullptr;
    }
    std::memcpy(buf, t.data.data(), t.data.size());
    PyObject* s = PyArray_Scalar(buf, d, nullptr);
    Py_DECREF(d);
    return s;
}

}  // namespace callmonitor::py
