// Real records for the fuzz targets' seeds: made by the real encoder
// (ValueWriter, call_record.h, records.h) and stored by the real Writer, so
// the fuzzers start from bytes callmonitor actually writes.
#pragma once

#include <string>
#include <vector>

#include "callmonitor/format.h"
#include "callmonitor/records.h"

namespace callmonitor::fuzz {

struct SampleCall {
    format::CallKey key;
    std::string entry;     // call record (v2: with ext areas) ending in Pending
    std::string outcome;   // outcome section ("" leaves the call pending)
    std::vector<std::pair<uint32_t, std::string>> blobs;  // input payload slot (0, 1, ... in order) -> bytes
};

struct SampleRecords {
    WriterInfo writer;
    std::vector<FunctionInfo> functions;
    std::vector<ThreadInfo> threads;
    std::vector<std::string> callers;
    std::vector<SampleCall> calls;
};

// A handful of functions (with parameters and encoded defaults), threads,
// callers and calls covering every value tag and outcome, inline and blob
// arrays, shared references and a cycle.
SampleRecords sampleRecords();

// Writes `records` into a new writer directory `dir` with the Writer and
// closes it. Throws StoreError on failure.
void writeSampleDatabase(const std::string& dir, const SampleRecords& records);

}  // namespace callmonitor::fuzz
