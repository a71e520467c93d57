// Run: the writers under a path, their functions by name, and their calls
// (see run.h for the rules).
#include "callmonitor/run.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "callmonitor/errors.h"

namespace callmonitor {
namespace fs = std::filesystem;
namespace {

constexpr const char* kRunMarker = ".callmonitor-run";  // written by capture/run_directory.py

bool isFile(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}
bool isDir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}
bool isEnvironment(const fs::path& dir) { return isFile(dir / "data.mdb"); }

// A merge writes into OUT.partial-<pid> and renames it at the end: not an
// environment to read yet.
bool isPartialMerge(const std::string& name) {
    size_t at = name.rfind(".partial-");
    if (at == std::string::npos || at + 9 >= name.size()) return false;
    return std::all_of(name.begin() + long(at) + 9, name.end(), [](char c) { return std::isdigit(uint8_t(c)); });
}

std::vector<fs::path> subdirectories(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.empty() || name[0] == '.' || isPartialMerge(name)) continue;
        if (isDir(it->path())) out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string nameOf(const fs::path& p) {
    fs::path q = p;
    if (q.filename().empty()) q = q.parent_path();  // "dir/"
    return q.filename().string();
}

// Natural order of names: "run-2" before "run-10".
bool naturalLess(const std::string& a, const std::string& b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (std::isdigit(uint8_t(a[i])) && std::isdigit(uint8_t(b[j]))) {
            size_t i2 = i, j2 = j;
            while (i2 < a.size() && a[i2] == '0') ++i2;
            while (j2 < b.size() && b[j2] == '0') ++j2;
            size_t ie = i2, je = j2;
            while (ie < a.size() && std::isdigit(uint8_t(a[ie]))) ++ie;
            while (je < b.size() && std::isdigit(uint8_t(b[je]))) ++je;
            if (ie - i2 != je - j2) return ie - i2 < je - j2;
            int c = a.compare(i2, ie - i2, b, j2, je - j2);
            if (c) return c < 0;
            i = ie;
            j = je;
        } else {
            if (a[i] != b[j]) return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    return a.size() - i < b.size() - j;
}

// Listing order of writer ids within a run: main, rank-N, tid-N, pid-N, others.
std::tuple<int, uint64_t, std::string> writerOrderKey(const std::string& id) {
    static const char* const kPrefixes[] = {"rank-", "tid-", "pid-"};
    if (id == "main") return {0, 0, id};
    for (int k = 0; k < 3; ++k) {
        const std::string prefix = kPrefixes[k];
        if (id.compare(0, prefix.size(), prefix) != 0) continue;
        uint64_t n = 0;
        size_t i = prefix.size();
        bool digits = false;
        while (i < id.size() && std::isdigit(uint8_t(id[i])) && n < (uint64_t(1) << 59)) {
            n = n * 10 + uint64_t(id[i++] - '0');
            digits = true;
        }
        if (digits) return {k + 1, n, id};
    }
    return {4, 0, id};
}

bool listedBefore(const RunWriter& a, const RunWriter& b) {
    if (a.run() != b.run()) return naturalLess(a.run(), b.run());
    const std::string& ida = a.info().writerId;
    const std::string& idb = b.info().writerId;
    if (ida != idb) return writerOrderKey(ida) < writerOrderKey(idb);
    return a.directory < b.directory;
}

uint64_t callsOf(const RunWriter& w) {
    Snapshot snap = w.database->snapshot();
    uint64_t n = 0;
    for (uint32_t f = 0; f < w.source.functionCount; ++f) n += snap.lastInvocation(w.source.functionBase + f);
    return n;
}

template <class T> uint32_t idCount(const std::vector<T>& items, uint32_t T::*id) {
    uint32_t n = 0;
    for (const T& t : items) n = std::max(n, t.*id + 1);
    return n;
}

std::string joined(const std::vector<std::string>& items, const char* sep = ", ") {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
    return out;
}

std::string siteOf(const FunctionInfo& f) {
    return f.file.empty() ? std::string("unknown site") : f.file + ":" + std::to_string(f.line);
}


// A name as Run::resolve reads it: NAME, NAME@LINE or NAME@FILE:LINE.
struct SpelledName {
    std::string_view name;
    std::string_view file;   // "" : any
    uint32_t line = 0;       // 0 : any
};

bool allDigits(std::string_view s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

SpelledName parseSpelledName(std::string_view s) {
    SpelledName out{s, {}, 0};
    const size_t at = s.rfind('@');  // no module or qualname holds an '@'
    if (at == std::string_view::npos) return out;
    std::string_view site = s.substr(at + 1);
    std::string_view line = site;
    std::string_view file;
    if (const size_t colon = site.rfind(':'); colon != std::string_view::npos) {
        file = site.substr(0, colon);
        line = site.substr(colon + 1);
    }
    if (!allDigits(line)) return out;  // not a site: the whole text is the name
    out.name = s.substr(0, at);
    out.file = file;
    out.line = static_cast<uint32_t>(std::stoul(std::string(line)));
    return out;
}

bool siteMatches(const FunctionInfo& f, const SpelledName& n) {
    if (n.line && f.line != n.line) return false;
    if (n.file.empty() || f.file == n.file) return true;
    return f.file.size() > n.file.size() && f.file.compare(f.file.size() - n.file.size(), n.file.size(), n.file) == 0 &&
           f.file[f.file.size() - n.file.size() - 1] == '/';
}

}  // namespace

// --- discovery --------------------------------------------------------------------

std::vector<EnvironmentLocation> findEnvironments(const std::string& path) {
    const fs::path p(path);
    std::error_code ec;
    if (!fs::exists(p, ec)) {
        throw NotFoundError(path + " does not exist: give the path of a callmonitor run directory (e.g. "
                            "./call-monitor) or of one writer inside it");
    }
    if (!isDir(p)) throw NotADatabaseError(path + " is a file, not a callmonitor database directory");
    if (isEnvironment(p)) {
        const fs::path parent = fs::absolute(p, ec).lexically_normal().parent_path();
        const std::string run = isFile(parent / kRunMarker) ? nameOf(parent) : "";
        return {{path, run}};
    }
    std::vector<EnvironmentLocation> out;
    const std::string here = nameOf(fs::absolute(p, ec).lexically_normal());
    for (const fs::path& sub : subdirectories(p)) {
        if (isEnvironment(sub)) {
            out.push_back({sub.string(), here});
            continue;
        }
        for (const fs::path& inner : subdirectories(sub))  // a run in a folder of runs
            if (isEnvironment(inner)) out.push_back({inner.string(), nameOf(sub)});
    }
    if (!out.empty()) return out;
    if (fs::exists(p / "db.pkl", ec)) {
        throw NotADatabaseError(path + " was written by callmonitor 0.3 (it holds db.pkl), not by this version");
    }
    throw NotADatabaseError(path + " is not a callmonitor database: it holds no data.mdb, nor do its subdirectories");
}

std::string newestRun(const std::string& folder) {
    std::string best;
    int64_t bestTime = INT64_MIN;
    for (const fs::path& sub : subdirectories(folder)) {
        const fs::path marker = sub / kRunMarker;
        if (!isFile(marker)) continue;
        // The marker is {"run_id": ..., "created_unix_ns": N}; its mtime when unreadable.
        std::ifstream in(marker);
        std::stringstream text;
        text << in.rdbuf();
        const std::string s = text.str();
        int64_t created = INT64_MIN;
        size_t at = s.find("\"created_unix_ns\"");
        if (at != std::string::npos && (at = s.find(':', at)) != std::string::npos) {
            try {
                created = std::stoll(s.substr(at + 1));
            } catch (const std::exception&) {
            }
        }
        if (created == INT64_MIN) {
            std::error_code ec;
            auto t = fs::last_write_time(marker, ec);
            created = ec ? 0 : int64_t(t.time_since_epoch().count());
        }
        if (created > bestTime || (created == bestTime && naturalLess(best, sub.string()))) {
            bestTime = created;
            best = sub.string();
        }
    }
    if (best.empty()) {
        throw NotFoundError("no callmonitor run in " + folder + " (no directory with a " + kRunMarker +
                            " marker); give the path of a run directory");
    }
    return best;
}

SourceInfo ownSourceInfo(const Database& db, const std::string& directory, const std::string& run) {
    SourceInfo s;
    s.run = run;
    s.writer = db.writerInfo();
    // Writers from before run ids: the directory itself identifies them.
    if (s.writer.runId.empty()) s.writer.runId = "dir:" + fs::weakly_canonical(directory).string();
    s.stats = db.stats();
    s.functionCount = idCount(db.functions(), &FunctionInfo::id);
    s.threadCount = idCount(db.threads(), &ThreadInfo::index);
    s.callerCount = static_cast<uint32_t>(db.callers().size());
    s.siteCount = idCount(db.sites(), &SiteInfo::id);
    s.labelCount = static_cast<uint32_t>(db.labels().size());
    return s;
}

bool RunWriter::ownsFunction(uint32_t id) const {
    return !merged || (id >= source.functionBase && id - source.functionBase < source.functionCount);
}
bool RunWriter::ownsThread(uint32_t index) const {
    return !merged || (index >= source.threadBase && index - source.threadBase < source.threadCount);
}

// --- Run --------------------------------------------------------------------------

Run Run::open(const std::string& path, RunOptions options) {
    const std::vector<EnvironmentLocation> found = findEnvironments(path);
    Run run;
    run.path_ = path;
    const bool single = found.size() == 1 && isEnvironment(fs::path(path));

    std::vector<RunWriter> all;
    std::string firstError;
    std::exception_ptr firstFailure;
    for (const EnvironmentLocation& loc : found) {
        std::shared_ptr<const Database> db;
        std::vector<SourceInfo> sources;
        try {
            db = std::make_shared<const Database>(Database::open(loc.directory));
            sources = db->sources();
            if (sources.empty()) sources.push_back(ownSourceInfo(*db, loc.directory, loc.run));
        } catch (const DatabaseError& e) {
            if (single || options.strict) throw;
            if (!firstFailure) firstFailure = std::current_exception();
            run.damaged_.push_back({loc.directory, e.what()});
            continue;
        }
        const bool merged = !db->sources().empty();
        for (SourceInfo& s : sources) {
            RunWriter w;
            w.directory = loc.directory;
            w.merged = merged;
            if (merged && !s.handlerDir.empty()) w.filesDir = loc.directory + "/" + s.handlerDir;
            w.source = std::move(s);
            w.database = db;
            all.push_back(std::move(w));
        }
    }
    if (all.empty() && firstFailure) std::rethrow_exception(firstFailure);

    // Each writer once: its own environment over merged copies, else the
    // copy with the most calls; ties keep the first found.
    std::map<std::string, size_t> chosen;  // identity -> index in all
    std::vector<bool> keep(all.size(), false);
    for (size_t i = 0; i < all.size(); ++i) {
        auto [it, fresh] = chosen.emplace(all[i].source.identity(), i);
        if (fresh) {
            keep[i] = true;
            continue;
        }
        ++run.duplicates_;
        RunWriter& held = all[it->second];
        const bool better = held.merged && (!all[i].merged || callsOf(all[i]) > callsOf(held));
        if (better) {
            keep[it->second] = false;
            keep[i] = true;
            it->second = i;
        }
    }
    for (size_t i = 0; i < all.size(); ++i)
        if (keep[i]) run.writers_.push_back(std::move(all[i]));
    std::stable_sort(run.writers_.begin(), run.writers_.end(), listedBefore);

    const bool severalRuns = run.runs().size() > 1;
    for (RunWriter& w : run.writers_) {
        std::string id = w.info().writerId.empty() ? nameOf(fs::path(w.directory)) : w.info().writerId;
        w.id = severalRuns && !w.run().empty() ? w.run() + "/" + id : id;
    }
    run.startOrder_.resize(run.writers_.size());
    for (size_t i = 0; i < run.startOrder_.size(); ++i) run.startOrder_[i] = i;
    std::stable_sort(run.startOrder_.begin(), run.startOrder_.end(), [&](size_t a, size_t b) {
        return run.writers_[a].info().startedUnixNs < run.writers_[b].info().startedUnixNs;
    });
    return run;
}

std::vector<std::string> Run::runs() const {
    std::vector<std::string> out;
    for (const RunWriter& w : writers_)
        if (!w.run().empty() && std::find(out.begin(), out.end(), w.run()) == out.end()) out.push_back(w.run());
    return out;
}

std::vector<RunFunction> Run::functions(size_t writer) const {
    const RunWriter& w = writers_.at(writer);
    std::vector<RunFunction> out;
    for (FunctionInfo& f : w.database->functions())
        if (w.ownsFunction(f.id)) out.push_back({writer, std::move(f)});
    return out;
}

std::vector<RunFunction> Run::functions() const {
    std::vector<RunFunction> out;
    for (size_t i = 0; i < writers_.size(); ++i) {
        std::vector<RunFunction> mine = functions(i);
        out.insert(out.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
    }
    return out;
}

std::vector<RunFunction> Run::chooseOne(std::vector<RunFunction> found, const std::string& asked,
                                        const std::vector<size_t>& writers) const {
    if (found.empty()) {
        std::vector<RunFunction> all;
        for (size_t i = 0; i < writers_.size(); ++i) {
            if (!writers.empty() && std::find(writers.begin(), writers.end(), i) == writers.end()) continue;
            for (RunFunction& f : functions(i)) all.push_back(std::move(f));
        }
        std::vector<const RunFunction*> ptrs;
        for (const RunFunction& f : all) ptrs.push_back(&f);
        const std::vector<std::string> names = uniqueNames(ptrs);
        const std::set<std::string> known(names.begin(), names.end());
        throw UnknownFunctionError("no function " + asked + " in " + path_ +
                                   (known.empty() ? "; nothing was recorded"
                                                  : "; recorded functions: " +
                                                        joined(std::vector<std::string>(known.begin(), known.end()))));
    }
    // Several definitions: list them, each with the name that chooses it.
    std::vector<const RunFunction*> ptrs;
    for (const RunFunction& f : found) ptrs.push_back(&f);
    const std::vector<std::string> names = uniqueNames(ptrs);
    std::map<std::string, std::vector<const RunFunction*>> byName;
    for (size_t k = 0; k < found.size(); ++k) byName[names[k]].push_back(&found[k]);
    if (byName.size() > 1) {
        std::vector<std::string> each;
        for (const auto& [name, fs] : byName) {
            const FunctionInfo& f = fs.front()->info;
            std::string line = "'" + name + "' (defined at " + siteOf(f) + (f.kind == "partial" ? ", a functools.partial" : "");
            line += fs.size() == 1 ? ", writer " + writers_[fs.front()->writer].id + ")"
                                   : ", " + std::to_string(fs.size()) + " writers)";
            each.push_back(std::move(line));
        }
        throw AmbiguousFunctionError(asked + " names " + std::to_string(byName.size()) + " functions in " + path_ +
                                     ": " + joined(each, "; ") +
                                     ". Name one as shown (the full name, with @LINE or @FILE:LINE where one name has several "
                                     "definitions), or pass the function object itself");
    }
    for (size_t i = 0; i < found.size(); ++i) {
        for (size_t j = i + 1; j < found.size(); ++j) {
            if (found[i].writer != found[j].writer) continue;
            throw UnknownFunctionError(asked + " names " + std::to_string(found.size()) + " functions recorded by writer " +
                                       writers_[found[i].writer].id + " (" + found[i].info.fullName() + " defined at " +
                                       siteOf(found[i].info) + (found[i].info.kind == "partial" ? ", partials" : "") +
                                       "); pass the function itself to choose one");
        }
    }
    return found;
}

std::vector<std::string> uniqueNames(const std::vector<const RunFunction*>& functions) {
    // Per full name: its sites, and whether one writer holds two of them (a
    // redefinition, two lambdas). A full name whose writers each hold one site
    // is one function however its site differs between writers (runs of an
    // edited script, a script run from another path): no site in its name.
    using Site = std::pair<std::string, uint32_t>;
    std::map<std::string, std::set<Site>> sites;
    std::map<std::pair<std::string, size_t>, std::set<Site>> perWriter;
    std::set<std::string> redefined;
    for (const RunFunction* f : functions) {
        const std::string name = f->info.fullName();
        const Site site{f->info.file, f->info.line};
        sites[name].insert(site);
        auto& mine = perWriter[{name, f->writer}];
        mine.insert(site);
        if (mine.size() > 1) redefined.insert(name);
    }
    std::vector<std::string> out;
    out.reserve(functions.size());
    for (const RunFunction* f : functions) {
        const std::string name = f->info.fullName();
        if (!redefined.count(name)) {
            out.push_back(name);
            continue;
        }
        const auto& all = sites[name];
        const size_t sameLine = static_cast<size_t>(
            std::count_if(all.begin(), all.end(), [&](const Site& s) { return s.second == f->info.line; }));
        out.push_back(name + "@" + (sameLine == 1 ? "" : f->info.file + ":") + std::to_string(f->info.line));
    }
    return out;
}

std::vector<RunFunction> Run::resolve(std::string_view text, const std::vector<size_t>& writers) const {
    std::vector<RunFunction> all;
    for (size_t i = 0; i < writers_.size(); ++i) {
        if (!writers.empty() && std::find(writers.begin(), writers.end(), i) == writers.end()) continue;
        std::vector<RunFunction> mine = functions(i);
        all.insert(all.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
    }
    const SpelledName name = parseSpelledName(text);
    std::vector<RunFunction> found;
    for (int tier = 0; tier < 3 && found.empty(); ++tier) {
        for (const RunFunction& f : all) {
            const bool match = tier == 0 ? f.info.fullName() == name.name
                               : tier == 1 ? f.info.qualname == name.name
                                           : f.info.name == name.name;
            if (match && siteMatches(f.info, name)) found.push_back(f);
        }
    }
    return chooseOne(std::move(found), "'" + std::string(text) + "'", writers);
}

std::vector<RunFunction> Run::resolve(const FunctionQuery& q, const std::vector<size_t>& writers) const {
    std::vector<RunFunction> named, sited;
    for (size_t i = 0; i < writers_.size(); ++i) {
        if (!writers.empty() && std::find(writers.begin(), writers.end(), i) == writers.end()) continue;
        for (RunFunction& f : functions(i)) {
            if (f.info.module != q.module || f.info.qualname != q.qualname || (f.info.kind == "partial") != q.partial) continue;
            if (!q.file.empty() && f.info.file == q.file && f.info.line == q.line) sited.push_back(f);
            named.push_back(std::move(f));
        }
    }
    const std::string asked = "'" + (q.module.empty() ? q.qualname : q.module + "." + q.qualname) + "'" +
                              (q.file.empty() ? "" : " (defined at " + q.file + ":" + std::to_string(q.line) + ")");
    return chooseOne(sited.empty() ? std::move(named) : std::move(sited), asked, writers);
}

RunCallCursor Run::calls(std::vector<RunFunction> functions) const {
    std::vector<size_t> rank(writers_.size());
    for (size_t k = 0; k < startOrder_.size(); ++k) rank[startOrder_[k]] = k;
    std::stable_sort(functions.begin(), functions.end(),
                     [&](const RunFunction& a, const RunFunction& b) { return rank.at(a.writer) < rank.at(b.writer); });
    RunCallCursor c;
    c.functions_ = std::move(functions);
    for (const RunWriter& w : writers_) c.writers_.push_back(&w);
    return c;
}

bool RunCallCursor::next(RunCall& out) {
    while (current_ < functions_.size()) {
        const RunFunction& f = functions_[current_];
        if (!cursor_) {
            snapshot_.emplace(writers_.at(f.writer)->database->snapshot());
            cursor_.emplace(snapshot_->calls(f.info.id));
        }
        if (cursor_->next(out.view)) {
            out.writer = f.writer;
            out.function = &f;
            return true;
        }
        cursor_.reset();
        snapshot_.reset();
        ++current_;
    }
    return false;
}

}  // namespace callmonitor
