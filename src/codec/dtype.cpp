#include "callmonitor/dtype.h"

namespace callmonitor {

bool parseDtype(std::string_view t, DtypeInfo& out) {
    if (t.size() < 3 || t.size() > 32) return false;
    char order = t[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') return false;
    char kind = t[1];
    size_t i = 2, n = 0, digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        n = n * 10 + static_cast<size_t>(t[i] - '0');
        ++i;
        if (++digits > 9) return false;
    }
    if (digits == 0) return false;
    std::string_view unit;
    if (i < t.size()) {
        if ((kind != 'M' && kind != 'm') || t[i] != '[' || t.back() != ']') return false;
        unit = t.substr(i + 1, t.size() - i - 2);
        if (unit.empty()) return false;
        for (char c : unit)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
    }
    size_t size = n;
    switch (kind) {
        case 'b': if (n != 1) return false; break;
        case 'i': case 'u': if (n != 1 && n != 2 && n != 4 && n != 8) return false; break;
        case 'f': if (n != 2 && n != 4 && n != 8 && n != 12 && n != 16) return false; break;
        case 'c': if (n != 8 && n != 16 && n != 24 && n != 32) return false; break;
        case 'M': case 'm': if (n != 8) return false; break;
        case 'S': case 'V': break;
        case 'U': size = n * 4; break;
        default: return false;
    }
    out.byteOrder = order;
    out.kind = kind;
    out.itemSize = size;
    out.unit = unit;
    return true;
}

std::string numpyTypeName(const DtypeInfo& d, bool withUnit) {
    std::string bits = std::to_string(d.itemSize * 8);
    std::string unit = withUnit && !d.unit.empty() ? "[" + std::string(d.unit) + "]" : "";
    switch (d.kind) {
        case 'b': return "bool";
        case 'i': return "int" + bits;
        case 'u': return "uint" + bits;
        case 'f': return "float" + bits;
        case 'c': return "complex" + bits;
        case 'M': return "datetime64" + unit;
        case 'm': return "timedelta64" + unit;
        case 'S': return "bytes_";
        case 'U': return "str_";
        default: return "void";
    }
}

}  // namespace callmonitor
