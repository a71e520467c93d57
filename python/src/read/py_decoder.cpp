#include "read/py_decoder.h"

#include <cstdint>
#include <vector>

#include "callmonitor/errors.h"
#include "callmonitor/value_parser.h"
#include "builtin_table.h"
#include "hooks.h"
#include "read/object_view.h"

namespace callmonitor::py {
namespace {

// A container being filled. Items arrive in stream order.
struct Frame {
    PyObject* obj;          // borrowed from `owned`
    Tag tag;
    uint64_t remaining;     // items (Dict: keys + values) still to come
    size_t builtinMemo = SIZE_MAX;  // Builtin (kind in `name`) with the memo flag: its memo slot
    Py_ssize_t index = 0;   // next tuple slot
    PyObject* key = nullptr;  // Dict: key waiting for its value (strong)
    std::string name, dir;  // Legacy; Object: module, qualname
    uint8_t form = 0;       // Object
    int64_t memoIndex = -1; // Object: its memo entry (the shell until the state is applied)
};

struct Decoder {
    const DecodeOptions& opt;
    std::vector<PyObject*> owned;   // every object made, strong refs (released at end)
    std::vector<PyObject*> memo;    // borrowed from `owned`
    std::vector<Frame> frames;

    ~Decoder() {
        for (auto& f : frames) Py_XDECREF(f.key);
        for (PyObject* o : owned) Py_DECREF(o);
    }

    PyObject* keep(PyObject* o) {
        if (o) owned.push_back(o);
        return o;
    }

    PyObject* unrestorable(std::string_view type, std::string_view repr, std::string_view reason) {
        return PyObject_CallFunction(Hooks::get().makeUnrestorable, "s#s#s#", type.data(), (Py_ssize_t)type.size(),
                                     repr.data(), (Py_ssize_t)repr.size(), reason.data(), (Py_ssize_t)reason.size());
    }

