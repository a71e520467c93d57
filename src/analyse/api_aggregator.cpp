// ApiAggregator: folds the calls of one function into the counts of
// FunctionApi. Per call: the inputs are walked once (ValueTyper), the
// arguments bound to the recorded parameters, and only when the whole value
// parsed are the counters touched, so a malformed record leaves no partial
// trace (it is counted in `undecodable`).
#include <algorithm>
#include <unordered_map>

#include "callmonitor/api_model.h"
#include "callmonitor/call_record.h"
#include "callmonitor/errors.h"
#include "type_table.h"

namespace callmonitor::analyse {

uint32_t Timing::bucketOf(uint64_t ns) {
    if (ns < 16) return static_cast<uint32_t>(ns);
    uint32_t top = 63 - static_cast<uint32_t>(__builtin_clzll(ns));
    uint32_t mantissa = static_cast<uint32_t>((ns >> (top - 4)) & 15);
    return ((top - 3) << 4) | mantissa;
}

uint64_t Timing::bucketLow(uint32_t bucket) {
    if (bucket < 16) return bucket;
    uint32_t m = bucket >> 4;
    if (m > 60) return UINT64_MAX;  // past the last bucket a duration can fall in
    return (uint64_t(16) + (bucket & 15)) << (m - 1);
}

namespace {

// Count per id: a flat vector (ids per parameter are few: a linear scan beats
// hashing), indexed by a hash map once it holds more than kLinear ids.
class Counts {
public:
    uint64_t& operator[](uint32_t id) {
        if (items_.size() <= kLinear) {
            for (auto& e : items_)
                if (e.first == id) return e.second;
        } else {
            auto it = index_.find(id);
            if (it != index_.end()) return items_[it->second].second;
        }
        items_.emplace_back(id, 0);
        if (items_.size() == kLinear + 1)
            for (size_t i = 0; i < items_.size(); ++i) index_[items_[i].first] = i;
        else if (items_.size() > kLinear + 1)
            index_[id] = items_.size() - 1;
        return items_.back().second;
    }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }

private:
    static constexpr size_t kLinear = 16;
    std::vector<std::pair<uint32_t, uint64_t>> items_;
    std::unordered_map<uint32_t, size_t> index_;
};

struct TimingAcc {
    uint64_t count = 0, total = 0, min = UINT64_MAX, max = 0;
    std::vector<uint64_t> buckets;
    void add(uint64_t ns) {
        ++count;
        total += ns;
        min = std::min(min, ns);
        max = std::max(max, ns);
        uint32_t b = Timing::bucketOf(ns);
        if (b >= buckets.size()) buckets.resize(b + 1);
        ++buckets[b];
    }
    void merge(const TimingAcc& o) {
        count += o.count;
        total += o.total;
        min = std::min(min, o.min);
        max = std::max(max, o.max);
        if (o.buckets.size() > buckets.size()) buckets.resize(o.buckets.size());
        for (size_t b = 0; b < o.buckets.size(); ++b) buckets[b] += o.buckets[b];
    }
    Timing result() const {
        Timing t;
        t.count = count;
        t.totalNs = total;
        t.minNs = count ? min : 0;
        t.maxNs = max;
        for (size_t b = 0; b < buckets.size(); ++b)
            if (buckets[b]) t.histogram.emplace_back(static_cast<uint32_t>(b), buckets[b]);
        return t;
    }
};

struct ShapeKey {
    uint32_t type;
    std::vector<uint64_t> shape;
    uint64_t count;
};

struct PandasKey {
    PandasDetail detail;  // its length: the first seen
    uint64_t minLength = 0, maxLength = 0, count = 0;
};

// Counts one pandas value under its schema (type, columns, dtype); at most `limit` schemas.
void countPandas(std::vector<PandasKey>& kept, uint64_t& other, const PandasDetail& d, size_t limit) {
    for (PandasKey& k : kept)
        if (k.detail.type == d.type && k.detail.dtype == d.dtype && k.detail.columns == d.columns &&
            k.detail.columnCount == d.columnCount) {
            ++k.count;
            if (d.lengthKnown) {
                k.minLength = std::min(k.minLength, d.length);
                k.maxLength = std::max(k.maxLength, d.length);
            }
            return;
        }
    if (kept.size() >= limit) {
        ++other;
        return;
    }
    PandasKey k;
    k.detail = d;
    k.minLength = k.maxLength = d.lengthKnown ? d.length : 0;
    k.count = 1;
    kept.push_back(std::move(k));
}

std::vector<PandasCount> pandasCounts(const std::vector<PandasKey>& kept) {
    std::vector<PandasCount> out;
    for (const PandasKey& k : kept) {
        PandasCount c;
        c.type = k.detail.type;
        c.columns = k.detail.columns;
        c.columnCount = k.detail.columnCount;
        c.dtype = k.detail.dtype;
        c.minLength = k.minLength;
        c.maxLength = k.maxLength;
        c.count = k.count;
        out.push_back(std::move(c));
    }
    std::stable_sort(out.begin(), out.end(), [](const PandasCount& a, const PandasCount& b) { return a.count > b.count; });
    return out;
}

struct ParamAcc {
    Parameter info;
    uint32_t defaultType = kNoType;
    uint64_t positional = 0, keyword = 0, defaulted = 0, missing = 0, values = 0, sampled = 0;
    Counts types;
    std::vector<std::pair<std::string, uint64_t>> literals;
    bool literalsComplete = true;
    std::vector<ShapeKey> shapes;
    uint64_t otherShapes = 0;
    std::vector<PandasKey> pandas;
    uint64_t otherPandas = 0;
    std::unordered_map<std::string, uint64_t> keywordNames;
};

struct SignatureAcc {
    uint64_t calls = 0;
    Counts returns;
    std::unordered_map<std::string, uint64_t> exceptions;
    TimingAcc timing;
    Counts labels;
    void merge(const SignatureAcc& o) {
        calls += o.calls;
        for (const auto& [k, v] : o.returns) returns[k] += v;
        for (const auto& [k, v] : o.exceptions) exceptions[k] += v;
        for (const auto& [k, v] : o.labels) labels[k] += v;
        timing.merge(o.timing);
    }
};

// What one call passed to one parameter, before it is committed.
struct Passed {
    enum How : uint8_t { No, ByPosition, ByKeyword } how = No;
    uint32_t type = kNoType;           // regular parameter
    std::vector<uint32_t> items;       // var-positional / var-keyword
    std::string_view literal;          // a top-level str value
    bool isStr = false, isArray = false, sampled = false, isPandas = false;
    std::vector<uint64_t> shape;
    PandasDetail pandas;
    std::vector<std::string_view> names;  // var-keyword names
};

template <class M>
std::vector<NamedCount> namedCounts(const M& m) {
    std::vector<NamedCount> out;
    for (const auto& [k, v] : m) out.push_back({std::string(k), v});
    std::sort(out.begin(), out.end(), [](const NamedCount& a, const NamedCount& b) {
        return a.count != b.count ? a.count > b.count : a.name < b.name;
    });
    return out;
}

std::vector<TypeCount> typeCounts(const Counts& m, const TypeTable& table) {
    std::vector<TypeCount> out;
    for (const auto& [k, v] : m) out.push_back({table.text(k), v});
    std::sort(out.begin(), out.end(), [](const TypeCount& a, const TypeCount& b) {
        return a.count != b.count ? a.count > b.count : a.type < b.type;
    });
    return out;
}

std::string nameOf(uint32_t id, const std::vector<std::string>& table) {
    return id < table.size() ? table[id] : "#" + std::to_string(id);
}

}  // namespace

