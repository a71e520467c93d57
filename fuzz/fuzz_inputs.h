// The layout of the fuzz targets' inputs, shared by the targets and the seed
// generator (make_seeds.cpp) so seeds and targets agree.
#pragma once

#include <cstdint>

#include "callmonitor/format.h"

namespace callmonitor::fuzz {

// fuzz_decode_records: first byte % kRecordKinds, then the record bytes.
//   7 a chunk (u8 first invocation, then the chunk: framing, records, refs)
//   8 a stored payload (codec byte, size, bytes: zstd frames, bombs)  9 a site
enum class RecordKind : uint8_t {
    Value = 0, Call = 1, Function = 2, Thread = 3, Writer = 4, Stats = 5, Sources = 6, Chunk = 7, Payload = 8, Site = 9
};
constexpr uint8_t kRecordKinds = 10;

// fuzz_open_database: first byte % 2 picks the mutation applied to a copy of
// the sample database before the reader opens it:
//   RecordEdits: a sequence of edits made through LMDB's own API (the file
//     stays a valid LMDB environment; the records in it are hostile):
//       u8 database (% kDatabases, order of kDatabaseNames), u8 op (even: put,
//       odd: delete), u8 key length, key, u16 LE value length, value
//   MetaPageBytes: raw byte overwrites in LMDB's two meta pages:
//       u8 page (% 2), u8 offset, u8 length (% 17), bytes
enum class DbMutation : uint8_t { RecordEdits = 0, MetaPageBytes = 1 };
constexpr uint8_t kDatabases = 8;
inline const char* const kDatabaseNames[kDatabases] = {format::kMetaDb,    format::kFunctionsDb, format::kThreadsDb,
                                                        format::kCallersDb, format::kCallsDb,     format::kPayloadsDb,
                                                        format::kSitesDb,  format::kLabelsDb};

}  // namespace callmonitor::fuzz