    // Makes the object for a token (a new reference), or a container shell.
    PyObject* make(const Token& t) {
        switch (t.tag) {
            case Tag::None: Py_RETURN_NONE;
            case Tag::False: Py_RETURN_FALSE;
            case Tag::True: Py_RETURN_TRUE;
            case Tag::Int: return PyLong_FromLongLong(t.integer);
            case Tag::BigInt: {
                PyObject* v = _PyLong_FromByteArray(reinterpret_cast<const unsigned char*>(t.data.data()),
                                                    t.data.size(), 1, 0);
                if (v && t.negative) {
                    PyObject* n = PyNumber_Negative(v);
                    Py_DECREF(v);
                    v = n;
                }
                return v;
            }
            case Tag::Float: return PyFloat_FromDouble(t.real);
            case Tag::Complex: return PyComplex_FromDoubles(t.real, t.imag);
            case Tag::Str: return PyUnicode_DecodeUTF8(t.data.data(), (Py_ssize_t)t.data.size(), "surrogatepass");
            case Tag::Bytes: return PyBytes_FromStringAndSize(t.data.data(), (Py_ssize_t)t.data.size());
            case Tag::ByteArray: return PyByteArray_FromStringAndSize(t.data.data(), (Py_ssize_t)t.data.size());
            case Tag::List: return PyList_New(0);
            case Tag::Tuple: {
                PyObject* tup = PyTuple_New((Py_ssize_t)t.count);
                if (!tup) return nullptr;
                // Placeholders keep the tuple valid while a cycle may expose it.
                for (Py_ssize_t i = 0; i < (Py_ssize_t)t.count; ++i) {
                    Py_INCREF(Py_None);
                    PyTuple_SET_ITEM(tup, i, Py_None);
                }
                return tup;
            }
            case Tag::Dict: return PyDict_New();
            case Tag::Set: return PySet_New(nullptr);
            case Tag::FrozenSet: return PyFrozenSet_New(nullptr);
            case Tag::PayloadBytes: {  // a large str/bytes/bytearray stored apart (format v2)
                if (!opt.blobs) {
                    PyErr_SetString(PyExc_ValueError, "bytes stored apart but no payload source");
                    return nullptr;
                }
                std::string_view b = opt.blobs(t.blobIndex);
                if (b.size() != t.nbytes) {
                    if (opt.blobDone) opt.blobDone();
                    throw CorruptError("payload size does not match its header");
                }
                PyObject* o = t.payloadKind == Tag::Str
                                  ? PyUnicode_DecodeUTF8(b.data(), (Py_ssize_t)b.size(), "surrogatepass")
                              : t.payloadKind == Tag::ByteArray ? PyByteArray_FromStringAndSize(b.data(), (Py_ssize_t)b.size())
                                                                : PyBytes_FromStringAndSize(b.data(), (Py_ssize_t)b.size());
                if (opt.blobDone) opt.blobDone();
                return o;
            }
            case Tag::Array:
            case Tag::NpScalar: {  // a built-in handler's tags (ndarray)
                BuiltinHandler* h = builtin::forTag(t.tag);
                if (!h) break;
                return h->decode(t, opt);
            }
            case Tag::Handler: {
                PyObject* mv = PyMemoryView_FromMemory(const_cast<char*>(t.data.data()), (Py_ssize_t)t.data.size(),
                                                       PyBUF_READ);
                if (!mv) return nullptr;
                PyObject* payload = PyBytes_FromObject(mv);
                Py_DECREF(mv);
                if (!payload) return nullptr;
                PyObject* r = PyObject_CallFunction(Hooks::get().decodeHandler, "s#O", t.name.data(),
                                                    (Py_ssize_t)t.name.size(), payload);
                Py_DECREF(payload);
                return r ? r : unrestorableFromError(t.name, ("its handler " + std::string(t.name)).c_str());
            }
            case Tag::Pickle: return loadPickled(t, opt);  // or an Unrestorable saying why not
            case Tag::Ref: return resolveReference(t, opt);
            case Tag::Object: return objectShell(t, opt);  // the state follows (run())
            case Tag::Opaque: return unrestorable(t.name, t.data, t.extra);
            case Tag::Backref:
            case Tag::Legacy:
            case Tag::Builtin:
                break;
        }
        PyErr_SetString(PyExc_ValueError, "unexpected value tag");
        return nullptr;
    }

    // The object of a Builtin item from its decoded state (a new reference),
    // or an Unrestorable saying why it cannot be made in this process.
    PyObject* restoreBuiltin(const std::string& kind, PyObject* state) {
        std::string repr = "<" + kind + ">";
        BuiltinHandler* h = builtin::forKind(kind);
        if (!h)
            return unrestorable(kind, repr,
                                "recorded by a built-in handler this version of callmonitor does not have; "
                                "read it with the callmonitor version that recorded it (or a newer one)");
        PyObject* r = h->restore(kind, state);
        if (r) return r;
        bool missing = PyErr_ExceptionMatches(PyExc_ImportError);
        std::string error = takeErrorText();
        std::string why = missing ? std::string(h->neededModule()) + " is not importable in this process (" + error +
                                        "); install it to restore this value"
                                  : "the built-in " + std::string(h->name()) + " handler could not restore it: " + error;
        return unrestorable(kind, repr, why);
    }

