// The pandas handler, C++ side: recorded pandas values (Builtin items of kind
// "pandas.*", their states drawn in handlers/pandas/python/pandas_state.py
// and docs/handlers.md) as labelled columns with pandas dtype names, for C++
// readers. A numeric column's values are an Array value: read it with
// "ndarray/xarray.h" (callmonitor::toXarray).
#pragma once

#include <string>
#include <vector>

#include "callmonitor/value.h"

namespace callmonitor::pandas {

// One column of a recorded DataFrame, or the data of a Series or Index.
struct Column {
    std::string label;   // the column's label as text ("" for a Series' or Index's data)
    std::string dtype;   // pandas' name: "int64", "object", "category", "datetime64[ns, Europe/Paris]", "Int64", ...
    ValuePtr values;     // numpy dtypes: the Array value; object: the List of elements; else the array's state
};

struct Frame {
    ValuePtr index;               // the index, a Builtin value of an Index kind
    std::vector<Column> columns;  // in order
};

// True for a Builtin value whose kind starts with "pandas.".
bool isPandasValue(const Value& v);
// A recorded pandas.DataFrame as columns. Throws DecodeError when `v` is
// not one, or its state is not what the pandas handler writes.
Frame asFrame(const Value& v);
// A recorded pandas.Series or pandas Index (not RangeIndex, MultiIndex) as one column.
Column asColumn(const Value& v);
// The labels of a recorded Index as text (RangeIndex, object and integer labels).
std::vector<std::string> indexLabels(const Value& index);

}  // namespace callmonitor::pandas
