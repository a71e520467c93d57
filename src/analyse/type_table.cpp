#include "type_table.h"

#include <algorithm>

#include "callmonitor/dtype.h"
#include "callmonitor/value.h"
#include "value_summary.h"

namespace callmonitor::analyse {

namespace {

constexpr std::string_view kMaskedArrayKind = "numpy.ma.MaskedArray";

// numpy's scalar type name of a plain dtype ("<f8" -> "float64").
std::string numpyScalarName(std::string_view dtype) {
    DtypeInfo d;
    if (!parseDtype(dtype, d)) return "generic";
    std::string bits = std::to_string(d.itemSize * 8);
    switch (d.kind) {
        case 'b': return "bool_";
        case 'i': return d.itemSize <= 8 ? "int" + bits : "signedinteger[Any]";
        case 'u': return d.itemSize <= 8 ? "uint" + bits : "unsignedinteger[Any]";
        case 'f': return d.itemSize <= 8 ? "float" + bits : "longdouble";
        case 'c': return d.itemSize <= 16 ? "complex" + bits : "clongdouble";
        case 'M': return "datetime64";
        case 'm': return "timedelta64";
        case 'U': return "str_";
        case 'S': return "bytes_";
        case 'V': return "void";
        default: return "generic";
    }
}

// Types the stub must spell differently from their runtime name.
std::string canonicalClass(std::string_view name) {
    if (name == "NoneType") return "None";
    // built-in handler kinds that name a singleton, not its class
    if (name == "pandas.NaT") return "pandas._libs.tslibs.nattype.NaTType";
    if (name == "pandas.NA") return "pandas._libs.missing.NAType";
    if (name == "numpy.ma.masked") return "numpy.ma.core.MaskedConstant";
    if (name == "function" || name == "builtin_function_or_method" || name == "method" ||
        name == "functools.partial" || name == "method-wrapper" || name == "method_descriptor")
        return "Callable[..., Any]";
    if (name.empty()) return "object";
    return strictUtf8(name);
}

// Length of the valid UTF-8 sequence at s[i], 0 when invalid.
size_t sequenceLength(std::string_view s, size_t i) {
    auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
    uint8_t c = byte(i);
    if (c < 0x80) return 1;
    size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (n == 0 || (c >= 0xE0 && c > 0xF4) || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    uint8_t c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
    if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // beyond U+10FFFF
    return n;
}

}  // namespace

bool isStrictUtf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        size_t n = sequenceLength(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string strictUtf8(std::string_view s) {
    if (isStrictUtf8(s)) return std::string(s);
    std::string out;
    for (size_t i = 0; i < s.size();) {
        size_t n = sequenceLength(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

TypeTable::TypeTable() {
    static const char* const kFixed[kFixedCount] = {
        "None", "bool", "int", "float", "complex", "str", "bytes", "bytearray",
        "list", "set", "frozenset", "dict", "tuple", "tuple[()]", "object"};
    for (const char* t : kFixed) add(t);
}

uint32_t TypeTable::add(std::string text) {
    auto it = byText_.find(text);
    if (it != byText_.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(text_.size());
    byText_.emplace(text, id);
    text_.push_back(std::move(text));
    return id;
}

uint32_t TypeTable::named(std::string_view qualifiedName) {
    auto it = byText_.find(qualifiedName);
    if (it != byText_.end()) return it->second;
    return add(canonicalClass(qualifiedName));
}

uint32_t TypeTable::array(std::string_view dtype) {
    auto it = arrays_.find(dtype);
    if (it != arrays_.end()) return it->second;
    uint32_t id = add("numpy.typing.NDArray[numpy." + numpyScalarName(dtype) + "]");
    arrays_.emplace(std::string(dtype), id);
    return id;
}

uint32_t TypeTable::scalar(std::string_view dtype) {
    auto it = scalars_.find(dtype);
    if (it != scalars_.end()) return it->second;
    uint32_t id = add("numpy." + numpyScalarName(dtype));
    scalars_.emplace(std::string(dtype), id);
    return id;
}

uint32_t TypeTable::unionOf(std::vector<uint32_t>& ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (ids.empty()) return Object;
    if (ids.size() == 1) return ids[0];
    key_.assign(1, UnionS);
    key_.insert(key_.end(), ids.begin(), ids.end());
    return compose(key_);
}

uint32_t TypeTable::compose(const std::vector<uint32_t>& key) {
    auto it = composed_.find(key);
    if (it != composed_.end()) return it->second;
    std::string t;
    auto members = [&](size_t from, const char* sep) {
        std::string out;
        for (size_t i = from; i < key.size(); ++i) {
            if (i > from) out += sep;
            out += text_[key[i]];
        }
        return out;
    };
    switch (key[0]) {
        case UnionS: {
            std::vector<std::string> m;
            for (size_t i = 1; i < key.size(); ++i) m.push_back(text_[key[i]]);
            t = unionText(std::move(m));
            break;
        }
        case ListS: t = "list[" + text_[key[1]] + "]"; break;
        case SetS: t = "set[" + text_[key[1]] + "]"; break;
        case FrozenSetS: t = "frozenset[" + text_[key[1]] + "]"; break;
        case TupleFixedS: t = "tuple[" + members(1, ", ") + "]"; break;
        case TupleVarS: t = "tuple[" + text_[key[1]] + ", ...]"; break;
        case DictS: t = "dict[" + text_[key[1]] + ", " + text_[key[2]] + "]"; break;
        default: t = "object"; break;
    }
    uint32_t id = add(std::move(t));
    composed_.emplace(key, id);
    return id;
}

std::string unionText(std::vector<std::string> members) {
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    auto none = std::find(members.begin(), members.end(), "None");
    bool optional = none != members.end();
    if (optional) members.erase(none);
    if (members.empty()) return "None";
    std::string inner;
    for (size_t i = 0; i < members.size(); ++i) inner += (i ? ", " : "") + members[i];
    if (members.size() == 1) return optional ? "Optional[" + inner + "]" : inner;
    return optional ? "Union[" + inner + ", None]" : "Union[" + inner + "]";
}

ValueTyper::ValueTyper(TypeTable& table, const ApiOptions& options) : table_(table), options_(options) {
    size_t levels = options_.maxDepth + 2;
    tokens_.resize(levels);
    ids_.resize(levels);
    ids2_.resize(levels);
}

uint32_t ValueTyper::typeOf(ValueParser& p, const Token& t) {
    hasPandas_ = false;
    return walk(p, t, 0);
}

// The type of a container without its elements (beyond maxDepth, or a memo
// item that was skipped), and of every leaf.
uint32_t ValueTyper::bare(const Token& t) {
    if (t.tag == Tag::Handler && t.name == kValueSummaryHandler) {  // watch(values="summary")
        if (uint32_t id = summarizedType(table_, t.data); id != kNoType) return id;
    }
    switch (t.tag) {
        case Tag::None: return TypeTable::NoneT;
        case Tag::False: case Tag::True: return TypeTable::Bool;
        case Tag::Int: case Tag::BigInt: return TypeTable::Int;
        case Tag::Float: return TypeTable::Float;
        case Tag::Complex: return TypeTable::Complex;
        case Tag::Str: return TypeTable::Str;
        case Tag::Bytes: return TypeTable::Bytes;
        case Tag::ByteArray: return TypeTable::ByteArray;
        case Tag::List: return TypeTable::List;
        case Tag::Set: return TypeTable::Set;
        case Tag::FrozenSet: return TypeTable::FrozenSet;
        case Tag::Dict: return TypeTable::Dict;
        case Tag::Tuple: return t.count == 0 ? TypeTable::EmptyTuple : TypeTable::Tuple;
        case Tag::Builtin: return table_.named(t.name);  // a built-in handler's value: its kind
        case Tag::Array: return table_.array(t.name);
        case Tag::NpScalar: return table_.scalar(t.name);
        case Tag::Handler: case Tag::Pickle: case Tag::Opaque: case Tag::Legacy: return table_.named(t.name);
        case Tag::Object:  // a bound method, partial, ... is a callable, not an instance of its function
            if (isCallableForm(static_cast<ObjectForm>(t.integer))) return table_.named("function");
            return table_.named(qualifiedName(t.name, t.extra));
        case Tag::Ref:
            switch (static_cast<RefKind>(t.integer)) {
                case RefKind::Class: return table_.named("type[" + qualifiedName(t.name, t.extra) + "]");
                case RefKind::Module: return table_.named("types.ModuleType");
                default: return table_.named("function");  // Callable[..., Any]
            }
        case Tag::Backref: return t.count < memo_.size() ? memo_[t.count] : TypeTable::Object;
        case Tag::PayloadBytes:  // a large str/bytes/bytearray stored apart: typed as what it is
            return t.payloadKind == Tag::Str         ? TypeTable::Str
                   : t.payloadKind == Tag::ByteArray ? TypeTable::ByteArray
                                                     : TypeTable::Bytes;
    }
    return TypeTable::Object;  // a tag this reader does not know
}

// Items that follow an item's token in the stream (its elements, its state).
uint64_t ValueTyper::itemsOf(const Token& t) {
    switch (t.tag) {
        case Tag::Builtin: case Tag::Legacy: case Tag::Object: return 1;  // its state
        case Tag::List: case Tag::Tuple: case Tag::Set: case Tag::FrozenSet: return t.count;
        case Tag::Dict: return 2 * t.count;
        default: return 0;
    }
}

void ValueTyper::skipItems(ValueParser& p, uint64_t pending) {
    while (pending > 0) {
        p.next(skip_);
        --pending;
        if (skip_.memo) memo_.push_back(bare(skip_));
        pending += itemsOf(skip_);
        if (pending > p.remaining()) p.fail("more items announced than bytes present");
    }
}

// numpy.ma.MaskedArray[Any, numpy.dtype[numpy.<scalar>]] from the state
// {"data": Array, "mask": ..., ...} (handlers/masked_array); the bare kind
// when the state is not that.
uint32_t ValueTyper::maskedArray(ValueParser& p) {
    Token state, key, value;
    p.next(state);
    if (state.memo) memo_.push_back(bare(state));
    if (state.tag != Tag::Dict) {
        skipItems(p, itemsOf(state));
        return table_.named(kMaskedArrayKind);
    }
    std::string dtype;
    for (uint64_t i = 0; i < state.count; ++i) {
        p.next(key);
        if (key.memo) memo_.push_back(bare(key));
        skipItems(p, itemsOf(key));
        p.next(value);
        if (value.memo) memo_.push_back(bare(value));
        if (key.tag == Tag::Str && key.data == "data" && value.tag == Tag::Array) dtype = value.name;
        skipItems(p, itemsOf(value));
    }
    if (dtype.empty()) return table_.named(kMaskedArrayKind);
    return table_.named(std::string(kMaskedArrayKind) + "[Any, numpy.dtype[" + table_.text(table_.scalar(dtype)) + "]]");
}

// --- pandas values: the states of handlers/pandas/python/pandas_state.py ---------

// Reads one item's token; it takes its memo index (typed by its bare type).
void ValueTyper::enter(ValueParser& p, Token& t) {
    p.next(t);
    if (t.memo) memo_.push_back(bare(t));
}

// One pandas array state ("numpy", ndarray) | ("object", [element, ...]) |
// ("masked", dtype name, data, mask) | ("category", codes, ...) | ...: its
// dtype and length; `names` (when given) gets the str elements of an object array.
void ValueTyper::pandasArray(ValueParser& p, PandasDetail& d, std::vector<std::string>* names) {
    Token t, kind, x;
    enter(p, t);
    if (t.tag != Tag::Tuple || t.count == 0) return skipChildren(p, t);
    enter(p, kind);
    skipChildren(p, kind);
    uint64_t rest = t.count - 1;
    auto next = [&]() {
        if (rest == 0) return false;
        --rest;
        enter(p, x);
        return true;
    };
    auto lengthOf = [&](const Token& a) {
        if (a.tag == Tag::Array) {
            d.length = a.shape.empty() ? 1 : a.shape[0];
            d.lengthKnown = true;
        } else if (a.tag == Tag::List || a.tag == Tag::Tuple) {
            d.length = a.count;
            d.lengthKnown = true;
        }
    };
    // The elements of list `x` (read) consumed; their str values into `names`.
    auto readNames = [&]() {
        Token e;
        for (uint64_t i = 0; i < x.count; ++i) {
            enter(p, e);
            if (names->size() < PandasCount::kMaxColumns)
                names->push_back(e.tag == Tag::Str ? strictUtf8(e.data.substr(0, 64)) : std::string());
            skipChildren(p, e);
        }
    };
    std::string_view k = kind.tag == Tag::Str ? kind.data : std::string_view();
    if (k == "numpy" && next()) {
        if (x.tag == Tag::Array) {
            d.dtype = numpyScalarName(x.name);
            if (d.dtype == "bool_") d.dtype = "bool";
        }
        lengthOf(x);
        skipChildren(p, x);
    } else if (k == "object" && next()) {
        d.dtype = "object";
        lengthOf(x);
        if (names && x.tag == Tag::List) readNames();
        else skipChildren(p, x);
    } else if (k == "masked" && next()) {  // dtype name, then the data array
        if (x.tag == Tag::Str) d.dtype = strictUtf8(x.data.substr(0, 32));
        skipChildren(p, x);
        if (next()) {
            lengthOf(x);
            skipChildren(p, x);
        }
    } else if (k == "string" && next()) {  // storage, then the list of str
        d.dtype = "string";
        skipChildren(p, x);
        if (next()) {
            lengthOf(x);
            if (names && x.tag == Tag::List) readNames();
            else skipChildren(p, x);
        }
    } else if ((k == "category" || k == "datetimetz" || k == "period") && next()) {
        d.dtype = k == "datetimetz" ? "datetime64[ns, tz]" : std::string(k);
        lengthOf(x);
        skipChildren(p, x);
    } else if (!k.empty()) {
        d.dtype = strictUtf8(k.substr(0, 32));  // interval, or a kind this reader does not know
    }
    skipItems(p, rest);
}

// The state of an Index (`builtin` read): {"data": array, "name", "freq"}, or a
// RangeIndex's {"start", "stop", "step", "name"}.
void ValueTyper::pandasIndex(ValueParser& p, const Token& builtin, PandasDetail& d,
                             std::vector<std::string>* names) {
    Token state, key, v;
    enter(p, state);
    if (state.tag != Tag::Dict) return skipChildren(p, state);
    bool range = builtin.name == "pandas.RangeIndex";
    int64_t start = 0, stop = 0, step = 1;
    bool ints = true;
    for (uint64_t i = 0; i < state.count; ++i) {
        enter(p, key);
        skipChildren(p, key);
        std::string_view k = key.tag == Tag::Str ? key.data : std::string_view();
        if (!range && k == "data") {
            pandasArray(p, d, names);
            continue;
        }
        enter(p, v);
        if (range && (k == "start" || k == "stop" || k == "step")) {
            if (v.tag != Tag::Int) ints = false;
            (k == "start" ? start : k == "stop" ? stop : step) = v.integer;
        }
        skipChildren(p, v);
    }
    if (range && ints && step != 0) {
        d.dtype = "int64";
        // len(range(start, stop, step)), in unsigned arithmetic (no overflow)
        if (step > 0 && stop > start) d.length = (uint64_t(stop) - uint64_t(start) - 1) / uint64_t(step) + 1;
        else if (step < 0 && start > stop) d.length = (uint64_t(start) - uint64_t(stop) - 1) / (0 - uint64_t(step)) + 1;
        d.lengthKnown = true;
        if (names)
            for (uint64_t j = 0; j < d.length && names->size() < PandasCount::kMaxColumns; ++j)
                names->push_back(std::to_string(start + int64_t(j) * step));
    }
}

// A top-level DataFrame, Series or Index (`builtin` read, its memo index
// taken): its schema into pandas_, its state consumed.
void ValueTyper::pandasValue(ValueParser& p, const Token& builtin) {
    pandas_ = PandasDetail();
    pandas_.type = std::string(builtin.name);
    bool frame = builtin.name == "pandas.DataFrame", series = builtin.name == "pandas.Series";
    if (!frame && !series) {  // an Index
        pandasIndex(p, builtin, pandas_, nullptr);
        hasPandas_ = true;
        return;
    }
    Token state, key, v;
    enter(p, state);
    if (state.tag != Tag::Dict) return skipChildren(p, state);
    std::vector<std::string> names;
    std::vector<std::string> dtypes;
    for (uint64_t i = 0; i < state.count; ++i) {
        enter(p, key);
        skipChildren(p, key);
        std::string_view k = key.tag == Tag::Str ? key.data : std::string_view();
        if (series && k == "data") {
            pandasArray(p, pandas_, nullptr);
            continue;
        }
        enter(p, v);
        if (frame && (k == "index" || k == "columns") && v.tag == Tag::Builtin) {
            PandasDetail index;
            pandasIndex(p, v, index, k == "columns" ? &names : nullptr);
            if (k == "index") {
                pandas_.length = index.length;
                pandas_.lengthKnown = index.lengthKnown;
            }
        } else if (frame && k == "data" && v.tag == Tag::List) {
            pandas_.columnCount = v.count;
            for (uint64_t c = 0; c < v.count; ++c) {
                PandasDetail column;
                pandasArray(p, column, nullptr);
                if (dtypes.size() < PandasCount::kMaxColumns) dtypes.push_back(column.dtype);
            }
        } else {
            skipChildren(p, v);
        }
    }
    if (frame) {
        for (size_t c = 0; c < dtypes.size(); ++c)
            pandas_.columns.emplace_back(c < names.size() ? names[c] : std::string(), dtypes[c]);
    }
    hasPandas_ = true;
}

uint32_t ValueTyper::walk(ValueParser& p, const Token& t, uint32_t depth) {
    size_t memoIndex = memo_.size();
    if (t.memo) memo_.push_back(bare(t));
    if (depth == 0 && t.tag == Tag::Builtin && t.name.substr(0, 7) == "pandas." &&
        (t.name == "pandas.DataFrame" || t.name == "pandas.Series" ||
         (t.name.size() >= 12 && t.name.substr(t.name.size() - 5) == "Index" && t.name != "pandas.MultiIndex"))) {
        pandasValue(p, t);
        return bare(t);
    }
    if (t.tag == Tag::Builtin && t.name == kMaskedArrayKind) {
        uint32_t id = maskedArray(p);
        if (t.memo) memo_[memoIndex] = id;
        return id;
    }
    if (t.tag == Tag::Builtin) {  // typed by its kind; the state is skipped
        skipItems(p, 1);
        return bare(t);
    }
    uint64_t n = t.count;
    bool container = t.tag == Tag::List || t.tag == Tag::Tuple || t.tag == Tag::Set ||
                     t.tag == Tag::FrozenSet || t.tag == Tag::Dict;
    if (t.tag == Tag::Legacy || t.tag == Tag::Object) {  // typed by its class: the state is skipped
        skipItems(p, 1);
        return bare(t);
    }
    if (!container || n == 0) return bare(t);
    if (depth >= options_.maxDepth) {
        skipItems(p, t.tag == Tag::Dict ? 2 * n : n);
        return bare(t);
    }
    uint64_t k = std::min<uint64_t>(n, options_.sampleItems);
    Token& child = tokens_[depth + 1];
    std::vector<uint32_t>& ids = ids_[depth];
    ids.clear();
    uint32_t id;
    if (t.tag == Tag::Dict) {
        std::vector<uint32_t>& values = ids2_[depth];
        values.clear();
        for (uint64_t i = 0; i < k; ++i) {
            p.next(child);
            ids.push_back(walk(p, child, depth + 1));
            p.next(child);
            values.push_back(walk(p, child, depth + 1));
        }
        if (n > k) skipItems(p, 2 * (n - k));
        uint32_t keyType = table_.unionOf(ids);
        uint32_t valueType = table_.unionOf(values);
        ids.assign({TypeTable::DictS, keyType, valueType});
        id = table_.compose(ids);
    } else {
        for (uint64_t i = 0; i < k; ++i) {
            p.next(child);
            ids.push_back(walk(p, child, depth + 1));
        }
        if (n > k) skipItems(p, n - k);
        if (t.tag == Tag::Tuple && n <= options_.maxFixedTuple && n == k) {
            ids.insert(ids.begin(), TypeTable::TupleFixedS);
            id = table_.compose(ids);
        } else {
            uint32_t shape = t.tag == Tag::List ? TypeTable::ListS
                           : t.tag == Tag::Set ? TypeTable::SetS
                           : t.tag == Tag::FrozenSet ? TypeTable::FrozenSetS
                                                     : TypeTable::TupleVarS;
            uint32_t element = table_.unionOf(ids);
            ids.assign({shape, element});
            id = table_.compose(ids);
        }
    }
    if (n > k) sampled_ = true;
    if (t.memo) memo_[memoIndex] = id;
    return id;
}

}  // namespace callmonitor::analyse
