// The type of a value stored as a summary (callmonitor.watch(values="summary"),
// the pytest plugin's --callmonitor-values summary): what it summarizes, not
// the handler that stores it. A summary is a Handler item of
// kValueSummaryHandler whose payload is the JSON array written by
// python/callmonitor/trace/summary.py (ValueSummaryHandler.encode):
//
//   ["numpy.ndarray", "float64", [2, 3], null, ...]
//     type (module.qualname)  dtype (str(dtype)) or null  shape or null  length or null  (more: ignored)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "type_table.h"

namespace callmonitor::analyse {

inline constexpr std::string_view kValueSummaryHandler = "callmonitor.trace.summary.ValueSummaryHandler";

// The summarized value's type: an array's is numpy.typing.NDArray[<dtype>]
// as for a fully recorded array, anything else its class. kNoType when the
// payload is not a summary this reader understands.
uint32_t summarizedType(TypeTable& table, std::string_view payload);

// numpy's name of a dtype (str(dtype): "float64", "bool", "datetime64[ns]";
// "<U5" as is) as the dtype string arrays are recorded with ("<f8", "|b1",
// "<M8[ns]"); empty when it is not a plain dtype.
std::string recordedDtype(std::string_view numpyName);

}  // namespace callmonitor::analyse
