// Interned type expressions of one aggregation, and the walk that gives the
// type of one encoded value. Only public headers: the analyse stage reads the
// record format through ValueParser like any other reader.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "callmonitor/api_model.h"
#include "callmonitor/value_parser.h"

namespace callmonitor::analyse {

inline constexpr uint32_t kNoType = UINT32_MAX;

// True when `s` is UTF-8 that Python can decode strictly (no surrogates,
// no overlong forms). Recorded str values keep lone surrogates
// ("surrogatepass"), which no JSON file or Python str of the model may carry.
bool isStrictUtf8(std::string_view s);
// `s` with every byte of an invalid sequence replaced by U+FFFD.
std::string strictUtf8(std::string_view s);

struct IdVectorHash {
    size_t operator()(const std::vector<uint32_t>& v) const noexcept {
        uint64_t h = 1469598103934665603ull;
        for (uint32_t x : v) h = (h ^ x) * 1099511628211ull;
        return static_cast<size_t>(h);
    }
};

// Type ids -> their text. Composite types are keyed by structure
// ([shape, member ids...]) so that typing a call allocates nothing once its
// types have been seen.
class TypeTable {
public:
    enum Fixed : uint32_t {
        NoneT, Bool, Int, Float, Complex, Str, Bytes, ByteArray,
        List, Set, FrozenSet, Dict, Tuple, EmptyTuple, Object, kFixedCount
    };
    enum Shape : uint32_t { UnionS = 1, ListS, SetS, FrozenSetS, TupleFixedS, TupleVarS, DictS };

    TypeTable();
    const std::string& text(uint32_t id) const { return text_[id]; }
    // A named leaf type: a class by qualified name (pickle, opaque, handler).
    uint32_t named(std::string_view qualifiedName);
    uint32_t array(std::string_view dtype);
    uint32_t scalar(std::string_view dtype);
    // The union of `ids` (sorted and deduplicated in place); one member is itself.
    uint32_t unionOf(std::vector<uint32_t>& ids);
    // A composite type: key = [shape, member ids...].
    uint32_t compose(const std::vector<uint32_t>& key);

private:
    uint32_t add(std::string text);
    std::vector<std::string> text_;
    std::map<std::string, uint32_t, std::less<>> byText_;
    std::map<std::string, uint32_t, std::less<>> arrays_, scalars_;
    std::unordered_map<std::vector<uint32_t>, uint32_t, IdVectorHash> composed_;
    std::vector<uint32_t> key_;
};

// The schema of a top-level pandas value (see PandasCount).
struct PandasDetail {
    std::string type, dtype;
    std::vector<std::pair<std::string, std::string>> columns;
    uint64_t columnCount = 0, length = 0;
    bool lengthKnown = false;
};

// Types one value (the parser positioned at its first token) with the
// bounds of ApiOptions: the first `sampleItems` elements of each container,
// `maxDepth` levels. The rest is skipped token by token, counting memo
// indices so that a later Backref still names the right object.
class ValueTyper {
public:
    ValueTyper(TypeTable& table, const ApiOptions& options);
    // Starts a value section (memo indices restart: each section has its own memo).
    void reset() { memo_.clear(); sampled_ = false; }
    // Type of the value whose first token `t` was just read from `p`.
    uint32_t typeOf(ValueParser& p, const Token& t);
    // True when a container in the values typed since reset() was sampled.
    bool sampled() const { return sampled_; }
    // The schema of the value typed by the last typeOf() when it was a pandas
    // DataFrame, Series or Index (nullptr otherwise).
    const PandasDetail* pandas() const { return hasPandas_ ? &pandas_ : nullptr; }

private:
    uint32_t walk(ValueParser& p, const Token& t, uint32_t depth);
    uint32_t bare(const Token& t);
    uint32_t maskedArray(ValueParser& p);
    void enter(ValueParser& p, Token& t);
    void skipChildren(ValueParser& p, const Token& t) { skipItems(p, itemsOf(t)); }
    void pandasValue(ValueParser& p, const Token& builtin);
    void pandasArray(ValueParser& p, PandasDetail& d, std::vector<std::string>* names);
    void pandasIndex(ValueParser& p, const Token& builtin, PandasDetail& d, std::vector<std::string>* names);
    void skipItems(ValueParser& p, uint64_t pending);
    static uint64_t itemsOf(const Token& t);

    TypeTable& table_;
    ApiOptions options_;
    std::vector<uint32_t> memo_;
    std::vector<Token> tokens_;                 // one per depth
    std::vector<std::vector<uint32_t>> ids_;    // element ids per depth
    std::vector<std::vector<uint32_t>> ids2_;   // dict values per depth
    Token skip_;
    bool sampled_ = false;
    PandasDetail pandas_;
    bool hasPandas_ = false;
};

}  // namespace callmonitor::analyse
