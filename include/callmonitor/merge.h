// Merging writers into one environment (`callmonitor merge`): the calls of
// many writer environments -- the ranks, pids and declared ids of one or
// more runs, or earlier merges -- copied into one new environment that keeps
// each call's provenance (run, writer id, rank, pid, thread).
//
// The output (always format v2, whatever its sources' versions) holds each
// source writer's functions, threads, callers, sites and labels under new ids
// (SourceInfo in meta["sources"] gives the ranges) and its call records byte
// for byte but for those ids (v1 records gain empty ext areas), re-packed in
// chunks; payloads (v1 blobs, v2 payloads) are stored once by content hash.
// A source writer is identified by run id, run name and writer id: one
// that appears twice (given twice, or inside an earlier merge that is given
// too) is copied once, so merging is idempotent.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace callmonitor {

struct MergeInput {
    std::string directory;  // one writer environment, or an earlier merge's
    std::string run;        // name of the run directory it belongs to ("" for a merge)
};

struct MergeResult {
    uint32_t writers = 0;     // source writers copied
    uint32_t duplicates = 0;  // source writers skipped: already copied
    uint64_t calls = 0;
    uint64_t blobs = 0;       // payload references copied (v1 blobs, v2 payload slots)
    uint64_t bytes = 0;       // data.mdb size of the output
};

// Creates `out` (a new directory: throws StoreError if it exists) holding
// the merge of `inputs`. Writes into a temporary sibling and renames it into
// place at the end, so `out` never holds a partial merge. `progress(done,
// total)` is called with copied calls as it goes. Throws the reader's errors
// (NotFoundError, CorruptError, ...) for a bad input and StoreError for a
// failing output.
MergeResult mergeWriters(const std::string& out, const std::vector<MergeInput>& inputs,
                         const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace callmonitor
