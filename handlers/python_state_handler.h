// A built-in handler whose Python side is a Python module compiled into the
// extension (its source text is embedded at build time: CMakeLists.txt turns
// handlers/<name>/python/*.py into <name>/python/*.py.inc). For libraries
// whose API is Python (pandas), this keeps the handler short and readable;
// the dispatch stays native.
//
// The module defines three functions:
//   takes(cls) -> bool                     exactly this class is the handler's
//   state(obj) -> (kind, state) | None     None: declined (the value is pickled)
//   restore(kind, state) -> object         may raise ImportError (module missing)
// `state` is any value the encoder can write natively (dicts, tuples, arrays,
// names, and objects this table takes again, e.g. an Index inside a frame).
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "builtin_handler.h"

namespace callmonitor::py {

class PythonStateHandler : public BuiltinHandler {
public:
    // `module` is the name the embedded module gets in sys.modules, `source`
    // its text, `filename` what tracebacks show; `needs` the module without
    // which no value of this handler exists (pandas); `kinds` the prefixes of
    // the kinds it writes and restores ("pandas.").
    PythonStateHandler(const char* name, const char* needs, const char* module, const char* source,
                       const char* filename, std::initializer_list<const char*> kinds);

    std::string_view name() const override { return name_; }
    std::string_view neededModule() const override { return needs_; }
    bool takesType(PyTypeObject* type) override;
    Encoded encode(HandlerEncoder& cx, PyObject* obj) override;
    bool restoresKind(std::string_view kind) const override;
    PyObject* restore(std::string_view kind, PyObject* state) override;

private:
    // The module, executed on first use (borrowed), or nullptr with an error set.
    PyObject* module();
    // A borrowed attribute of the module, or nullptr with an error set.
    PyObject* function(const char* attr);

    const char* name_;
    const char* needs_;
    const char* moduleName_;
    const char* source_;
    const char* filename_;
    std::vector<std::string> kinds_;
    PyObject* module_ = nullptr;  // strong, never released (used until interpreter exit)
};

}  // namespace callmonitor::py
