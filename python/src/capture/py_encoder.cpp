#include "capture/py_encoder.h"

#include <cstring>
#include <string_view>
#include <unordered_map>

#include "builtin_table.h"
#include "capture/function_policy.h"
#include "capture/handler_table.h"
#include "capture/object_state.h"
#include "hooks.h"

namespace callmonitor::py {
namespace {

constexpr Py_ssize_t kReprLimit = 200;

// An object reachable only from its container (and our work stack) cannot
// appear twice in the tree, so it needs no memo entry. Above this count it
// might, and gets one.
constexpr Py_ssize_t kSharedRefcount = 2;

std::unordered_map<PyObject*, uint64_t>& bigMemo() {
    thread_local std::unordered_map<PyObject*, uint64_t> m;
    return m;
}
constexpr size_t kLinearMemo = 32;

std::string typeName(PyTypeObject* t) {
    PyObject* mod = PyObject_GetAttrString(reinterpret_cast<PyObject*>(t), "__module__");
    std::string out;
    if (mod && PyUnicode_Check(mod)) {
        const char* m = PyUnicode_AsUTF8(mod);
        if (m && std::strcmp(m, "builtins") != 0) {
            out = m;
            out += ".";
        }
    }
    if (!mod || PyErr_Occurred()) PyErr_Clear();
    Py_XDECREF(mod);
    PyObject* q = PyObject_GetAttrString(reinterpret_cast<PyObject*>(t), "__qualname__");
    const char* qs = q && PyUnicode_Check(q) ? PyUnicode_AsUTF8(q) : nullptr;
    out += qs ? qs : t->tp_name;
    if (PyErr_Occurred()) PyErr_Clear();
    Py_XDECREF(q);
    return out;
}

// UTF-8 of a str, surrogates passed through. Returns false with an error set.
bool utf8(PyObject* s, std::string_view& out, PyObject** holder) {
    Py_ssize_t n;
    const char* c = PyUnicode_AsUTF8AndSize(s, &n);
    if (c) {
        out = std::string_view(c, static_cast<size_t>(n));
        return true;
    }
    PyErr_Clear();
    PyObject* b = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (!b) return false;
    *holder = b;
    out = std::string_view(PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b)));
    return true;
}

// A truncated repr that never raises.
std::string safeRepr(PyObject* obj) {
    PyObject* r = PyObject_Repr(obj);
    if (!r) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        std::string msg = "<repr failed: ";
        msg += t ? reinterpret_cast<PyTypeObject*>(t)->tp_name : "error";
        msg += ">";
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        return msg;
    }
    std::string out;
    Py_ssize_t len = PyUnicode_GET_LENGTH(r);
    PyObject* cut = len > kReprLimit ? PyUnicode_Substring(r, 0, kReprLimit) : (Py_INCREF(r), r);
    PyObject* holder = nullptr;
    std::string_view v;
    if (cut && utf8(cut, v, &holder)) out.assign(v.data(), v.size());
    else PyErr_Clear();
    if (len > kReprLimit) out += "...";
    Py_XDECREF(holder);
    Py_XDECREF(cut);
    Py_DECREF(r);
    return out;
}

// A str/bytes/bytearray of more than kInlineValueBytes as a payload slot,
// when this section takes payloads. Returns false when it is to be inline.
bool writePayloadBytes(ValueWriter& w, PyObject* obj, Tag kind, std::string_view bytes, bool memo,
                       const EncodeOptions& opt) {
    if (!opt.payloads.payloads || bytes.size() <= kInlineValueBytes) return false;
    uint8_t* fill;
    int64_t slot = addPayload(opt.payloads, obj, bytes.data(), bytes.size(), &fill);
    if (slot < 0) {
        PyErr_Clear();  // no memory for the copy: inline, which needs as much (and may fail in turn)
        return false;
    }
    if (fill) std::memcpy(fill, bytes.data(), bytes.size());
    w.payloadBytes(kind, static_cast<uint32_t>(slot), bytes.size(), memo);
    return true;
}

}  // namespace

