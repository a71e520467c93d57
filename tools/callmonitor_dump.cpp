// callmonitor-dump: reads a callmonitor database from C++ alone (no Python).
//
//   callmonitor-dump [PATH]                writers, functions, call counts, sizes
//   callmonitor-dump PATH FUNCTION N       call N of FUNCTION (1-based; -1 = last)
//
// PATH is whatever the run reader (run.h) opens: a writer directory, a run
// directory, a merge, or a folder of runs and merges; without it, the
// newest run in the current directory. Exit codes: 0 ok, 1 database error,
// 2 bad usage. Errors are one line on stderr, never a crash.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/run.h"
#include "callmonitor/value.h"

namespace cm = callmonitor;

namespace {

constexpr const char* kUsage =
    "usage: callmonitor-dump [--writer ID | --rank R | --pid P] [--max-items K] [PATH] [FUNCTION N]\n"
    "\n"
    "Shows a callmonitor database without Python.\n"
    "\n"
    "  PATH          a run directory (e.g. call-monitor/), one writer directory in it,\n"
    "                a merge, or a folder of runs and merges (each writer read once);\n"
    "                default: the newest run in the current directory\n"
    "  FUNCTION N    show call N of FUNCTION (a bare name, qualname or\n"
    "                module.qualname); N counts from 1, negative N from the end\n"
    "  --writer ID   only the writer with this id (main, rank-0002, pid-4242, run/writer)\n"
    "  --rank R      only the writers of MPI rank R\n"
    "  --pid P       only the writers of process P\n"
    "  --max-items K items shown per container (default 20, 0 = all)\n"
    "  -h, --help    this help\n"
    "\n"
    "Without FUNCTION N, lists each writer's info, functions, call counts and sizes.\n"
    "Exit status: 0 ok, 1 database error, 2 bad usage.\n";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string path;
    std::string function;
    std::string invocation;
    std::string writer;
    std::optional<int64_t> rank, pid;
    size_t maxItems = 20;
    bool help = false;
};

int64_t parseInteger(const std::string& v, const std::string& flag) {
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno) throw UsageError(flag + " needs an integer, got '" + v + "'");
    return n;
}

Options parseArgs(int argc, char** argv) {
    Options o;
    std::vector<std::string> pos;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const std::string& flag) -> std::string {
            if (i + 1 >= argc) throw UsageError(flag + " needs a value");
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            o.help = true;
        } else if (a == "--writer") {
            o.writer = value(a);
        } else if (a.rfind("--writer=", 0) == 0) {
            o.writer = a.substr(9);
        } else if (a == "--rank" || a.rfind("--rank=", 0) == 0) {
            o.rank = parseInteger(a == "--rank" ? value(a) : a.substr(7), "--rank");
        } else if (a == "--pid" || a.rfind("--pid=", 0) == 0) {
            o.pid = parseInteger(a == "--pid" ? value(a) : a.substr(6), "--pid");
        } else if (a == "--max-items" || a.rfind("--max-items=", 0) == 0) {
            std::string v = a == "--max-items" ? value(a) : a.substr(12);
            char* end = nullptr;
            errno = 0;
            unsigned long long k = std::strtoull(v.c_str(), &end, 10);
            if (v.empty() || *end || errno || v[0] == '-') throw UsageError("--max-items needs a number, got '" + v + "'");
            o.maxItems = static_cast<size_t>(k);
        } else if (a == "--") {
            for (++i; i < argc; ++i) pos.push_back(argv[i]);
        } else if (a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
            throw UsageError("unknown option " + a);
        } else {
            pos.push_back(a);
        }
    }
    if (o.help) return o;
    if (pos.size() > 3) throw UsageError("too many arguments (see --help)");
    if (pos.size() == 2) {  // FUNCTION N in the newest run, or PATH FUNCTION without N
        const std::string& n = pos[1];
        const bool number = !n.empty() && n.find_first_not_of("-0123456789") == std::string::npos;
        if (!number) throw UsageError("FUNCTION needs a call number N (see --help)");
        o.function = pos[0];
        o.invocation = n;
        return o;
    }
    if (!pos.empty()) o.path = pos[0];
    if (pos.size() == 3) {
        o.function = pos[1];
        o.invocation = pos[2];
    }
    return o;
}