struct ApiAggregator::Impl {
    FunctionInfo function;
    ApiOptions options;
    TypeTable table;
    ValueTyper typer{table, options};
    std::vector<ParamAcc> params;
    std::vector<size_t> positionalSlots;  // parameter index of each positional slot
    int varPositional = -1, varKeyword = -1;
    bool growParameters;                  // signature unknown: parameters are made up as calls arrive

    uint64_t calls = 0, returned = 0, raised = 0, pending = 0, resultSkipped = 0, undecodable = 0,
             unbound = 0, otherSignatureCalls = 0;
    Counts returns;
    std::vector<ShapeKey> returnShapes;
    uint64_t otherReturnShapes = 0;
    std::vector<PandasKey> returnPandas;
    uint64_t otherReturnPandas = 0;
    std::unordered_map<std::string, uint64_t> exceptions;
    std::unordered_map<std::vector<uint32_t>, uint32_t, IdVectorHash> signatureIndex;
    std::vector<std::vector<uint32_t>> signatureKeys;
    std::vector<SignatureAcc> signatures;
    SignatureAcc otherSignatures;
    TimingAcc timing;
    Counts callers, sites, labels;
    TimingAcc yieldCounts;   // items per generator call (ItemCounts)
    Counts yielded;
    uint64_t yieldedRecorded = 0, yieldedUnrecorded = 0, closed = 0, dropped = 0;

