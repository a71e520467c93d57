// Decoded values for C++ readers: a tree mirroring value_format.h. Shared
// references stay shared (Backref resolves to the same node), so a cyclic
// value is a cyclic graph of shared_ptr; use toText() (cycle-safe) to print.
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "callmonitor/dtype.h"
#include "callmonitor/value_format.h"

namespace callmonitor {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
    Tag tag = Tag::None;
    bool boolean = false;
    int64_t integer = 0;            // Int; Object: its ObjectForm; Ref: its RefKind
    bool negative = false;          // BigInt
    double real = 0, imag = 0;
    std::string bytes;              // Str (UTF-8), Bytes, ByteArray, BigInt magnitude (LE),
                                    // Handler/Pickle payload, NpScalar bytes, Array bytes, Opaque repr
    std::string name;               // Handler/Legacy name, Opaque/Pickle type, Array/NpScalar dtype,
                                    // Object/Ref module
    std::string extra;              // Opaque reason, Legacy directory, Object/Ref qualname
    std::vector<ValuePtr> items;    // List, Tuple, Set, FrozenSet, Legacy and Object state (one item)
    std::vector<std::pair<ValuePtr, ValuePtr>> pairs;  // Dict
    // Array
    DtypeInfo dtype;                // views into `name`
    char order = 'C';
    std::vector<uint64_t> shape;

    Value() = default;
    Value(const Value&) = default;
    Value(Value&&) = default;
    Value& operator=(const Value&) = default;
    Value& operator=(Value&&) = default;
    // Releases children iteratively, so dropping a 100,000-deep tree does not
    // recurse. (A cyclic graph is never freed: break it by clearing items.)
    ~Value();

    bool isNone() const { return tag == Tag::None; }
    // Object, Ref: "module.qualname" (a module: its name).
    std::string qualifiedName() const;
    // Python-like rendering (cycle-safe: a node already being printed is "...").
    std::string toText(size_t maxItems = 20) const;
};

// Resolves an Array stored as a blob: returns its bytes (must stay valid
// until decodeValue returns; the bytes are copied into the tree).
using BlobResolver = std::function<std::string_view(uint32_t blobIndex)>;

// The name Python gives an Object's class or a Ref: "module.qualname"; a
// builtin without its module ("int"); a module (empty qualname) by its name.
std::string qualifiedName(std::string_view module, std::string_view qualname);

// Decodes exactly one value from `bytes` (iteratively: deep nesting does not
// use the C++ stack). Throws DecodeError on malformed input or when bytes
// remain after the value and `requireEnd` is set.
ValuePtr decodeValue(std::string_view bytes, const BlobResolver& blobs = {}, bool requireEnd = true);

// The inputs value of a call record split into positional and keyword args.
struct DecodedInputs {
    std::vector<ValuePtr> args;
    std::vector<std::pair<std::string, ValuePtr>> kwargs;
};
DecodedInputs decodeInputs(std::string_view inputs, const BlobResolver& blobs = {});

}  // namespace callmonitor
