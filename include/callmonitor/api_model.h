// The analyse stage's API derivation: what a function is really called with.
//
// An ApiAggregator is fed one CallSample per recorded call of ONE function and
// folds it into counts (no Value tree, no Python object per call: the value
// bytes are walked token by token with ValueParser). finish() gives the
// FunctionApi, plain structs the Python side presents (JSON, stubs, diff).
//
// Feeding it is the reader's job; deriveApi() below does it for one writer
// environment through the public Database API. A reader with a streaming
// iterator (format v2) only has to fill CallSample, including the fields that
// format v1 does not record (site, label: kNoId today).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "callmonitor/format.h"
#include "callmonitor/records.h"

namespace callmonitor {
class Database;
}

namespace callmonitor::analyse {

inline constexpr uint32_t kNoId = UINT32_MAX;  // caller / site / label not known

// One recorded call, as the aggregator needs it. Views only need to live
// during ApiAggregator::add().
struct CallSample {
    std::string_view inputs;          // encoded (args tuple, kwargs dict) value
    format::Outcome outcome = format::Outcome::Pending;
    std::string_view result;          // encoded value when outcome == Returned
    std::string_view exceptionType;   // when outcome == Raised
    uint64_t durationNs = 0;          // when outcome != Pending
    uint32_t callerModule = kNoId;    // index into ApiNames::callers
    uint32_t site = kNoId;            // index into ApiNames::sites ("file:line")
    uint32_t label = kNoId;           // index into ApiNames::labels
    // Generators and async generators (v2 outcome ext):
    bool hasYields = false;           // the record carries a Yields count
    uint64_t yields = 0;              // items yielded (ext Yields)
    uint64_t closed = 0;              // ext Closed: 1 closed before its end, 2 dropped without an outcome
    std::string_view outcomeExt;      // the outcome's ext fields: its Yielded items are typed from them
};

// Names of the ids a CallSample carries (a writer's tables). An id outside its
// table is reported as "#<id>".
struct ApiNames {
    std::vector<std::string> callers;
    std::vector<std::string> sites;
    std::vector<std::string> labels;
};

struct ApiOptions {
    uint32_t sampleItems = 16;     // container elements typed per container (the first K)
    uint32_t maxDepth = 6;         // nesting typed; deeper containers are their bare type ("list")
    uint32_t maxFixedTuple = 10;   // longer tuples are tuple[T, ...]
    uint32_t maxLiterals = 5;      // distinct short strings kept per parameter for Literal[...]
    uint32_t maxLiteralBytes = 32; // longer strings are never literals
    uint32_t maxShapes = 8;        // distinct array shapes kept per parameter
    uint32_t maxSignatures = 1000; // distinct signatures kept; the rest are counted together
};

struct TypeCount {
    std::string type;   // a Python type expression (see docs/api-json.md), e.g. "list[Union[int, str]]"
    uint64_t count = 0;
};

struct NamedCount {
    std::string name;
    uint64_t count = 0;
};

struct ShapeCount {
    std::string type;             // the array's type, "numpy.typing.NDArray[numpy.float64]"
    std::vector<uint64_t> shape;
    uint64_t count = 0;
};

// pandas values (the built-in handler's states) of one schema passed to a
// parameter or returned: a DataFrame's columns, a Series' or Index's dtype.
struct PandasCount {
    std::string type;                 // "pandas.DataFrame", "pandas.Series", "pandas.Int64Index", ...
    std::vector<std::pair<std::string, std::string>> columns;  // DataFrame: (name, dtype), at most kMaxColumns
    uint64_t columnCount = 0;         // DataFrame: all its columns
    std::string dtype;                // Series / Index: "float64", "Int64", "category", "object", ...
    uint64_t minLength = 0, maxLength = 0;  // rows (DataFrame) or items; both 0 when not known
    uint64_t count = 0;
    static constexpr size_t kMaxColumns = 64;
};

// Durations of a set of calls: exact count/total/min/max, and a log-linear
// histogram for percentiles. Bucket of d ns: d for d < 16, else
// (m << 4) | next 4 bits below the top bit, m = index of the top bit - 3.
// (16 buckets per power of two: a percentile is exact to 1/16.)
struct Timing {
    uint64_t count = 0;
    uint64_t totalNs = 0;
    uint64_t minNs = 0;
    uint64_t maxNs = 0;
    std::vector<std::pair<uint32_t, uint64_t>> histogram;  // (bucket, calls), ascending