int64_t parseInvocation(const std::string& s) {
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end || errno) throw UsageError("call number must be an integer, got '" + s + "'");
    if (n == 0) throw UsageError("call numbers start at 1 (use -1 for the last call)");
    return n;
}

// ---------------------------------------------------------------------------
// Rendering

std::string signatureText(const cm::FunctionInfo& f) {
    if (!f.signatureKnown) return f.name + "(...)";
    // Python's inspect.Signature rendering: "/" after positional-only
    // parameters, a bare "*" before keyword-only ones when there is no *args.
    std::string out = f.name + "(";
    bool first = true;
    auto sep = [&] {
        if (!first) out += ", ";
        first = false;
    };
    bool sawVarPos = false, pendingSlash = false;
    for (const auto& p : f.parameters) {
        if (pendingSlash && p.kind != cm::Parameter::PositionalOnly) {
            sep();
            out += "/";
            pendingSlash = false;
        }
        if (p.kind == cm::Parameter::PositionalOnly) pendingSlash = true;
        if (p.kind == cm::Parameter::VarPositional) sawVarPos = true;
        if (p.kind == cm::Parameter::KeywordOnly && !sawVarPos) {
            sep();
            out += "*";
            sawVarPos = true;
        }
        sep();
        if (p.kind == cm::Parameter::VarPositional) out += "*";
        if (p.kind == cm::Parameter::VarKeyword) out += "**";
        out += p.name;
        if (!p.annotation.empty()) out += ": " + p.annotation;
        if (p.hasDefault) out += (p.annotation.empty() ? "=" : " = ") + p.defaultRepr;
    }
    if (pendingSlash) {
        sep();
        out += "/";
    }
    out += ")";
    if (!f.returnAnnotation.empty()) out += " -> " + f.returnAnnotation;
    return out;
}