    // per-call scratch
    std::vector<Passed> passed;
    std::vector<uint32_t> key;
    Token token, keyToken;
    std::vector<uint64_t> scratchShape;

    Impl(const FunctionInfo& f, ApiOptions o) : function(f), options(o), growParameters(!f.signatureKnown) {
        for (const Parameter& p : f.parameters) addParameter(p);
    }

    size_t addParameter(const Parameter& p) {
        ParamAcc acc;
        acc.info = p;
        if (p.hasDefault && !p.defaultValue.empty()) {
            bool isArray = false;
            acc.defaultType = resultType(p.defaultValue, isArray, scratchShape);
        }
        // a made-up parameter was not passed in the calls decoded before it appeared
        if (growParameters) acc.defaulted = calls - undecodable;
        size_t i = params.size();
        params.push_back(std::move(acc));
        if (p.kind == Parameter::PositionalOnly || p.kind == Parameter::PositionalOrKeyword)
            positionalSlots.push_back(i);
        else if (p.kind == Parameter::VarPositional) varPositional = static_cast<int>(i);
        else if (p.kind == Parameter::VarKeyword) varKeyword = static_cast<int>(i);
        return i;
    }

    int keywordParameter(std::string_view name) const {
        for (size_t i = 0; i < params.size(); ++i) {
            uint8_t k = params[i].info.kind;
            if ((k == Parameter::PositionalOrKeyword || k == Parameter::KeywordOnly) && params[i].info.name == name)
                return static_cast<int>(i);
        }
        return -1;
    }

    // Types one top-level argument into `slot`.
    void typeArgument(ValueParser& p, Passed& slot, bool item) {
        p.next(token);
        uint32_t id = typer.typeOf(p, token);
        if (typer.sampled()) slot.sampled = true;
        if (item) {
            slot.items.push_back(id);
            return;
        }
        slot.type = id;
        slot.isStr = token.tag == Tag::Str;
        if (slot.isStr) slot.literal = token.data;
        slot.isArray = token.tag == Tag::Array;
        if (slot.isArray) slot.shape = token.shape;
        const PandasDetail* pandas = typer.pandas();
        slot.isPandas = pandas != nullptr;
        if (pandas) slot.pandas = *pandas;
    }

    Passed& slotFor(size_t i) {
        if (passed.size() < params.size()) passed.resize(params.size());
        return passed[i];
    }

