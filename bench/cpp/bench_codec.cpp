// Codec throughput: encode (ValueWriter) and decode (decodeValue) of a small
// call, a dict of 100 floats, and an 8 MB float64 array stored inline.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "callmonitor/value.h"
#include "callmonitor/value_writer.h"
#include "small_call.h"

using namespace callmonitor;

namespace {

void writeSmallCall(std::string& out) { bench::smallInputs(out); }

const std::vector<std::string>& dictKeys() {
    static std::vector<std::string> keys = [] {
        std::vector<std::string> k;
        for (int i = 0; i < 100; ++i) k.push_back("key" + std::to_string(i));
        return k;
    }();
    return keys;
}

void writeFloatDict(std::string& out) {
    ValueWriter w(out);
    w.beginDict(100, false);
    const auto& keys = dictKeys();
    for (int i = 0; i < 100; ++i) {
        w.str(keys[i]);
        w.real(i * 0.25);
    }
}

const std::vector<double>& bigArray() {
    static std::vector<double> xs(1 << 20, 1.5);  // 8 MiB
    return xs;
}

void writeBigArray(std::string& out) {
    ValueWriter w(out);
    const auto& xs = bigArray();
    w.arrayInline(ArrayHeader{"<f8", 'C', {xs.size()}}, xs.data(), xs.size() * sizeof(double), false);
}

template <void (*Write)(std::string&)>
void BM_Encode(benchmark::State& state) {
    std::string out;
    for (auto _ : state) {
        out.clear();  // reuses the buffer, as the capture side does
        Write(out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}

template <void (*Write)(std::string&)>
void BM_Decode(benchmark::State& state) {
    std::string bytes;
    Write(bytes);
    for (auto _ : state) {
        ValuePtr v = decodeValue(bytes);
        benchmark::DoNotOptimize(v.get());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}

}  // namespace

BENCHMARK_TEMPLATE(BM_Encode, writeSmallCall)->Name("Encode/SmallCall");
BENCHMARK_TEMPLATE(BM_Decode, writeSmallCall)->Name("Decode/SmallCall");
BENCHMARK_TEMPLATE(BM_Encode, writeFloatDict)->Name("Encode/Dict100Floats");
BENCHMARK_TEMPLATE(BM_Decode, writeFloatDict)->Name("Decode/Dict100Floats");
BENCHMARK_TEMPLATE(BM_Encode, writeBigArray)->Name("Encode/Array8MB")->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Decode, writeBigArray)->Name("Decode/Array8MB")->Unit(benchmark::kMicrosecond);