template <class W>
__attribute__((always_inline)) inline bool PyEncoder::writeFlat(W& w, PyObject* obj, Py_ssize_t heldRefs) {
    PyTypeObject* t = Py_TYPE(obj);
    bool list = t == &PyList_Type;
    if (!list && t != &PyTuple_Type && t != &PyDict_Type) return false;
    Py_ssize_t n = list ? PyList_GET_SIZE(obj) : t == &PyTuple_Type ? PyTuple_GET_SIZE(obj) : PyDict_GET_SIZE(obj);
    if (n > kFlatItems) return false;
    // Shared: it takes a memo index (or is a Backref), exactly as encodeItem does.
    bool memo = Py_REFCNT(obj) > heldRefs;
    if (memo) {
        int64_t seen = memoFind(obj);
        if (seen >= 0) {
            w.backref(static_cast<uint64_t>(seen));
            return true;
        }
    }
    size_t mark = w.size();
    bool ok = true;
    if (t == &PyDict_Type) {
        w.beginDict(static_cast<uint64_t>(n), memo);
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (ok && PyDict_Next(obj, &pos, &k, &v)) ok = writeImmediate(w, k) && writeImmediate(w, v);
    } else {
        PyObject** items = list ? reinterpret_cast<PyListObject*>(obj)->ob_item
                                : reinterpret_cast<PyTupleObject*>(obj)->ob_item;
        if (list) w.beginList(static_cast<uint64_t>(n), memo);
        else w.beginTuple(static_cast<uint64_t>(n), memo);
        for (Py_ssize_t i = 0; ok && i < n; ++i) ok = writeImmediate(w, items[i]);
    }
    if (!ok) {
        w.rewind(mark);  // an item needs the general path: nothing written
        return false;
    }
    if (memo) memoAdd(obj);  // its memo index is the next one: no memo item was written inside
    return true;
}

void PyEncoder::push(PyObject* obj, Target target) {
    Py_INCREF(obj);
    stack_.push_back(Work{obj, Item, 0, target});
}

void PyEncoder::emitSequence(ValueWriter& w) {
    size_t n = seq_.size();
    for (size_t i = 0; i < n; ++i) {
        const Work& item = seq_[i];
        if (item.op == DictHeader) {
            w.beginDict(item.n, false);
            continue;
        }
        if (writeImmediate(w, item.obj) || writeFlat(w, item.obj, 1)) continue;
        // Items from here on may run Python code: hold them, in reverse.
        for (size_t j = n; j-- > i;) {
            Work rest = seq_[j];
            if (rest.op == Item) Py_INCREF(rest.obj);
            stack_.push_back(rest);
        }
        break;
    }
    seq_.clear();
}

int64_t PyEncoder::memoFind(PyObject* obj) const {
    if (memo_.size() <= kLinearMemo) {
        for (size_t i = 0; i < memo_.size(); ++i)
            if (memo_[i] == obj) return static_cast<int64_t>(i);
        return -1;
    }
    auto& m = bigMemo();
    auto it = m.find(obj);
    return it == m.end() ? -1 : static_cast<int64_t>(it->second);
}

void PyEncoder::memoAdd(PyObject* obj) {
    Py_INCREF(obj);
    memo_.push_back(obj);
    if (memo_.size() == kLinearMemo + 1) {
        auto& m = bigMemo();
        for (size_t i = 0; i < memo_.size(); ++i) m.emplace(memo_[i], i);
    } else if (memo_.size() > kLinearMemo + 1) {
        bigMemo().emplace(obj, memo_.size() - 1);
    }
}

bool PyEncoder::writeBackrefOrMemo(ValueWriter& w, PyObject* obj, bool& memo) {
    int64_t seen = memoFind(obj);
    if (seen >= 0) {
        w.backref(static_cast<uint64_t>(seen));
        return true;
    }
    memo = Py_REFCNT(obj) > kSharedRefcount;
    if (memo) memoAdd(obj);
    return false;
}

void PyEncoder::resetHeld() {
    for (auto& w : stack_)
        if (w.op == Item) Py_DECREF(w.obj);
    stack_.clear();
    if (memo_.size() > kLinearMemo) bigMemo().clear();
    for (PyObject* o : memo_) Py_DECREF(o);
    memo_.clear();
    for (PyObject* o : legacyDone_) Py_DECREF(o);
    legacyDone_.clear();
}

template <class W>
__attribute__((always_inline)) inline bool PyEncoder::writeFlatInputs(W& w, PyObject* const* args, size_t nargs,
                                                                      PyObject* kwnames, size_t nkw, size_t& i,
                                                                      size_t& k) {
    w.beginTuple(2, false);
    w.beginTuple(nargs, false);
    // In stream order: the args, the kwargs dict header, then key/value
    // pairs. Immediates are written on the spot (the common case); from the
    // first value that needs more, the rest goes through the work stack.
    while (i < nargs && (writeImmediate(w, args[i]) || writeFlat(w, args[i], 1))) ++i;
    if (i < nargs) return false;
    w.beginDict(nkw, false);
    for (; k < nkw; ++k) {
        size_t mark = w.size();
        if (writeImmediate(w, PyTuple_GET_ITEM(kwnames, static_cast<Py_ssize_t>(k))) &&
            (writeImmediate(w, args[nargs + k]) || writeFlat(w, args[nargs + k], 1)))
            continue;
        w.rewind(mark);  // this pair goes through the work stack, key first
        return false;
    }
    return true;
}