    // Parses and binds the inputs; false when they are malformed or do not bind.
    // Throws DecodeError for malformed bytes.
    bool bind(std::string_view inputs) {
        for (Passed& s : passed) {
            s.how = Passed::No;
            s.type = kNoType;
            s.items.clear();
            s.names.clear();
            s.sampled = s.isStr = s.isArray = s.isPandas = false;
        }
        ValueParser p(inputs);
        typer.reset();
        p.next(token);
        if (token.tag != Tag::Tuple || token.count != 2) p.fail("call inputs are not an (args, kwargs) pair");
        p.next(token);
        if (token.tag != Tag::Tuple) p.fail("call arguments are not a tuple");
        uint64_t nargs = token.count;
        bool fits = true;
        for (uint64_t i = 0; i < nargs; ++i) {
            if (i < positionalSlots.size()) {
                Passed& s = slotFor(positionalSlots[i]);
                s.how = Passed::ByPosition;
                typeArgument(p, s, false);
            } else if (varPositional >= 0) {
                Passed& s = slotFor(varPositional);
                s.how = Passed::ByPosition;
                typeArgument(p, s, true);
            } else if (growParameters) {
                Parameter made;
                made.name = "__arg" + std::to_string(i);
                made.kind = Parameter::PositionalOnly;
                // keep positional slots before any made-up keyword parameters' indices
                Passed& s = slotFor(addParameter(made));
                s.how = Passed::ByPosition;
                typeArgument(p, s, false);
            } else {
                fits = false;
                p.next(token);
                typer.typeOf(p, token);
            }
        }
        p.next(token);
        if (token.tag != Tag::Dict) p.fail("call keyword arguments are not a dict");
        uint64_t nkw = token.count;
        for (uint64_t i = 0; i < nkw; ++i) {
            p.next(keyToken);
            if (keyToken.tag != Tag::Str) p.fail("keyword argument name is not a str");
            std::string_view name = keyToken.data;
            int at = keywordParameter(name);
            if (at < 0 && varKeyword < 0 && growParameters) {
                Parameter made;
                made.name = strictUtf8(name);
                made.kind = Parameter::KeywordOnly;
                at = static_cast<int>(addParameter(made));
            }
            if (at >= 0 && slotFor(at).how == Passed::No) {
                Passed& s = slotFor(at);
                s.how = Passed::ByKeyword;
                typeArgument(p, s, false);
            } else if (at < 0 && varKeyword >= 0) {
                Passed& s = slotFor(varKeyword);
                s.how = Passed::ByKeyword;
                s.names.push_back(name);
                typeArgument(p, s, true);
            } else {
                fits = false;  // passed twice, or a name the signature does not have
                p.next(token);
                typer.typeOf(p, token);
            }
        }
        if (passed.size() < params.size()) passed.resize(params.size());
        return fits;
    }

    void commitParameter(ParamAcc& a, Passed& s) {
        bool variadic = a.info.kind == Parameter::VarPositional || a.info.kind == Parameter::VarKeyword;
        if (s.how == Passed::No) {
            if (!variadic) {
                if (a.info.hasDefault || growParameters) ++a.defaulted;
                else ++a.missing;
            }
            key.push_back(kNoType);
            return;
        }
        if (s.how == Passed::ByPosition) ++a.positional;
        else ++a.keyword;
        if (s.sampled) ++a.sampled;
        if (variadic) {
            for (uint32_t id : s.items) ++a.types[id];
            a.values += s.items.size();
            for (std::string_view n : s.names) ++a.keywordNames[strictUtf8(n)];
            key.push_back(table.unionOf(s.items));
            return;
        }
        ++a.values;
        ++a.types[s.type];
        key.push_back(s.type);
        if (s.isStr && a.literalsComplete) {
            if (s.literal.size() > options.maxLiteralBytes || !isStrictUtf8(s.literal)) {
                a.literalsComplete = false;
                a.literals.clear();
            } else {
                auto it = std::find_if(a.literals.begin(), a.literals.end(),
                                       [&](const auto& l) { return l.first == s.literal; });
                if (it != a.literals.end()) ++it->second;
                else if (a.literals.size() < options.maxLiterals) a.literals.emplace_back(std::string(s.literal), 1);
                else {
                    a.literalsComplete = false;
                    a.literals.clear();
                }
            }
        }
        if (s.isArray) countShape(a.shapes, a.otherShapes, s.type, s.shape);
        if (s.isPandas) countPandas(a.pandas, a.otherPandas, s.pandas, options.maxShapes);
    }

    void countShape(std::vector<ShapeKey>& shapes, uint64_t& other, uint32_t type, const std::vector<uint64_t>& shape) {
        for (ShapeKey& k : shapes)
            if (k.type == type && k.shape == shape) {
                ++k.count;
                return;
            }
        if (shapes.size() < options.maxShapes) shapes.push_back({type, shape, 1});
        else ++other;
    }

    SignatureAcc& signatureFor() {
        auto it = signatureIndex.find(key);
        if (it != signatureIndex.end()) return signatures[it->second];
        if (signatures.size() >= options.maxSignatures) {
            ++otherSignatureCalls;
            return otherSignatures;
        }
        signatureIndex.emplace(key, static_cast<uint32_t>(signatures.size()));
        signatureKeys.push_back(key);
        signatures.emplace_back();
        return signatures.back();
    }

    // Type of the result value; DecodeError -> object.
    uint32_t resultType(std::string_view bytes, bool& isArray, std::vector<uint64_t>& shape) {
        try {
            ValueParser p(bytes);
            typer.reset();
            p.next(token);
            uint32_t id = typer.typeOf(p, token);
            isArray = token.tag == Tag::Array;
            if (isArray) shape = token.shape;
            return id;
        } catch (const DecodeError&) {
            return TypeTable::Object;
        }
    }

