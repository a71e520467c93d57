// The masked array handler's entry in the table (handlers/builtin_table.cpp):
// numpy.ma.MaskedArray as a Builtin value "numpy.ma.MaskedArray" whose state
// masked_state.py defines (data and mask as native arrays, fill value, dtype).
#include "python_state_handler.h"

namespace callmonitor::py {
namespace {

const char kSource[] =
#include "masked_array/python/masked_state.py.inc"
    ;

}  // namespace

BuiltinHandler& maskedArrayHandler() {
    static PythonStateHandler h("masked_array", "numpy", "callmonitor._builtin_handlers.masked_array", kSource,
                                "handlers/masked_array/python/masked_state.py", {"numpy.ma."});
    return h;
}

}  // namespace callmonitor::py