    static uint32_t bucketOf(uint64_t ns);
    static uint64_t bucketLow(uint32_t bucket);   // smallest duration in the bucket
};

// Items yielded per generator call. The same accumulator as Timing's, over
// item counts instead of nanoseconds: count = generator calls, totalNs = items
// yielded in all, minNs / maxNs = fewest / most per call, histogram buckets
// of items per call (log-linear: exact below 16).
using ItemCounts = Timing;

// What the generator calls of a function yielded (FunctionApi::generator).
struct GeneratorUsage {
    ItemCounts yields;                    // items per call, of the calls with a Yields count
    std::vector<TypeCount> yielded;       // the type of each recorded item (intercept(yields=True)), descending
    uint64_t yieldedRecorded = 0;         // items whose value was recorded (typed in `yielded`)
    uint64_t yieldedUnrecorded = 0;       // items counted in `yields` whose value was not recorded
    uint64_t closed = 0;                  // calls closed (or collected) before their end
    uint64_t dropped = 0;                 // calls whose capture was freed without an outcome
};

struct ParameterUsage {
    std::string name;
    uint8_t kind = Parameter::PositionalOrKeyword;
    bool hasDefault = false;
    std::string defaultRepr;
    std::string defaultType;      // type of the default value ("" when none or unreadable)
    std::string annotation;
    uint64_t positional = 0;      // calls that passed it by position (var-positional: calls with extras)
    uint64_t keyword = 0;         // calls that passed it by keyword (var-keyword: calls with extras)
    uint64_t defaulted = 0;       // calls that left it to its default
    uint64_t missing = 0;         // calls that did not pass it although it has no default
    uint64_t values = 0;          // values typed (var-positional / var-keyword: one per extra item)
    std::vector<TypeCount> types;         // descending count
    std::vector<NamedCount> literals;     // str values, when at most maxLiterals short distinct ones
    bool literalsComplete = true;         // false: more distinct (or long) strings were seen
    std::vector<ShapeCount> shapes;       // array values by (type, shape), descending
    uint64_t otherShapes = 0;             // array values beyond maxShapes distinct shapes
    std::vector<PandasCount> pandas;      // pandas values by schema (at most maxShapes distinct), descending
    uint64_t otherPandas = 0;             // pandas values beyond the distinct schemas kept
    std::vector<NamedCount> keywordNames; // var-keyword: the names passed through it
    uint64_t sampledValues = 0;           // values holding a container typed from its first K items only
};

// One distinct signature: the argument types of a set of calls.
struct SignatureUsage {
    std::vector<std::string> types;   // per parameter of FunctionApi::parameters; "" = not passed
    uint64_t calls = 0;
    std::vector<TypeCount> returns;
    std::vector<NamedCount> exceptions;
    Timing timing;
    std::vector<NamedCount> labels;   // calls per label (which tests used this signature), descending
};

struct FunctionApi {
    std::string module, qualname, name, file, kind, returnAnnotation;
    uint32_t line = 0;
    bool signatureKnown = false;
    uint64_t calls = 0;
    uint64_t returned = 0, raised = 0, pending = 0, resultSkipped = 0;  // closed generators: in `generator`
    uint64_t undecodable = 0;   // calls whose inputs could not be parsed (malformed or unknown tags)
    uint64_t unbound = 0;       // calls whose arguments did not fit the recorded signature
    std::vector<ParameterUsage> parameters;
    std::vector<TypeCount> returns;
    std::vector<ShapeCount> returnShapes;
    std::vector<PandasCount> returnPandas;
    uint64_t otherReturnPandas = 0;
    std::vector<NamedCount> exceptions;
    std::vector<SignatureUsage> signatures;   // descending calls
    uint64_t otherSignatureCalls = 0;         // calls beyond maxSignatures distinct signatures
    Timing timing;
    std::vector<NamedCount> callers, sites, labels;
    GeneratorUsage generator;                 // empty (yields.count == 0, closed == 0) for other functions
    uint32_t sampleItems = 0;                 // ApiOptions::sampleItems used
};

// Aggregates the calls of one function. Not thread-safe; add() never throws
// for bad value bytes (they are counted in FunctionApi::undecodable).
class ApiAggregator {
public:
    explicit ApiAggregator(const FunctionInfo& function, ApiOptions options = {});
    ~ApiAggregator();
    ApiAggregator(ApiAggregator&&) noexcept;
    ApiAggregator& operator=(ApiAggregator&&) noexcept;

    void add(const CallSample& call);
    FunctionApi finish(const ApiNames& names) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Renders a union of type expressions as the model spells it: members sorted,
// None last, "Optional[X]" for X | None, "Union[...]" otherwise.
std::string unionText(std::vector<std::string> members);

// The API of every function recorded in one writer environment (or of the
// functions whose ids are in `only`, when not empty), in function id order.
std::vector<FunctionApi> deriveApi(const Database& db, const ApiOptions& options = {},
                                   const std::vector<uint32_t>& only = {});

}  // namespace callmonitor::analyse