    void add(const CallSample& c) {
        bool fits;
        try {
            fits = bind(c.inputs);
        } catch (const DecodeError&) {
            ++calls;
            ++undecodable;
            return;
        }
        ++calls;
        if (!fits) ++unbound;
        key.clear();
        bool anyMissing = false;
        for (size_t i = 0; i < params.size(); ++i) {
            uint64_t before = params[i].missing;
            commitParameter(params[i], passed[i]);
            anyMissing |= params[i].missing != before;
        }
        if (anyMissing && fits) ++unbound;
        SignatureAcc& sig = signatureFor();
        ++sig.calls;
        switch (c.outcome) {
            case format::Outcome::Pending: ++pending; break;
            case format::Outcome::ResultSkipped:
                if (c.closed == 1) ++closed;
                else if (c.closed != 0) ++dropped;
                else ++resultSkipped;
                break;
            case format::Outcome::Returned: {
                ++returned;
                bool isArray = false;
                uint32_t r = resultType(c.result, isArray, scratchShape);
                ++returns[r];
                ++sig.returns[r];
                if (isArray) countShape(returnShapes, otherReturnShapes, r, scratchShape);
                if (const PandasDetail* pandas = typer.pandas())
                    countPandas(returnPandas, otherReturnPandas, *pandas, options.maxShapes);
                break;
            }
            case format::Outcome::Raised: {
                ++raised;
                std::string type = strictUtf8(c.exceptionType);
                ++exceptions[type];
                ++sig.exceptions[type];
                break;
            }
        }
        if (c.outcome != format::Outcome::Pending) {
            timing.add(c.durationNs);
            sig.timing.add(c.durationNs);
        }
        if (c.hasYields || !c.outcomeExt.empty()) addYields(c);
        if (c.callerModule != kNoId) ++callers[c.callerModule];
        if (c.site != kNoId) ++sites[c.site];
        if (c.label != kNoId) {
            ++labels[c.label];
            ++sig.labels[c.label];
        }
    }
    // A generator call: its item count and the types of its recorded items
    // (one Yielded field per item, each one value with its own memo).
    void addYields(const CallSample& c) {
        uint64_t recorded = 0;
        try {
            forEachExtField(c.outcomeExt, [&](uint32_t tag, std::string_view bytes) {
                if (tag != static_cast<uint32_t>(format::ExtTag::Yielded)) return;
                bool isArray = false;
                ++yielded[resultType(bytes, isArray, scratchShape)];
                ++recorded;
            });
        } catch (const DecodeError&) {
            // a damaged ext area: the items typed so far stay counted
        }
        yieldedRecorded += recorded;
        if (!c.hasYields) return;
        yieldCounts.add(c.yields);
        if (c.yields > recorded) yieldedUnrecorded += c.yields - recorded;
    }

    static std::vector<ShapeCount> shapeCounts(const std::vector<ShapeKey>& shapes, const TypeTable& table) {
        std::vector<ShapeCount> out;
        for (const ShapeKey& k : shapes) out.push_back({table.text(k.type), k.shape, k.count});
        std::stable_sort(out.begin(), out.end(), [](const ShapeCount& a, const ShapeCount& b) { return a.count > b.count; });
        return out;
    }

    // Counts by id as counts by name (ids outside `table` as "#<id>").
    static std::vector<NamedCount> named(const Counts& m, const std::vector<std::string>& table) {
        std::map<std::string, uint64_t> byName;
        for (const auto& [id, n] : m) byName[nameOf(id, table)] += n;
        return namedCounts(byName);
    }

    static SignatureUsage signatureUsage(const SignatureAcc& s, const TypeTable& table, const ApiNames& names) {
        SignatureUsage u;
        u.calls = s.calls;
        u.returns = typeCounts(s.returns, table);
        u.exceptions = namedCounts(s.exceptions);
        u.timing = s.timing.result();
        u.labels = named(s.labels, names.labels);
        return u;
    }