    // Adds a finished value to the innermost container. Returns false with an error set.
    bool attach(PyObject* v) {
        Frame& f = frames.back();
        int rc = 0;
        switch (f.tag) {
            case Tag::Builtin: {  // its state is complete: the object
                PyObject* r = restoreBuiltin(f.name, v);
                if (!r) return false;
                f.obj = keep(r);
                if (f.builtinMemo != SIZE_MAX) memo[f.builtinMemo] = f.obj;
                break;
            }
            case Tag::List: rc = PyList_Append(f.obj, v); break;
            case Tag::Tuple: {
                Py_INCREF(v);
                PyObject* old = PyTuple_GET_ITEM(f.obj, f.index);
                PyTuple_SET_ITEM(f.obj, f.index, v);
                Py_XDECREF(old);
                ++f.index;
                break;
            }
            case Tag::Set:
            case Tag::FrozenSet: rc = PySet_Add(f.obj, v); break;
            case Tag::Dict:
                if (!f.key) {
                    Py_INCREF(v);
                    f.key = v;
                } else {
                    rc = PyDict_SetItem(f.obj, f.key, v);
                    Py_CLEAR(f.key);
                }
                break;
            case Tag::Legacy: {
                std::string abs = opt.writerDir + "/" + f.dir;
                PyObject* r = PyObject_CallFunction(Hooks::get().legacyLoad, "s#sO", f.name.data(),
                                                    (Py_ssize_t)f.name.size(), abs.c_str(), v);
                if (!r) r = unrestorableFromError(f.name, ("its callmonitor 0.3 handler " + f.name).c_str());
                if (!r) return false;
                f.obj = keep(r);
                break;
            }
            case Tag::Object: {
                PyObject* r = keep(objectFinish(f.obj, f.name, f.dir, f.form, v, opt));
                if (!r) return false;
                if (f.memoIndex >= 0) memo[static_cast<size_t>(f.memoIndex)] = r;  // later Backrefs: the object
                f.obj = r;
                break;
            }
            default: break;
        }
        if (rc < 0) return false;
        --f.remaining;
        return true;
    }

    PyObject* run(std::string_view bytes) {
        ValueParser p(bytes);
        Token t;
        PyObject* result = nullptr;
        do {
            p.next(t);
            PyObject* v = nullptr;
            if (t.tag == Tag::Backref) {
                if (t.count >= memo.size() || !memo[t.count]) p.fail("reference to an object not yet decoded");
                v = memo[t.count];
            } else if (t.tag == Tag::Legacy) {
                Frame f{nullptr, Tag::Legacy, 1};
                f.name.assign(t.name);
                f.dir.assign(t.extra);
                frames.push_back(std::move(f));
                continue;
            } else if (t.tag == Tag::Builtin) {  // its state follows; the object is made when it is complete
                Frame f{nullptr, Tag::Builtin, 1};
                f.name.assign(t.name);
                if (t.memo) {
                    f.builtinMemo = memo.size();
                    memo.push_back(nullptr);  // a Backref before the object exists is refused
                }
                frames.push_back(std::move(f));
                continue;
            } else {
                v = keep(make(t));
                if (!v) return nullptr;
                if (t.memo) memo.push_back(v);
                if (t.tag == Tag::Object) {  // its state follows: one value
                    Frame f{v, Tag::Object, 1};
                    f.name.assign(t.name);
                    f.dir.assign(t.extra);
                    f.form = static_cast<uint8_t>(t.integer);
                    f.memoIndex = t.memo ? static_cast<int64_t>(memo.size() - 1) : -1;
                    frames.push_back(std::move(f));
                    continue;
                }
                bool isContainer = t.tag == Tag::List || t.tag == Tag::Tuple || t.tag == Tag::Dict ||
                                   t.tag == Tag::Set || t.tag == Tag::FrozenSet;
                if (isContainer) {
                    uint64_t n = t.tag == Tag::Dict ? 2 * t.count : t.count;
                    if (n > 0) {
                        frames.push_back(Frame{v, t.tag, n});
                        continue;
                    }
                }
            }
            // v is complete: attach it, and every container it completes.
            for (;;) {
                if (frames.empty()) {
                    result = v;
                    break;
                }
                if (!attach(v)) return nullptr;
                if (frames.back().remaining > 0) break;
                v = frames.back().obj;
                frames.pop_back();
            }
        } while (!result);
        if (!p.atEnd()) p.fail("trailing bytes after the value");
        Py_INCREF(result);
        return result;
    }
};

}  // namespace

PyObject* decodeToPython(std::string_view bytes, const DecodeOptions& opt) {
    Decoder d{opt, {}, {}, {}};
    return d.run(bytes);
}

}  // namespace callmonitor::py
