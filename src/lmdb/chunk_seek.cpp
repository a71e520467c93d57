#include "lmdb/chunk_seek.h"

#include "codec/keys.h"

namespace callmonitor::lmdb {
namespace {
// From the key MDB_SET_RANGE found (found) or past the end (!found): one step
// back, then: is it the function's?
bool stepBackTo(const Cursor& calls, bool found, uint32_t function, MDB_val& k, MDB_val& v, format::CallKey& at) {
    found = found ? calls.get(k, v, MDB_PREV) : calls.get(k, v, MDB_LAST);
    return found && format::decodeCallKey(view(k), at) && at.function == function;
}
}  // namespace

bool seekChunk(const Cursor& calls, const format::CallKey& key, format::CallKey& at, std::string_view& chunk) {
    char kb[format::kCallKeySize];
    format::encodeCallKey(key, kb);
    MDB_val k{sizeof kb, kb}, v{};
    const bool found = calls.get(k, v, MDB_SET_RANGE);
    // A chunk starting at this very invocation, else the one before.
    if (!(found && format::decodeCallKey(view(k), at) && at == key) && !stepBackTo(calls, found, key.function, k, v, at))
        return false;
    chunk = view(v);
    return true;
}

bool seekLastChunk(const Cursor& calls, uint32_t function, format::CallKey& at, std::string_view& chunk) {
    MDB_val k{}, v{};
    bool found;
    if (function == UINT32_MAX) {
        found = calls.get(k, v, MDB_LAST) && format::decodeCallKey(view(k), at) && at.function == function;
    } else {
        // The first key of the next function, then one step back.
        char kb[format::kCallKeySize];
        format::encodeCallKey(format::CallKey{function + 1, 0}, kb);
        k = MDB_val{sizeof kb, kb};
        found = stepBackTo(calls, calls.get(k, v, MDB_SET_RANGE), function, k, v, at);
    }
    if (found) chunk = view(v);
    return found;
}

}  // namespace callmonitor::lmdb
