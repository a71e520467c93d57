// The reader bindings: registers WriterReader on the _core module.
#pragma once

#include <pybind11/pybind11.h>

namespace callmonitor::py {
void bindReader(pybind11::module_& m);
}  // namespace callmonitor::py
