// The structured records stored beside the calls: function descriptions,
// threads, writer metadata and capture statistics. Serialized with cereal's
// portable binary archive (they are written once per function / thread /
// writer, so size does not matter; the per-call record in format.h is
// hand-packed instead because it does).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace callmonitor {

// One parameter of a function's signature, as inspect.Parameter describes it.
struct Parameter {
    enum Kind : uint8_t {
        PositionalOnly = 0,
        PositionalOrKeyword = 1,
        VarPositional = 2,
        KeywordOnly = 3,
        VarKeyword = 4,
    };
    std::string name;
    uint8_t kind = PositionalOrKeyword;
    bool hasDefault = false;
    std::string defaultValue;   // encoded value (value_format.h) when hasDefault
    std::string defaultRepr;    // repr() of the default, for display
    std::string annotation;     // annotation as text, "" when none
};

// The C++ table of parameter kinds: inspect.Parameter's kind name
// ("POSITIONAL_ONLY", ...) of a Parameter::Kind; an unknown value reads as
// POSITIONAL_OR_KEYWORD.
const char* parameterKindName(uint8_t kind);

// A call site inside a function rewritten by @intercept(inner=True)
// (callmonitor.inner.rewrite): the inner calls' `site` indexes these.
struct InnerSiteInfo {
    std::string callee;         // as written: "a.run", "int", "obj[\"k\"]"
    std::string name;           // resolved qualified name at the site's first call ("" until then)
    uint32_t line = 0;
    uint32_t column = 0;
    bool awaited = false;
};

struct FunctionInfo {
    uint32_t id = 0;            // key in `functions`, first part of CallKey
    std::string module;
    std::string qualname;
    std::string name;
    std::string file;
    uint32_t line = 0;
    bool signatureKnown = false;  // false for builtins inspect cannot describe
    std::vector<Parameter> parameters;
    std::string returnAnnotation;
    std::string kind;           // "function", "method", "coroutine", "generator", "builtin", "partial", ...
    std::vector<InnerSiteInfo> innerSites;  // @intercept(inner=True): its call sites (v1 of the record)

    std::string fullName() const { return module.empty() ? qualname : module + "." + qualname; }
};

struct ThreadInfo {
    uint32_t index = 0;         // value stored in call records
    uint64_t ident = 0;         // threading.get_ident()
    uint64_t nativeId = 0;      // OS thread id
    std::string name;
};

struct WriterInfo {
    std::string host;
    int64_t pid = 0;
    int64_t rank = -1;          // MPI rank, -1 when not under MPI
    std::string writerId;       // e.g. "main", "tid-3", "rank-0002", "pid-1234"
    std::string pythonVersion;
    std::string packageVersion;
    std::vector<std::string> argv;
    std::string cwd;
    int64_t startedUnixNs = 0;  // wall clock at clock origin
    int64_t clockOriginNs = 0;  // monotonic clock value that call start times count from
    std::string runId;          // the run this writer belongs to (its run directory's marker); v1
};


// A code location that called an intercepted function (v2 `sites` table,
// named by the entry ext field Site): resolved once per location by the
// capture side, so a call stores only the small id.
struct SiteInfo {
    uint32_t id = 0;            // key in `sites`
    std::string file;
    uint32_t line = 0;
    std::string function;       // the calling frame's function (co_qualname when known)
};

struct CaptureStats {
    uint64_t opaque = 0;        // values stored as Opaque placeholders
    uint64_t pickled = 0;       // values stored as pickle
    uint64_t captureErrors = 0; // calls whose capture failed (logged, never raised)
    uint64_t droppedCalls = 0;  // calls not stored because the writer had failed
};

// One writer's share of a merged environment (meta["sources"]): its own
// metadata, and the id ranges its functions, threads and callers were moved
// to. A writer's function f is function functionBase + f of the merged
// environment, and so on; call records are unchanged but for their thread
// and caller indices.
struct SourceInfo {
    std::string run;            // name of the run directory it was recorded in
    WriterInfo writer;          // its meta["writer"] (run id, writer id, rank, pid, clock origin, ...)
    CaptureStats stats;
    uint32_t functionBase = 0, functionCount = 0;
    uint32_t threadBase = 0, threadCount = 0;
    uint32_t callerBase = 0, callerCount = 0;
    uint32_t siteBase = 0, siteCount = 0;     // v2: its sites and labels, like callers
    uint32_t labelBase = 0, labelCount = 0;
    std::string handlerDir;     // its callmonitor 0.3 handler files, relative to the merged directory

    // A writer is the same writer in every merge: same run, same writer id.
    std::string identity() const { return writer.runId + "\n" + run + "\n" + writer.writerId; }
};

// cereal portable-binary round trips. decode* throws CorruptError on bad bytes.
std::string encodeFunctionInfo(const FunctionInfo&);
FunctionInfo decodeFunctionInfo(std::string_view);
std::string encodeThreadInfo(const ThreadInfo&);
ThreadInfo decodeThreadInfo(std::string_view);
std::string encodeWriterInfo(const WriterInfo&);
WriterInfo decodeWriterInfo(std::string_view);
std::string encodeCaptureStats(const CaptureStats&);
CaptureStats decodeCaptureStats(std::string_view);
std::string encodeSources(const std::vector<SourceInfo>&);
std::vector<SourceInfo> decodeSources(std::string_view);
std::string encodeSiteInfo(const SiteInfo&);
SiteInfo decodeSiteInfo(std::string_view);

}  // namespace callmonitor
