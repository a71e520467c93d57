// callmonitor._core._testing: hooks for the tests, never used by the package.
#pragma once

#include <pybind11/pybind11.h>

namespace callmonitor::py {

// Adds the submodule `_testing` to `m`.
void defineTestingHooks(pybind11::module_& m);

}  // namespace callmonitor::py
