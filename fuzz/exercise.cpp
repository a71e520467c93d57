#include "exercise.h"

#include <complex>
#include <unordered_set>
#include <vector>

#include "ndarray/xarray.h"

namespace callmonitor::fuzz {
namespace {

template <class T> void convert(const Value& v) {
    try {
        auto x = toXarray<T>(v);
        (void)x.size();
    } catch (const TypeMismatchError&) {
    }
}

void convertArray(const Value& v) {
    switch (v.dtype.kind) {
        case 'b': convert<bool>(v); break;
        case 'i':
            if (v.dtype.itemSize == 1) convert<int8_t>(v);
            else if (v.dtype.itemSize == 2) convert<int16_t>(v);
            else if (v.dtype.itemSize == 4) convert<int32_t>(v);
            else convert<int64_t>(v);
            break;
        case 'u':
            if (v.dtype.itemSize == 1) convert<uint8_t>(v);
            else if (v.dtype.itemSize == 2) convert<uint16_t>(v);
            else if (v.dtype.itemSize == 4) convert<uint32_t>(v);
            else convert<uint64_t>(v);
            break;
        case 'f':
            if (v.dtype.itemSize == 4) convert<float>(v);
            else convert<double>(v);
            break;
        case 'c':
            if (v.dtype.itemSize == 8) convert<std::complex<float>>(v);
            else convert<std::complex<double>>(v);
            break;
        default:
            convert<double>(v);  // must be refused with TypeMismatchError
    }
}

}  // namespace

void exerciseValue(const ValuePtr& root) {
    if (!root) return;
    (void)root->toText();
    // Owning pointers: clearing one node's items must not free another here.
    std::vector<ValuePtr> nodes{root};
    std::unordered_set<const Value*> seen{root.get()};
    for (size_t i = 0; i < nodes.size(); ++i) {
        const Value& v = *nodes[i];
        if (v.tag == Tag::Array) convertArray(v);
        auto visit = [&](const ValuePtr& c) {
            if (c && seen.insert(c.get()).second) nodes.push_back(c);
        };
        for (const auto& c : v.items) visit(c);
        for (const auto& [k, val] : v.pairs) {
            visit(k);
            visit(val);
        }
    }
    for (const ValuePtr& v : nodes) {
        v->items.clear();
        v->pairs.clear();
    }
}

void exerciseCall(const CallView& call, const BlobResolver& blobs) {
    try {
        DecodedInputs in = decodeInputs(call.inputs, blobs);
        for (const auto& a : in.args) exerciseValue(a);
        for (const auto& [name, v] : in.kwargs) exerciseValue(v);
    } catch (const Error&) {
    }
    if (call.outcome == format::Outcome::Returned) exerciseValue(decodeValue(call.result, blobs));
}

void exerciseFunction(const FunctionInfo& fn) {
    for (const auto& p : fn.parameters) {
        if (!p.hasDefault) continue;
        try {
            exerciseValue(decodeValue(p.defaultValue));
        } catch (const Error&) {
        }
    }
}

}  // namespace callmonitor::fuzz
