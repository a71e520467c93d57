// Test support for the capture stage: what one recorded call's record holds
// beyond its values (site, label, traceback, exception args, outcome) and its
// result with payload slots resolved in the result section, read straight
// through the core (Database/Snapshot), independently of load().
#pragma once

#include <pybind11/pybind11.h>

namespace callmonitor::py {
// Registers _core._recorded_call(directory, qualname, invocation) -> dict
// and _core._recorded_sites(directory) -> [(file, line, function)].
void bindRecordProbe(pybind11::module_& m);
}  // namespace callmonitor::py