bool PyEncoder::encode(ValueWriter& w, PyObject* obj, const EncodeOptions& opt, EncodeCounts& counts) {
    if (writeImmediate(w, obj) || writeFlat(w, obj, 1)) {
        reset();
        return true;
    }
    push(obj);
    return run(w, opt, counts);
}

bool PyEncoder::encodeInputs(ValueWriter& w, PyObject* const* args, size_t nargs, PyObject* kwnames,
                             const EncodeOptions& opt, EncodeCounts& counts) {
    size_t nkw = kwnames ? static_cast<size_t>(PyTuple_GET_SIZE(kwnames)) : 0;
    size_t i = 0, k = 0;
    bool flat;
    if (ByteBuffer* out = w.buffer(); out && nargs + 2 * nkw <= kCursorValues) {
        // One capacity check for all of it: room for its three headers and the most each value may take.
        ValueCursor c(*out, 3 * (1 + detail::kMaxVarintBytes) + (nargs + 2 * nkw) * kMaxFlatBytes);
        flat = writeFlatInputs(c, args, nargs, kwnames, nkw, i, k);
        c.done();
    } else {
        flat = writeFlatInputs(w, args, nargs, kwnames, nkw, i, k);
    }
    if (flat) {
        reset();  // drops what writeFlat memoised
        return true;
    }
    seq_.clear();
    if (i < nargs) {
        for (; i < nargs; ++i) seq_.push_back(Work{args[i], Item, 0, Target{static_cast<int64_t>(i), nullptr}});
        seq_.push_back(Work{nullptr, DictHeader, nkw, Target{-1, nullptr}});
    }
    for (; k < nkw; ++k) {
        PyObject* key = PyTuple_GET_ITEM(kwnames, static_cast<Py_ssize_t>(k));
        seq_.push_back(Work{key, Item, 0, Target{-1, nullptr}});
        seq_.push_back(Work{args[nargs + k], Item, 0, Target{-1, key}});
    }
    emitSequence(w);
    return run(w, opt, counts);
}

bool PyEncoder::run(ValueWriter& w, const EncodeOptions& opt, EncodeCounts& counts) {
    bool ok = true;
    while (!stack_.empty()) {
        Work item = stack_.back();
        stack_.pop_back();
        if (item.op == DictHeader) {
            w.beginDict(item.n, false);
            continue;
        }
        ok = encodeItem(w, item, opt, counts);
        Py_DECREF(item.obj);
        if (!ok) break;
    }
    reset();
    return ok;
}

