// callmonitor._core.RecordWriter: writes one writer environment from Python
// values handed over explicitly, not captured from live calls: for importers
// (callmonitor 0.3 databases) and tools that make databases of calls
// recorded elsewhere. It uses the capture stage's encoder and the store's
// Writer, so what it writes is exactly what a live capture writes.
#pragma once

#include <pybind11/pybind11.h>

namespace callmonitor::py {

void bindRecordWriter(pybind11::module_& m);

}  // namespace callmonitor::py
