#include "pandas/frame.h"

#include <cstring>

#include "callmonitor/errors.h"

namespace callmonitor::pandas {
namespace {

[[noreturn]] void malformed(const std::string& what) {
    throw DecodeError("not a pandas value as callmonitor's pandas handler records it: " + what);
}

const Value& stateOf(const Value& v, std::string_view kindPrefix) {
    if (v.tag != Tag::Builtin || v.name.compare(0, kindPrefix.size(), kindPrefix) != 0)
        malformed("expected a " + std::string(kindPrefix) + " value, got " + (v.tag == Tag::Builtin ? v.name : v.toText(3)));
    if (v.items.size() != 1 || !v.items[0]) malformed(v.name + " without its state");
    return *v.items[0];
}

// The value under key `key` of a state dict, or nullptr.
ValuePtr field(const Value& dict, std::string_view key) {
    if (dict.tag != Tag::Dict) malformed("a state that is not a dict");
    for (const auto& [k, v] : dict.pairs)
        if (k && k->tag == Tag::Str && k->bytes == key) return v;
    return nullptr;
}

ValuePtr need(const Value& dict, std::string_view key) {
    ValuePtr v = field(dict, key);
    if (!v) malformed("no \"" + std::string(key) + "\" in its state");
    return v;
}

std::string text(const ValuePtr& v) {
    if (!v) return "";
    if (v->tag == Tag::Str) return v->bytes;
    return v->toText(8);
}

// numpy's name of a plain dtype ("<f8" -> "float64", "<M8[ns]" -> "datetime64[ns]");
// the dtype string itself for the others (strings, bytes, void).
std::string numpyName(const Value& array) {
    const DtypeInfo& d = array.dtype;
    static constexpr std::string_view kNamed = "biufcMm";
    if (d.kind == 0 || kNamed.find(d.kind) == std::string_view::npos) return array.name;
    return numpyTypeName(d, true);
}

std::string tzName(const Value& tz) {
    if (tz.tag != Tag::Tuple || tz.items.empty()) malformed("a time zone that is not a tuple");
    std::string what = text(tz.items[0]);
    if (what == "utc") return "UTC";
    if (what == "fixed" && tz.items.size() >= 3) return text(tz.items[2]);
    if (what == "pytz-fixed" && tz.items.size() >= 2) return "pytz.FixedOffset(" + text(tz.items[1]) + ")";
    if (tz.items.size() >= 2) return text(tz.items[1]);
    malformed("a time zone of unknown form");
}

Column columnOf(const Value& array, std::string label) {
    if (array.tag != Tag::Tuple || array.items.size() < 2 || !array.items[0] || array.items[0]->tag != Tag::Str)
        malformed("an array state that is not a (kind, ...) tuple");
    const std::string& what = array.items[0]->bytes;
    const ValuePtr& first = array.items[1];
    Column c{std::move(label), "", nullptr};
    auto arrayAt = [&](size_t i) -> const Value& {
        if (array.items.size() <= i || !array.items[i] || array.items[i]->tag != Tag::Array)
            malformed(what + " array without its values");
        return *array.items[i];
    };
    if (what == "numpy") {
        c.dtype = numpyName(arrayAt(1));
        c.values = first;
    } else if (what == "object") {
        c.dtype = "object";
        c.values = first;
    } else if (what == "category") {
        c.dtype = "category";
    } else if (what == "datetimetz" && array.items.size() == 3) {
        c.dtype = "datetime64[" + std::string(arrayAt(1).dtype.unit) + ", " + tzName(*array.items[2]) + "]";
    } else if (what == "masked" || what == "string") {
        c.dtype = what == "string" ? "string" : text(first);
    } else if (what == "period" && array.items.size() == 3) {
        c.dtype = "period[" + text(array.items[2]) + "]";
    } else if (what == "interval") {
        c.dtype = "interval";
    } else {
        malformed("an array of unknown kind \"" + what + "\"");
    }
    if (!c.values) c.values = std::make_shared<Value>(array);
    return c;
}

int64_t intField(const Value& dict, std::string_view key) {
    ValuePtr v = need(dict, key);
    if (v->tag != Tag::Int) malformed("\"" + std::string(key) + "\" is not an int");
    return v->integer;
}

}  // namespace

bool isPandasValue(const Value& v) { return v.tag == Tag::Builtin && v.name.compare(0, 7, "pandas.") == 0; }

std::vector<std::string> indexLabels(const Value& index) {
    const Value& st = stateOf(index, "pandas.");
    std::vector<std::string> out;
    if (index.name == "pandas.RangeIndex") {
        int64_t start = intField(st, "start"), stop = intField(st, "stop"), step = intField(st, "step");
        if (step == 0) malformed("a RangeIndex with step 0");
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(std::to_string(i));
        return out;
    }
    if (index.name == "pandas.MultiIndex") malformed("MultiIndex labels are tuples of levels: read its state");
    Column c = columnOf(*need(st, "data"), "");
    if (c.dtype == "object") {
        for (const ValuePtr& item : c.values->items) out.push_back(text(item));
    } else if (c.values->tag == Tag::Array && c.values->dtype.kind == 'i' && c.values->dtype.itemSize == 8 &&
               c.values->dtype.byteOrder != '>') {
        const std::string& b = c.values->bytes;
        for (size_t i = 0; i + 8 <= b.size(); i += 8) {
            int64_t x;
            std::memcpy(&x, b.data() + i, 8);
            out.push_back(std::to_string(x));
        }
    } else {
        malformed("labels of dtype " + c.dtype + ": read its data");
    }
    return out;
}

Frame asFrame(const Value& v) {
    const Value& st = stateOf(v, "pandas.DataFrame");
    Frame f;
    f.index = need(st, "index");
    ValuePtr data = need(st, "data");
    if (data->tag != Tag::List) malformed("DataFrame data that is not a list");
    std::vector<std::string> labels = indexLabels(*need(st, "columns"));
    if (labels.size() != data->items.size()) malformed("a DataFrame with more labels than columns, or fewer");
    for (size_t i = 0; i < labels.size(); ++i) {
        if (!data->items[i]) malformed("a missing column");
        f.columns.push_back(columnOf(*data->items[i], labels[i]));
    }
    return f;
}

Column asColumn(const Value& v) {
    const Value& st = stateOf(v, "pandas.");
    if (v.name == "pandas.DataFrame" || v.name == "pandas.RangeIndex" || v.name == "pandas.MultiIndex")
        malformed(v.name + " is not one column");
    ValuePtr name = field(st, "name");
    return columnOf(*need(st, "data"), name && !name->isNone() ? text(name) : "");
}

}  // namespace callmonitor::pandas