bool PyEncoder::encodeItem(ValueWriter& w, const Work& item, const EncodeOptions& opt, EncodeCounts& counts) {
    PyObject* obj = item.obj;
    PyTypeObject* t = Py_TYPE(obj);
    if (writeImmediate(w, obj)) return true;
    if (__builtin_expect(opt.maxBytes != 0, 0) && item.target.position != kStatePosition) {
        if (PyObject* summary = summaryOverLimit(obj, opt.maxBytes)) {  // max_bytes=: a ValueSummary
            bool ok = encodeOther(w, summary, Target{}, opt, counts);
            Py_DECREF(summary);
            return ok;
        }
    }
    // What writeImmediate leaves of the scalars: ints beyond int64 and
    // strings with lone surrogates.
    if (t == &PyLong_Type) {
        bool negative = _PyLong_Sign(obj) < 0;
        PyObject* mag = PyNumber_Absolute(obj);
        if (!mag) return opaque(w, obj, "integer conversion failed", opt, counts);
        size_t bits = _PyLong_NumBits(mag);
        std::vector<uint8_t> buf((bits + 7) / 8 + 1);
        int r = _PyLong_AsByteArray(reinterpret_cast<PyLongObject*>(mag), buf.data(), buf.size(), 1, 0);
        Py_DECREF(mag);
        if (r < 0) return opaque(w, obj, "integer conversion failed", opt, counts);
        w.bigInteger(negative, buf.data(), buf.size());
        return true;
    }
    if (t == &PyUnicode_Type) {
        PyObject* holder = nullptr;
        std::string_view s;
        if (!utf8(obj, s, &holder)) return opaque(w, obj, "string encoding failed", opt, counts);
        if (!writePayloadBytes(w, obj, Tag::Str, s, false, opt)) w.str(s);
        Py_XDECREF(holder);
        return true;
    }
    if (t == &PyBytes_Type) {  // larger than inline
        std::string_view b(PyBytes_AS_STRING(obj), static_cast<size_t>(PyBytes_GET_SIZE(obj)));
        if (!writePayloadBytes(w, obj, Tag::Bytes, b, false, opt)) w.bytes(b);
        return true;
    }

    bool container = t == &PyList_Type || t == &PyTuple_Type || t == &PyDict_Type || t == &PySet_Type ||
                     t == &PyFrozenSet_Type || t == &PyByteArray_Type;
    if (!container) return encodeOther(w, obj, item.target, opt, counts);

    // Containers: shared ones get a memo index before their items are written.
    bool memo;
    if (writeBackrefOrMemo(w, obj, memo)) return true;

    if (t == &PyByteArray_Type) {
        std::string_view b(PyByteArray_AS_STRING(obj), static_cast<size_t>(PyByteArray_GET_SIZE(obj)));
        if (!writePayloadBytes(w, obj, Tag::ByteArray, b, memo, opt)) w.byteArray(b, memo);
        return true;
    }
    // Items are written directly while they are immediates; from the first
    // one that is not, the rest are held on the work stack (handler and
    // pickle code may then run and mutate the container; the count written
    // already is what was there).
    seq_.clear();
    if (t == &PyList_Type || t == &PyTuple_Type) {
        Py_ssize_t n = t == &PyList_Type ? PyList_GET_SIZE(obj) : PyTuple_GET_SIZE(obj);
        for (Py_ssize_t i = 0; i < n; ++i)
            seq_.push_back(Work{t == &PyList_Type ? PyList_GET_ITEM(obj, i) : PyTuple_GET_ITEM(obj, i), Item, 0, Target{-1, nullptr}});
        if (t == &PyList_Type) w.beginList(seq_.size(), memo);
        else w.beginTuple(seq_.size(), memo);
    } else if (t == &PyDict_Type) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            seq_.push_back(Work{k, Item, 0, Target{-1, nullptr}});
            seq_.push_back(Work{v, Item, 0, Target{-1, nullptr}});
        }
        w.beginDict(seq_.size() / 2, memo);
    } else {
        Py_ssize_t pos = 0;
        PyObject* k;
        Py_hash_t h;
        while (_PySet_NextEntry(obj, &pos, &k, &h)) seq_.push_back(Work{k, Item, 0, Target{-1, nullptr}});
        if (t == &PySet_Type) w.beginSet(seq_.size(), memo);
        else w.beginFrozenSet(seq_.size(), memo);
    }
    emitSequence(w);
    return true;
}

bool PyEncoder::encodeOther(ValueWriter& w, PyObject* obj, const Target& target, const EncodeOptions& opt,
                            EncodeCounts& counts) {
    PyTypeObject* t = Py_TYPE(obj);
    // 1. A handler the user registered (callmonitor.REGISTRY) for this type.
    static const HandlerEntry kNoHandler;
    bool handled = false;
    for (PyObject* o : legacyDone_) handled |= (o == obj);
    const HandlerEntry& h = handled ? kNoHandler : HandlerTable::instance().find(t);
    if (h.kind == HandlerEntry::Codec) {
        PyObject* r = PyObject_CallMethod(h.handler, "encode", "O", obj);
        if (r) {
            Py_buffer view;
            if (PyObject_GetBuffer(r, &view, PyBUF_SIMPLE) == 0) {
                w.handler(h.name, std::string_view(static_cast<const char*>(view.buf), static_cast<size_t>(view.len)));
                PyBuffer_Release(&view);
                Py_DECREF(r);
                return true;
            }
            Py_DECREF(r);
        }
        return handlerFailed(w, obj, h.name, opt, counts);
    }
    if (h.kind == HandlerEntry::Legacy && opt.writerDir && opt.functionDir) {
        std::string rel = "handlers/" + *opt.functionDir + "/" + std::to_string(opt.invocation);
        std::string abs = *opt.writerDir + "/" + rel;
        PyObject* tgt = target.keyword ? (Py_INCREF(target.keyword), target.keyword)
                      : target.position >= 0 ? PyLong_FromLongLong(target.position)
                                             : (Py_INCREF(Py_None), Py_None);
        PyObject* state = tgt ? PyObject_CallFunction(Hooks::get().legacySave, "OOOs", h.handler, obj, tgt, abs.c_str())
                              : nullptr;
        Py_XDECREF(tgt);
        if (state) {
            Py_INCREF(obj);
            legacyDone_.push_back(obj);
            w.beginLegacy(h.name, rel);
            pushState(state);
            Py_DECREF(state);
            return true;
        }
        return handlerFailed(w, obj, h.name, opt, counts);
    }
    // 2. The built-in handlers (handlers/builtin_table.cpp): ndarray, pandas, ...
    if (h.kind == HandlerEntry::None || h.kind == HandlerEntry::Native) {
        if (BuiltinHandler* b = builtin::forType(t)) {
            HandlerEncoder cx(*this, w, opt.payloads);
            switch (b->encode(cx, obj)) {
                case Encoded::Written: return true;
                // A type a built-in handler knows is never taken apart by later
                // steps: what its handler declines (object arrays, sparse frames) is pickled.
                case Encoded::Declined: return pickleOrOpaque(w, obj, opt, counts);
                case Encoded::Failed: {
                    std::string why = std::string(b->name()) + " capture failed: " + takeErrorText();
                    return opaque(w, obj, why.c_str(), opt, counts);
                }
            }
        }
    }
    // 3. Plain objects by their state, functions / classes / modules by name (object_state.cpp).
    if (encodeObjectState(*this, w, obj)) return true;
    // 4. Last: a pickle, or else an Opaque placeholder.
    return pickleOrOpaque(w, obj, opt, counts);
}

