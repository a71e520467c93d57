#include "value_summary.h"

#include <cctype>

#include "callmonitor/dtype.h"

namespace callmonitor::analyse {
namespace {

// Reads the leading fields of a summary's JSON array: strings without
// escapes (module-qualified names and dtype names have none) or null.
class SummaryFields {
public:
    explicit SummaryFields(std::string_view s) : s_(s) {}

    bool open() { return expect('['); }
    // The next field: a string (`out`, `isNull` false) or null.
    bool field(std::string_view& out, bool& isNull) {
        if (!first_ && !expect(',')) return false;
        first_ = false;
        skipSpace();
        if (s_.compare(i_, 4, "null") == 0) {
            i_ += 4;
            isNull = true;
            return true;
        }
        if (!expect('"')) return false;
        size_t end = s_.find('"', i_);
        if (end == std::string_view::npos || s_.substr(i_, end - i_).find('\\') != std::string_view::npos)
            return false;
        out = s_.substr(i_, end - i_);
        i_ = end + 1;
        isNull = false;
        return true;
    }

private:
    void skipSpace() {
        while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    bool expect(char c) {
        skipSpace();
        if (i_ >= s_.size() || s_[i_] != c) return false;
        ++i_;
        return true;
    }
    std::string_view s_;
    size_t i_ = 0;
    bool first_ = true;
};

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::string recordedDtype(std::string_view name) {
    DtypeInfo d;
    if (parseDtype(name, d)) return std::string(name);  // "<U5", "|S3", "|V16": str(dtype) is the dtype string
    if (name == "bool") return "|b1";
    for (auto [prefix, kind] : {std::pair<std::string_view, char>{"datetime64", 'M'}, {"timedelta64", 'm'}}) {
        if (startsWith(name, prefix)) return std::string("<") + kind + "8" + std::string(name.substr(prefix.size()));
    }
    for (auto [prefix, kind] : {std::pair<std::string_view, char>{"uint", 'u'}, {"int", 'i'}, {"float", 'f'},
                                {"complex", 'c'}}) {
        if (!startsWith(name, prefix)) continue;
        std::string_view bits = name.substr(prefix.size());
        if (bits.empty() || bits.size() > 3) return "";
        unsigned n = 0;
        for (char c : bits) {
            if (c < '0' || c > '9') return "";
            n = n * 10 + static_cast<unsigned>(c - '0');
        }
        if (n == 0 || n % 8 != 0) return "";
        std::string out = (n == 8 ? "|" : "<") + std::string(1, kind) + std::to_string(n / 8);
        return parseDtype(out, d) ? out : "";
    }
    return "";
}

uint32_t summarizedType(TypeTable& table, std::string_view payload) {
    SummaryFields f(payload);
    std::string_view type, dtype;
    bool typeNull = true, dtypeNull = true;
    if (!f.open() || !f.field(type, typeNull) || typeNull || type.empty()) return kNoType;
    if (f.field(dtype, dtypeNull) && !dtypeNull && type == "numpy.ndarray") {
        std::string recorded = recordedDtype(dtype);
        if (!recorded.empty()) return table.array(recorded);
    }
    return table.named(type);
}

}  // namespace callmonitor::analyse
