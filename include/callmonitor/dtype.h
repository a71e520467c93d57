// Parsing numpy dtype strings as stored in Array / NpScalar values
// ("<f8", ">i4", "|b1", "<c16", "<M8[ns]", "<U5", "|S3", "|V16").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace callmonitor {

struct DtypeInfo {
    char byteOrder = '|';  // '<', '>', '|' (not applicable)
    char kind = 0;         // numpy kind: b i u f c M m S U V
    size_t itemSize = 0;   // bytes per element
    std::string_view unit; // datetime unit inside [...], empty otherwise
};

// Returns false for anything that is not a plain (non-structured) dtype string.
bool parseDtype(std::string_view text, DtypeInfo& out);

// numpy's name of the dtype's scalar type: "float64", "int32", "bool", "complex128",
// "datetime64" / "timedelta64" (with `withUnit` and a unit: "datetime64[ns]"),
// "bytes_", "str_", else "void".
std::string numpyTypeName(const DtypeInfo& d, bool withUnit = false);

}  // namespace callmonitor
