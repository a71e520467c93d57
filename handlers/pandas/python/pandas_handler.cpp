// The pandas handler's entry in the table (handlers/builtin_table.cpp):
// DataFrame, Series, Index (RangeIndex, MultiIndex, DatetimeIndex, ...) and
// the pandas scalars they hold (Timestamp, Timedelta, NaT, NA), as Builtin
// values "pandas.<class>" whose state pandas_state.py defines: columns are
// native arrays (payloads, stored once by content), nothing is pickled.
#include "python_state_handler.h"

namespace callmonitor::py {
namespace {

const char kSource[] =
#include "pandas/python/pandas_state.py.inc"
    ;

}  // namespace

BuiltinHandler& pandasHandler() {
    static PythonStateHandler h("pandas", "pandas", "callmonitor._builtin_handlers.pandas", kSource,
                                "handlers/pandas/python/pandas_state.py", {"pandas."});
    return h;
}

}  // namespace callmonitor::py
