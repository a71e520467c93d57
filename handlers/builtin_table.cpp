#include "builtin_table.h"

#include <array>
#include <unordered_map>

namespace callmonitor::py {

// Each handler's Python side defines its one instance (handlers/<name>/python/).
BuiltinHandler& ndarrayHandler();
BuiltinHandler& maskedArrayHandler();
BuiltinHandler& pandasHandler();

namespace builtin {
namespace {

// THE table. Order matters only where two handlers could take one type:
// the first wins.
const std::array<BuiltinHandler*, 3>& table() {
    static const std::array<BuiltinHandler*, 3> t{&ndarrayHandler(), &maskedArrayHandler(), &pandasHandler()};
    return t;
}

}  // namespace

BuiltinHandler* forType(PyTypeObject* type) {
    static auto* cache = new std::unordered_map<PyTypeObject*, BuiltinHandler*>();  // lives until exit
    auto it = cache->find(type);
    if (it != cache->end()) return it->second;
    BuiltinHandler* found = nullptr;
    for (BuiltinHandler* h : table()) {
        if (h->takesType(type)) {
            found = h;
            break;
        }
    }
    if (PyErr_Occurred()) PyErr_Clear();  // takesType must not raise; never let it leak into the program
    Py_INCREF(reinterpret_cast<PyObject*>(type));  // a cached type is never freed and its address reused
    cache->emplace(type, found);
    return found;
}

BuiltinHandler* forTag(Tag tag) {
    static const auto byTag = [] {
        std::array<BuiltinHandler*, 256> m{};
        for (BuiltinHandler* h : table())
            for (unsigned code = 0; code < 256; ++code)
                if (!m[code] && isKnownTag(static_cast<uint8_t>(code)) && h->decodesTag(static_cast<Tag>(code)))
                    m[code] = h;
        return m;
    }();
    return byTag[static_cast<uint8_t>(tag)];
}

BuiltinHandler* forKind(std::string_view kind) {
    for (BuiltinHandler* h : table())
        if (h->restoresKind(kind)) return h;
    return nullptr;
}

Entries all() { return Entries{table().data(), table().data() + table().size()}; }

}  // namespace builtin

std::string takeErrorText() {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    std::string out = t ? reinterpret_cast<PyTypeObject*>(t)->tp_name : "error";
    if (v) {
        PyObject* s = PyObject_Str(v);
        if (s) {
            const char* c = PyUnicode_AsUTF8(s);
            if (c && *c) {
                out += ": ";
                out += c;
            }
            Py_DECREF(s);
        }
        PyErr_Clear();
    }
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    return out;
}

}  // namespace callmonitor::py