bool PyEncoder::pickleOrOpaque(ValueWriter& w, PyObject* obj, const EncodeOptions& opt, EncodeCounts& counts) {
    PyObject* dumped = PyObject_CallFunction(Hooks::get().pickleDumps, "Oi", obj, 5);
    if (dumped && PyBytes_Check(dumped)) {
        if (__builtin_expect(opt.maxBytes != 0, 0) && static_cast<uint64_t>(PyBytes_GET_SIZE(dumped)) > opt.maxBytes) {
            PyObject* summary = pickledSummary(obj, dumped);  // max_bytes=: a ValueSummary of the pickle
            Py_DECREF(dumped);
            if (summary) {
                bool ok = encodeOther(w, summary, Target{}, opt, counts);
                Py_DECREF(summary);
                return ok;
            }
            dumped = PyObject_CallFunction(Hooks::get().pickleDumps, "Oi", obj, 5);  // (no summary: kept in full)
            if (!dumped || !PyBytes_Check(dumped)) return opaque(w, obj, "cannot be pickled", opt, counts);
        }
        w.pickle(typeName(Py_TYPE(obj)),
                 std::string_view(PyBytes_AS_STRING(dumped), static_cast<size_t>(PyBytes_GET_SIZE(dumped))));
        Py_DECREF(dumped);
        ++counts.pickled;
        return true;
    }
    Py_XDECREF(dumped);
    std::string why = "cannot be pickled: " + takeErrorText();
    return opaque(w, obj, why.c_str(), opt, counts);
}

// What a built-in handler may do with the encoder (builtin_handler.h).
bool HandlerEncoder::backref(PyObject* obj) {
    int64_t seen = encoder_.memoFind(obj);
    if (seen < 0) return false;
    writer.backref(static_cast<uint64_t>(seen));
    return true;
}

bool HandlerEncoder::takeMemo(PyObject* obj) {
    bool memo = Py_REFCNT(obj) > kSharedRefcount;
    if (memo) encoder_.memoAdd(obj);
    return memo;
}

void HandlerEncoder::writeState(std::string_view kind, PyObject* obj, PyObject* state) {
    writer.beginBuiltin(kind, takeMemo(obj));
    encoder_.pushState(state);
}

bool PyEncoder::handlerFailed(ValueWriter& w, PyObject* obj, const std::string& handler, const EncodeOptions& opt,
                              EncodeCounts& counts) {
    std::string why = "handler " + handler + " failed: " + takeErrorText();
    if (counts.errors++ == 0) counts.firstError = why;
    return opaque(w, obj, why.c_str(), opt, counts);
}

bool PyEncoder::opaque(ValueWriter& w, PyObject* obj, const char* reason, const EncodeOptions& opt,
                       EncodeCounts& counts) {
    PyErr_Clear();
    if (opt.strict) {
        std::string msg = "callmonitor cannot capture a value of type " + typeName(Py_TYPE(obj)) + " (" + reason + ")";
        PyErr_SetString(PyExc_TypeError, msg.c_str());
        return false;
    }
    w.opaque(typeName(Py_TYPE(obj)), safeRepr(obj), reason);
    ++counts.opaque;
    return true;
}

}  // namespace callmonitor::py
