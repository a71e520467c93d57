// The run-level reader: every writer of a recorded run (or of a folder of
// runs and merges of them), their functions by name, and a function's calls
// across writers. The Python load() and tools/callmonitor_dump.cpp both read
// through it, so they agree on which writers a path holds and in what order.
//
//   path                         what Run::open finds
//   call-monitor/main/           one writer environment (or one merge)
//   call-monitor/                a run: each subdirectory holding data.mdb
//   folder/                      its writer environments and merges, and the
//                                runs among its subdirectories (one level down)
//
// A merged environment stands for the writers it holds (its sources). The
// same writer found twice -- a run and a merge of it, two merges of one
// run -- is read once: writers are the same when SourceInfo::identity()
// (run id, run name, writer id: what merge uses) is equal. The copy read is
// the writer's own environment when present (it may have grown since the
// merge), else the copy holding the most calls. Skipped copies are counted
// in duplicates().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "callmonitor/call_record.h"
#include "callmonitor/database.h"
#include "callmonitor/records.h"

namespace callmonitor {

// A writer environment (or merge) found under a path, and the name of the
// run directory it was recorded in ("" when unknown).
struct EnvironmentLocation {
    std::string directory;
    std::string run;
};

// The environments under `path` (see the table above), in name order.
// Throws NotFoundError (no such path) or NotADatabaseError (nothing there).
std::vector<EnvironmentLocation> findEnvironments(const std::string& path);

// The newest run directory (a directory with a .callmonitor-run marker) in
// `folder`, by the creation time its marker records. Throws NotFoundError
// when there is none.
std::string newestRun(const std::string& folder);

// What `db` (a writer's own environment in `directory`) is as a source of a
// merge: its metadata, stats and id counts, with bases 0. Its identity()
// equals that of its copy in any merge.
SourceInfo ownSourceInfo(const Database& db, const std::string& directory, const std::string& run);

// One writer of a run: a writer environment of its own, or one source
// writer inside a merged environment (then only its id ranges are its own).
struct RunWriter {
    std::string id;         // writer id ("main", "rank-0002", "pid-77"); "run/writer" when the Run holds several runs
    std::string directory;  // the environment it is read from
    std::string filesDir;   // where its callmonitor 0.3 handler files are ("" = `directory`)
    SourceInfo source;      // run name, WriterInfo, capture stats, id ranges in `directory`
    bool merged = false;    // one source of a merged environment
    std::shared_ptr<const Database> database;  // shared by the sources of one merged environment

    const std::string& run() const { return source.run; }
    const WriterInfo& info() const { return source.writer; }
    bool ownsFunction(uint32_t id) const;
    bool ownsThread(uint32_t index) const;
};

// An environment that could not be opened, and why.
struct DamagedWriter {
    std::string directory;
    std::string error;
};

// A function recorded by one writer.
struct RunFunction {
    size_t writer = 0;     // index into Run::writers()
    FunctionInfo info;     // info.id: its id in that writer's environment
};

// A function object, as the reader finds its recorded calls: by module and
// qualname, and by definition site (file, line) when two recorded functions
// share those. `partial`: a functools.partial of it (recorded apart).
struct FunctionQuery {
    std::string module;
    std::string qualname;
    std::string file;   // "" when unknown (builtins)
    uint32_t line = 0;
    bool partial = false;
};

// How to name each of `functions` so that Run::resolve finds that
// definition alone among them: its full name, or, when one writer holds two
// definitions of that name (a function redefined in a notebook, two lambdas
// of a module), NAME@LINE ("mod.f@30", "mod.<lambda>@12"), else
// NAME@FILE:LINE. One definition recorded by several writers gets one name.
std::vector<std::string> uniqueNames(const std::vector<const RunFunction*>& functions);

struct RunOptions {
    // An environment that cannot be opened throws instead of being listed in
    // damaged(). A path naming one environment always throws.
    bool strict = false;
};

// One call met by a RunCallCursor.
struct RunCall {
    size_t writer = 0;                // index into Run::writers()
    const RunFunction* function = nullptr;
    CallView view;                    // valid until the cursor's next next()
};

// Streams the calls of some functions, writer after writer in start-time
// order (Run::startOrder()), each writer's in invocation order, through the
// Snapshot's CallCursor (zero-copy views into the map). Holds a Snapshot of
// the current writer's environment between next() calls (see
// the Snapshot contract in database.h: do not wait for this process's
// Writer while holding a cursor).
class RunCallCursor {
public:
    bool next(RunCall& out);

private:
    friend class Run;
    std::vector<RunFunction> functions_;  // sorted by the writer's start order
    size_t current_ = 0;                  // index into functions_
    std::vector<const RunWriter*> writers_;
    std::optional<Snapshot> snapshot_;
    std::optional<CallCursor> cursor_;  // over snapshot_ (declared after it: destroyed first)
};

class Run {
public:
    // Opens every writer under `path`. Throws NotFoundError / NotADatabaseError
    // for a path holding nothing, the environment's error for a path that is
    // one environment, and the first error when no environment opens.
    static Run open(const std::string& path, RunOptions options = {});

    const std::string& path() const { return path_; }
    // Writers in listing order: by run (natural order of names), then main,
    // ranks, declared ids (tid-N), processes (pid-N), numerically, then others.
    const std::vector<RunWriter>& writers() const { return writers_; }
    // Writer indices by start time (WriterInfo::startedUnixNs), ties in listing order.
    const std::vector<size_t>& startOrder() const { return startOrder_; }
    const std::vector<DamagedWriter>& damaged() const { return damaged_; }
    uint32_t duplicates() const { return duplicates_; }
    // The names of the runs whose writers this Run holds, in listing order.
    std::vector<std::string> runs() const;

    // A writer's functions (read now: a live writer may have added some).
    std::vector<RunFunction> functions(size_t writer) const;
    std::vector<RunFunction> functions() const;

    // The functions `name` names among `writers` (all when empty): exact full
    // name (module.qualname) first, else qualname, else bare name, each
    // optionally with its definition site: NAME@LINE or NAME@FILE:LINE (FILE
    // as recorded, or a trailing part of it after a '/'). Throws
    // UnknownFunctionError when none match, AmbiguousFunctionError when the
    // matches have several uniqueNames (different full names, or definitions
    // one writer holds two of; the message spells each), UnknownFunctionError when one
    // writer holds two functions of one definition (partials: pass a
    // FunctionQuery).
    std::vector<RunFunction> resolve(std::string_view name, const std::vector<size_t>& writers = {}) const;
    // The functions a function object names: same module, qualname and kind
    // (partial or not), and same definition site when the recorded one is
    // known; a function defined elsewhere matches only when no site matches
    // (the source was edited since). Throws UnknownFunctionError as above.
    std::vector<RunFunction> resolve(const FunctionQuery& query, const std::vector<size_t>& writers = {}) const;

    RunCallCursor calls(std::vector<RunFunction> functions) const;

private:
    std::vector<RunFunction> chooseOne(std::vector<RunFunction> found, const std::string& asked,
                                       const std::vector<size_t>& writers) const;
    std::string path_;
    std::vector<RunWriter> writers_;
    std::vector<size_t> startOrder_;
    std::vector<DamagedWriter> damaged_;
    uint32_t duplicates_ = 0;
};

}  // namespace callmonitor
