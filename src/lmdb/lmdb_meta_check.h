// Checks the two LMDB meta pages of a data file before LMDB is let near it.
// LMDB trusts its file: a meta page naming a root page that is a meta page,
// beyond the file, or of the wrong kind makes it abort (mdb_assert) or read
// outside the map. This check covers what the meta pages say; the tree pages
// below the roots are still trusted (docs/security.md).
#pragma once

#include <string>

namespace callmonitor::read {

// Throws CorruptError naming `dataFile` and the page when a meta page that
// carries LMDB's magic is inconsistent. Returns without judging a file that
// has no LMDB magic or another LMDB data version: mdb_env_open reports those
// (MDB_INVALID, MDB_VERSION_MISMATCH) and the caller maps them as before.
void checkLmdbMetaPages(const std::string& dataFile);

}  // namespace callmonitor::read