    FunctionApi finish(const ApiNames& names) const {
        FunctionApi f;
        f.module = function.module;
        f.qualname = function.qualname;
        f.name = function.name;
        f.file = function.file;
        f.line = function.line;
        f.kind = function.kind;
        f.returnAnnotation = function.returnAnnotation;
        f.signatureKnown = function.signatureKnown;
        f.calls = calls;
        f.returned = returned;
        f.raised = raised;
        f.pending = pending;
        f.resultSkipped = resultSkipped;
        f.undecodable = undecodable;
        f.unbound = unbound;
        f.sampleItems = options.sampleItems;
        // Made-up parameters (unknown signature) arrive in call order: report
        // them in a valid order (positional, then keyword-only).
        std::vector<size_t> order(params.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return params[a].info.kind < params[b].info.kind; });
        for (size_t i : order) {
            const ParamAcc& a = params[i];
            ParameterUsage u;
            u.name = a.info.name;
            u.kind = a.info.kind;
            u.hasDefault = a.info.hasDefault;
            u.defaultRepr = a.info.defaultRepr;
            if (a.defaultType != kNoType) u.defaultType = table.text(a.defaultType);
            u.annotation = a.info.annotation;
            u.positional = a.positional;
            u.keyword = a.keyword;
            u.defaulted = a.defaulted;
            u.missing = a.missing;
            u.values = a.values;
            u.types = typeCounts(a.types, table);
            if (a.literalsComplete) {
                for (const auto& [v, n] : a.literals) u.literals.push_back({v, n});
                std::stable_sort(u.literals.begin(), u.literals.end(),
                                 [](const NamedCount& x, const NamedCount& y) { return x.count > y.count; });
            }
            u.literalsComplete = a.literalsComplete;
            u.shapes = shapeCounts(a.shapes, table);
            u.otherShapes = a.otherShapes;
            u.pandas = pandasCounts(a.pandas);
            u.otherPandas = a.otherPandas;
            u.keywordNames = namedCounts(a.keywordNames);
            u.sampledValues = a.sampled;
            f.parameters.push_back(std::move(u));
        }
        f.returns = typeCounts(returns, table);
        f.returnShapes = shapeCounts(returnShapes, table);
        f.returnPandas = pandasCounts(returnPandas);
        f.otherReturnPandas = otherReturnPandas;
        f.exceptions = namedCounts(exceptions);
        // Keys made before made-up parameters appeared are shorter: pad, then
        // merge the ones that are equal once padded. Types follow `order`.
        std::map<std::vector<std::string>, SignatureAcc> merged;
        for (size_t i = 0; i < signatures.size(); ++i) {
            std::vector<std::string> types;
            for (size_t j : order) {
                uint32_t id = j < signatureKeys[i].size() ? signatureKeys[i][j] : kNoType;
                types.push_back(id == kNoType ? std::string() : table.text(id));
            }
            merged[types].merge(signatures[i]);
        }
        for (auto& [types, acc] : merged) {
            f.signatures.push_back(signatureUsage(acc, table, names));
            f.signatures.back().types = types;
        }
        std::stable_sort(f.signatures.begin(), f.signatures.end(),
                         [](const SignatureUsage& a, const SignatureUsage& b) { return a.calls > b.calls; });
        f.otherSignatureCalls = otherSignatureCalls;
        f.timing = timing.result();
        f.callers = named(callers, names.callers);
        f.sites = named(sites, names.sites);
        f.labels = named(labels, names.labels);
        f.generator.yields = yieldCounts.result();
        f.generator.yielded = typeCounts(yielded, table);
        f.generator.yieldedRecorded = yieldedRecorded;
        f.generator.yieldedUnrecorded = yieldedUnrecorded;
        f.generator.closed = closed;
        f.generator.dropped = dropped;
        return f;
    }
};

ApiAggregator::ApiAggregator(const FunctionInfo& function, ApiOptions options)
    : impl_(std::make_unique<Impl>(function, options)) {}
ApiAggregator::~ApiAggregator() = default;
ApiAggregator::ApiAggregator(ApiAggregator&&) noexcept = default;
ApiAggregator& ApiAggregator::operator=(ApiAggregator&&) noexcept = default;

void ApiAggregator::add(const CallSample& call) { impl_->add(call); }
FunctionApi ApiAggregator::finish(const ApiNames& names) const { return impl_->finish(names); }

}  // namespace callmonitor::analyse