std::string bytesText(uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
    else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string durationText(uint64_t ns) {
    char buf[32];
    if (ns < 1000) std::snprintf(buf, sizeof buf, "%" PRIu64 " ns", ns);
    else if (ns < 1000000) std::snprintf(buf, sizeof buf, "%.3f us", ns / 1e3);
    else if (ns < 1000000000) std::snprintf(buf, sizeof buf, "%.3f ms", ns / 1e6);
    else std::snprintf(buf, sizeof buf, "%.3f s", ns / 1e9);
    return buf;
}

// UTC wall time of a unix-epoch nanosecond count.
std::string wallText(int64_t unixNs) {
    if (unixNs <= 0) return "unknown";
    time_t s = static_cast<time_t>(unixNs / 1000000000);
    long frac = static_cast<long>(unixNs % 1000000000);
    struct tm tm;
    if (!::gmtime_r(&s, &tm)) return std::to_string(unixNs) + " ns";
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    char out[96];
    std::snprintf(out, sizeof out, "%s.%06ld UTC", buf, frac / 1000);
    return out;
}

// One writer: its metadata and functions; the environment's sizes once per
// environment (the sources of a merge share one).
void printWriter(std::ostream& os, const cm::Run& run, size_t index, bool withSizes) {
    const cm::RunWriter& w = run.writers()[index];
    const cm::WriterInfo& info = w.info();
    const cm::Database& db = *w.database;
    os << "writer " << w.id << "  (" << w.directory << (w.merged ? ", merged" : "") << ")\n";
    os << "  writer id: " << (info.writerId.empty() ? "-" : info.writerId) << "   host: " << info.host
       << "   pid: " << info.pid;
    if (info.rank >= 0) os << "   rank: " << info.rank;
    if (!w.run().empty()) os << "   run: " << w.run();
    os << "\n  started: " << wallText(info.startedUnixNs) << "   format version " << db.formatVersion() << "\n";
    if (!info.pythonVersion.empty() || !info.packageVersion.empty())
        os << "  python " << info.pythonVersion << ", callmonitor " << info.packageVersion << "\n";
    if (!info.argv.empty()) {
        os << "  argv:";
        for (auto& a : info.argv) os << " " << a;
        os << "\n";
    }
    if (withSizes) {
        cm::DatabaseSizes sz = db.sizes();
        os << "  size: " << bytesText(sz.fileBytes) << " on disk; " << sz.calls << " calls ("
           << bytesText(sz.callBytes) << "), " << sz.blobs << " blobs (" << bytesText(sz.blobBytes) << ")"
           << (w.merged ? " (the whole merge)" : "") << "\n";
    }
    const cm::CaptureStats st = w.merged ? w.source.stats : db.stats();
    if (st.opaque || st.pickled || st.captureErrors || st.droppedCalls)
        os << "  capture: " << st.opaque << " opaque values, " << st.pickled << " pickled values, "
           << st.captureErrors << " capture errors, " << st.droppedCalls << " dropped calls\n";
    std::vector<cm::RunFunction> fns = run.functions(index);
    cm::Snapshot snap = db.snapshot();
    os << "  functions (" << fns.size() << "):\n";
    if (fns.empty()) os << "    (none)\n";
    for (const auto& rf : fns) {
        const cm::FunctionInfo& f = rf.info;
        uint64_t calls = snap.lastInvocation(f.id);
        os << "    " << f.fullName() << signatureText(f).substr(f.name.size()) << "   " << calls
           << (calls == 1 ? " call" : " calls") << "\n";
    }
}

void printCall(std::ostream& os, const cm::RunWriter& w, const cm::FunctionInfo& f, int64_t requested,
               size_t maxItems) {
    const cm::Database& db = *w.database;
    cm::Snapshot snap = db.snapshot();
    uint64_t last = snap.lastInvocation(f.id);
    int64_t n = requested > 0 ? requested : static_cast<int64_t>(last) + 1 + requested;
    if (n < 1 || static_cast<uint64_t>(n) > last)
        throw cm::CallNotFoundError(f.fullName() + " has " + std::to_string(last) + " calls in writer " + w.id +
                                    "; there is no call " + std::to_string(requested));
    cm::format::CallKey key{f.id, static_cast<uint64_t>(n)};
    if (!snap.record(key))
        throw cm::CallNotFoundError("call " + std::to_string(n) + " of " + f.fullName() + " is not stored");
    cm::CallView call = snap.call(key);
    cm::BlobResolver blobs = [&](uint32_t index) { return snap.blob(key, index); };
    cm::DecodedInputs in = cm::decodeInputs(call.inputs, blobs);
    const cm::WriterInfo& info = w.info();

    os << f.fullName() << "  call " << n << " of " << last << "   (writer " << w.id << ")\n";
    os << "  signature: " << signatureText(f) << "\n";
    os << "  started:   " << wallText(info.startedUnixNs + static_cast<int64_t>(call.startNs)) << "   (+"
       << durationText(call.startNs) << " after the writer started)\n";
    if (call.outcome != cm::format::Outcome::Pending) os << "  duration:  " << durationText(call.durationNs) << "\n";
    std::string thread = "#" + std::to_string(call.thread);
    for (const auto& t : db.threads())
        if (t.index == call.thread) thread = t.name + " (ident " + std::to_string(t.ident) + ", native id " +
                                             std::to_string(t.nativeId) + ")";
    os << "  thread:    " << thread << "\n";
    std::vector<std::string> callers = db.callers();
    os << "  caller:    " << (call.caller < callers.size() ? callers[call.caller] : "#" + std::to_string(call.caller))
       << "\n";

    // Positional arguments named by the parameter they bind to.
    os << "  args:" << (in.args.empty() ? " ()" : "") << "\n";
    size_t i = 0;
    std::string varPos;
    for (const auto& p : f.parameters) {
        if (p.kind == cm::Parameter::PositionalOnly || p.kind == cm::Parameter::PositionalOrKeyword) {
            if (i < in.args.size()) os << "    " << p.name << " = " << in.args[i++]->toText(maxItems) << "\n";
        } else if (p.kind == cm::Parameter::VarPositional) {
            varPos = p.name;
        }
    }
    if (i < in.args.size()) {
        if (!varPos.empty()) {
            os << "    *" << varPos << " = (";
            for (size_t k = i; k < in.args.size(); ++k)
                os << (k > i ? ", " : "") << in.args[k]->toText(maxItems);
            os << (in.args.size() - i == 1 ? ",)" : ")") << "\n";
        } else {
            for (size_t k = i; k < in.args.size(); ++k)
                os << "    [" << k << "] = " << in.args[k]->toText(maxItems) << "\n";
        }
    }
    if (!in.kwargs.empty()) {
        os << "  kwargs:\n";
        for (const auto& kv : in.kwargs) os << "    " << kv.first << " = " << kv.second->toText(maxItems) << "\n";
    }
    switch (call.outcome) {
        case cm::format::Outcome::Pending:
            os << "  outcome:   pending (the call had not returned when it was recorded)\n";
            break;
        case cm::format::Outcome::Returned:
            os << "  returned:  " << cm::decodeValue(call.result, blobs)->toText(maxItems) << "\n";
            break;
        case cm::format::Outcome::ResultSkipped:
            os << "  returned:  (result not recorded)\n";
            break;
        case cm::format::Outcome::Raised:
            os << "  raised:    " << call.exceptionType << ": " << call.exceptionMessage << "\n";
            break;
    }
}

std::string writerText(const cm::RunWriter& w) {
    std::string out = w.id + " (";
    if (w.info().rank >= 0) out += "rank " + std::to_string(w.info().rank) + ", ";
    return out + "pid " + std::to_string(w.info().pid) + ")";
}

// The writers --writer / --rank / --pid choose (all without them).
std::vector<size_t> selectWriters(const cm::Run& run, const Options& o) {
    std::vector<size_t> out;
    const auto& ws = run.writers();
    for (size_t i = 0; i < ws.size(); ++i) {
        if (!o.writer.empty() && ws[i].id != o.writer && ws[i].info().writerId != o.writer) continue;
        if (o.rank && ws[i].info().rank != *o.rank) continue;
        if (o.pid && ws[i].info().pid != *o.pid) continue;
        out.push_back(i);
    }
    if (out.empty()) {
        std::string names;
        for (const auto& w : ws) names += (names.empty() ? "" : ", ") + writerText(w);
        throw UsageError("no writer matches --writer/--rank/--pid in " + run.path() + " (writers: " + names + ")");
    }
    return out;
}

int run(const Options& o) {
    int64_t n = o.function.empty() ? 0 : parseInvocation(o.invocation);
    const std::string path = o.path.empty() ? cm::newestRun(".") : o.path;
    cm::Run run = cm::Run::open(path);
    for (const cm::DamagedWriter& d : run.damaged())
        std::cerr << "callmonitor-dump: warning: " << d.directory << " cannot be read and is left out (" << d.error
                  << ")\n";
    std::vector<size_t> chosen = selectWriters(run, o);
    std::ostringstream os;
    if (o.function.empty()) {
        std::vector<const cm::Database*> sized;
        for (size_t k = 0; k < chosen.size(); ++k) {
            const cm::Database* db = run.writers()[chosen[k]].database.get();
            const bool first = std::find(sized.begin(), sized.end(), db) == sized.end();
            if (first) sized.push_back(db);
            if (k) os << "\n";
            printWriter(os, run, chosen[k], first);
        }
        std::cout << os.str();
        return 0;
    }
    std::vector<cm::RunFunction> found = run.resolve(o.function, chosen);
    if (found.size() > 1) {
        std::string names;
        for (const auto& f : found) names += (names.empty() ? "" : ", ") + writerText(run.writers()[f.writer]);
        throw cm::UnknownFunctionError(found[0].info.fullName() + " was recorded by " + std::to_string(found.size()) +
                                       " writers: " + names +
                                       "; call numbers are per writer: choose one with --writer, --rank or --pid");
    }
    printCall(os, run.writers()[found[0].writer], found[0].info, n, o.maxItems);
    std::cout << os.str();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Options o = parseArgs(argc, argv);
        if (o.help) {
            std::cout << kUsage;
            return 0;
        }
        return run(o);
    } catch (const UsageError& e) {
        std::cerr << "callmonitor-dump: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "callmonitor-dump: error: " << e.what() << "\n";
        return 1;
    } catch (...) {
        std::cerr << "callmonitor-dump: error: unknown failure\n";
        return 1;
    }
}
