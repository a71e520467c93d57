// Finding a function's chunk in a v2 `calls` database (codec/chunk.h): the
// one seek shared by the writer (ChunkWriter: completing a late outcome,
// appending to the tail chunk) and the reader (Snapshot::call, lastInvocation).
#pragma once

#include <cstdint>
#include <string_view>

#include "callmonitor/format.h"
#include "lmdb/lmdb.h"

namespace callmonitor::lmdb {

// The chunk that holds `key` if any call of it is stored: the greatest chunk
// key <= key among those of key.function. `at` is its key (at.invocation is
// its first invocation), `chunk` its value. False when the function has no
// chunk starting at or before key.invocation.
bool seekChunk(const Cursor& calls, const format::CallKey& key, format::CallKey& at, std::string_view& chunk);

// The function's last chunk (greatest key of `function`). False: it has none.
bool seekLastChunk(const Cursor& calls, uint32_t function, format::CallKey& at, std::string_view& chunk);

}  // namespace callmonitor::lmdb
