// The Python face of the read stage: the core's records bound as classes
// (FunctionInfo, Parameter, WriterInfo, ThreadInfo, SourceInfo,
// CaptureStats, DatabaseSizes; a misspelt attribute is an AttributeError,
// not a silently missing dict key), and RunReader, the run-level reader
// (run.h) with calls decoded to Python objects.
#include "read/reader_bindings.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <string>

#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/format.h"
#include "callmonitor/inner_profile.h"
#include "callmonitor/records.h"
#include "callmonitor/run.h"
#include "callmonitor/value_writer.h"
#include "callmonitor/writer.h"
#include "read/py_decoder.h"

namespace py = pybind11;
using callmonitor::CallCursor;
using callmonitor::CallView;
using callmonitor::CaptureStats;
using callmonitor::CorruptError;
using callmonitor::DamagedWriter;
using callmonitor::Database;
using callmonitor::DatabaseSizes;
using callmonitor::EnvironmentLocation;
using callmonitor::FunctionInfo;
using callmonitor::FunctionQuery;
using callmonitor::Parameter;
using callmonitor::Run;
using callmonitor::RunFunction;
using callmonitor::RunOptions;
using callmonitor::RunWriter;
using callmonitor::Section;
using callmonitor::SiteInfo;
using callmonitor::Snapshot;
using callmonitor::SourceInfo;
using callmonitor::ThreadInfo;
using callmonitor::WriterInfo;
using callmonitor::findEnvironments;
using callmonitor::newestRun;
using callmonitor::parseCallRecord;
namespace format = callmonitor::format;
namespace cpy = callmonitor::py;

namespace {

py::object steal(PyObject* o) {
    if (!o) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(o);
}

// One recorded call, decoded (the Python Call is built on it).
struct RecordedCall {
    uint64_t invocation = 0;
    uint64_t startNs = 0;
    uint64_t durationNs = 0;
    uint32_t thread = 0;
    uint32_t caller = 0;
    format::Outcome outcome = format::Outcome::Pending;
    py::object args, kwargs, result;
    std::string exceptionType, exceptionMessage;
    // v2 record content (None / "" when the record has none)
    std::optional<uint32_t> site, label;
    std::optional<std::pair<uint32_t, uint64_t>> parent;  // (function id, invocation) in the same writer
    std::string traceback;
    py::object exceptionArgs;  // the exception's args, decoded; None when not recorded
    py::object innerCalls;     // the inner-calls bytes (@intercept(inner=True)); None when not recorded
    // Generators (ext Yields, Yielded, Closed): items yielded; the items
    // themselves (a list; None unless recorded with yields=True); closed
    // before the end (1 closed, 2 dropped).
    std::optional<uint64_t> yields, closed;
    py::object yielded;
};

// A call's record copied out of a snapshot, and its view over the copy.
struct CopiedCall {
    std::string record;
    CallView view;
    CopiedCall() = default;
    CopiedCall(const CopiedCall&) = delete;  // `view` points into `record`
};

// What keeps zero-copy arrays valid: a read snapshot of their environment
// (its read transaction keeps LMDB from reusing their pages; its share of
// the map gate keeps this process's Writer from remapping the map; it keeps
// the environment open after the Database is closed). Arrays of one
// environment share one while any of them lives.
struct MapPin {
    std::shared_ptr<const Snapshot> snapshot;
};

// How arrays come back.
enum class Arrays { Copies, MapViews, ReadOnlyCopies };

// A Run whose calls come back as Python objects. Snapshots are held only
// while bytes are copied out, never while Python code (handlers, unpickling)
// runs: a snapshot keeps this process's Writer from growing the map.
class RunReader {
public:
    RunReader(const std::string& path, bool strict) : run_(Run::open(path, RunOptions{strict})) {}

    const Run& run() const { return run_; }
    // load(allow_import=...): module names whose recorded objects are rebuilt (read/object_view.h).
    py::tuple allowImport() const { return allowImport_; }
    void setAllowImport(py::tuple names) { allowImport_ = std::move(names); }
    const RunWriter& writer(size_t w) const {
        if (w >= run_.writers().size()) throw py::index_error("no writer " + std::to_string(w));
        return run_.writers()[w];
    }

    std::vector<FunctionInfo> functions(size_t w) const {
        std::vector<FunctionInfo> out;
        for (RunFunction& f : run_.functions(w)) out.push_back(std::move(f.info));
        return out;
    }
    std::map<uint32_t, ThreadInfo> threads(size_t w) const {
        std::map<uint32_t, ThreadInfo> out;
        for (ThreadInfo& t : writer(w).database->threads()) out.emplace(t.index, std::move(t));
        return out;
    }
    std::vector<std::string> callers(size_t w) const { return writer(w).database->callers(); }
    CaptureStats stats(size_t w) const {
        const RunWriter& rw = writer(w);
        return rw.merged ? rw.source.stats : rw.database->stats();  // a writer's own: live counters
    }
    DatabaseSizes sizes() const {
        DatabaseSizes total;
        std::vector<const Database*> seen;
        for (const RunWriter& w : run_.writers()) {
            if (std::find(seen.begin(), seen.end(), w.database.get()) != seen.end()) continue;
            seen.push_back(w.database.get());
            DatabaseSizes s = w.database->sizes();
            total.fileBytes += s.fileBytes;
            total.calls += s.calls;
            total.blobs += s.blobs;
            total.callBytes += s.callBytes;
            total.blobBytes += s.blobBytes;
        }
        return total;
    }
    uint64_t lastInvocation(size_t w, uint32_t fid) const { return writer(w).database->snapshot().lastInvocation(fid); }
    std::vector<uint64_t> invocations(size_t w, uint32_t fid) const {
        return writer(w).database->snapshot().invocations(fid);
    }

    static py::list pairs(std::vector<RunFunction> found) {
        py::list out;
        for (RunFunction& f : found) out.append(py::make_tuple(f.writer, std::move(f.info)));
        return out;
    }
    py::list resolve(const std::string& name, const std::vector<size_t>& writers) const {
        return pairs(run_.resolve(name, writers));
    }
    py::list resolveQuery(const FunctionQuery& q, const std::vector<size_t>& writers) const {
        return pairs(run_.resolve(q, writers));
    }

    // (args list, kwargs dict): the fast path behind db.get().
    py::tuple inputs(size_t w, uint32_t fid, uint64_t inv, bool allowPickle, Arrays arrays) const {
        const RunWriter& rw = writer(w);
        const format::CallKey key{fid, inv};
        if (arrays == Arrays::MapViews) {
            std::shared_ptr<const Snapshot> pin = pinFor(rw, key);
            const CallView v = pin->call(key);
            return splitInputs(decodeViews(rw, v, Section::Inputs, v.inputs, allowPickle, pin));
        }
        std::string bytes;
        {
            Snapshot snap = rw.database->snapshot();
            bytes.assign(snap.call(key).inputs);
        }
        return splitInputs(decode(rw, key, Section::Inputs, bytes, allowPickle, arrays == Arrays::ReadOnlyCopies));
    }

    RecordedCall call(size_t w, uint32_t fid, uint64_t inv, bool allowPickle, Arrays arrays) const {
        const RunWriter& rw = writer(w);
        const format::CallKey key{fid, inv};
        CopiedCall copied;
        std::shared_ptr<const Snapshot> pin;
        CallView v;
        if (arrays == Arrays::MapViews) {
            pin = pinFor(rw, key);
            v = pin->call(key);
        } else {
            copy(rw, key, copied);
            v = copied.view;
        }
        const bool readOnly = arrays == Arrays::ReadOnlyCopies;
        auto value = [&](Section section, std::string_view bytes) {
            return pin ? decodeViews(rw, v, section, bytes, allowPickle, pin)
                       : decode(rw, key, section, bytes, allowPickle, readOnly);
        };
        py::tuple in = splitInputs(value(Section::Inputs, v.inputs));
        RecordedCall c;
        c.invocation = inv;
        c.startNs = v.startNs;
        c.durationNs = v.durationNs;
        c.thread = v.thread;
        c.caller = v.caller;
        c.outcome = v.outcome;
        c.args = in[0];
        c.kwargs = in[1];
        c.result = v.outcome == format::Outcome::Returned ? value(Section::Result, v.result) : py::none();
        c.exceptionType = v.exceptionType;
        c.exceptionMessage = v.exceptionMessage;
        c.site = v.site;
        c.label = v.label;
        if (v.parent) c.parent = std::make_pair(v.parent->function, v.parent->invocation);
        c.traceback = v.traceback;
        c.innerCalls = v.innerCalls.empty() ? py::object(py::none())
                                            : py::object(py::bytes(v.innerCalls.data(), v.innerCalls.size()));
        // Exception args hold no payloads of their own (slots belong to inputs and result).
        c.exceptionArgs = v.exceptionArgs.empty() ? py::none() : decode(rw, key, Section::Result, v.exceptionArgs, allowPickle, readOnly);
        c.yields = v.yields;
        c.closed = v.closed;
        // The items when recorded (ItemsRecorded, or, written before it, any
        // Yielded field): a list, empty for none; else None (not recorded).
        c.yielded = py::none();
        if (v.yields && !v.outcomeExt.empty()) {
            py::list items;
            bool recorded = false;
            callmonitor::forEachExtField(v.outcomeExt, [&](uint32_t tag, std::string_view bytes) {
                if (tag == static_cast<uint32_t>(format::ExtTag::ItemsRecorded)) recorded = true;
                if (tag != static_cast<uint32_t>(format::ExtTag::Yielded)) return;
                items.append(value(Section::Result, bytes));  // their payloads are result slots
                recorded = true;
            });
            if (recorded) c.yielded = std::move(items);
        }
        return c;
    }

    // Per call site, the inner calls of the given (writer, function id)s over
    // all their invocations: (rows as dicts by site index, counts).
    py::tuple innerProfile(const std::vector<std::pair<size_t, uint32_t>>& functions) const {
        for (const auto& f : functions) writer(f.first);  // IndexError before the GIL goes
        callmonitor::SiteProfileBuilder builder;
        callmonitor::analyse::InnerProfileCounts counts;
        std::vector<callmonitor::SiteStats> rows;
        {
            py::gil_scoped_release release;
            for (const auto& [w, fid] : functions) callmonitor::analyse::addInnerCalls(*writer(w).database, fid, builder, counts);
            rows = builder.finish();
        }
        py::list out;
        for (const callmonitor::SiteStats& r : rows) {
            py::dict d;
            d["site"] = r.site;
            d["count"] = r.count;
            d["raised"] = r.raised;
            d["total_ns"] = r.totalNs;
            d["mean_ns"] = r.meanNs;
            d["p50_ns"] = r.p50Ns;
            d["p95_ns"] = r.p95Ns;
            d["max_ns"] = r.maxNs;
            d["summed"] = r.summed;
            d["invocations"] = r.invocations;
            out.append(std::move(d));
        }
        py::dict c;
        c["calls"] = counts.calls;
        c["without_inner_calls"] = counts.withoutInnerCalls;
        c["undecodable"] = counts.undecodable;
        c["profiled"] = builder.invocations();
        return py::make_tuple(out, c);
    }

    // The calls of writer `w` whose entry names (fid, inv) as their Parent
    // (inner calls recorded with inner_args=True), as (function id, invocation).
    std::vector<std::pair<uint32_t, uint64_t>> children(size_t w, uint32_t fid, uint64_t inv) const {
        const RunWriter& rw = writer(w);
        std::vector<std::pair<uint32_t, uint64_t>> out;
        py::gil_scoped_release release;
        for (const FunctionInfo& f : rw.database->functions()) {
            Snapshot snap = rw.database->snapshot();
            CallView v;
            for (callmonitor::CallCursor c = snap.calls(f.id); c.nextRaw(v);) {
                try {
                    const std::string_view record = v.record;
                    parseCallRecord(record, v.key, v.formatVersion, v);
                } catch (const callmonitor::DecodeError&) {
                    continue;  // a damaged record names no parent
                }
                if (v.parent && v.parent->function == fid && v.parent->invocation == inv)
                    out.emplace_back(v.key.function, v.key.invocation);
            }
        }
        return out;
    }

    std::map<uint32_t, SiteInfo> sites(size_t w) const {
        std::map<uint32_t, SiteInfo> out;
        for (SiteInfo& s : writer(w).database->sites()) out.emplace(s.id, std::move(s));
        return out;
    }
    std::vector<std::string> labels(size_t w) const { return writer(w).database->labels(); }
    // (invocation, label id or None) of every call of a function, in
    // invocation order, without decoding a value: db.calls(label=...) and
    // the calls per label of `callmonitor summary`.
    std::vector<std::pair<uint64_t, std::optional<uint32_t>>> callLabels(size_t w, uint32_t fid) const {
        std::vector<std::pair<uint64_t, std::optional<uint32_t>>> out;
        Snapshot snap = writer(w).database->snapshot();
        CallView v;
        for (CallCursor c = snap.calls(fid); c.next(v);) out.emplace_back(v.key.invocation, v.label);
        return out;
    }
    uint32_t formatVersion(size_t w) const { return writer(w).database->formatVersion(); }
    // The sources of `w`'s environment as its meta["sources"] holds them (empty unless a merge).
    std::vector<SourceInfo> environmentSources(size_t w) const { return writer(w).database->sources(); }

private:
    // The record of `key` copied out of a short snapshot, parsed again over the copy.
    static void copy(const RunWriter& w, const format::CallKey& key, CopiedCall& out) {
        uint32_t version = 0;
        {
            Snapshot snap = w.database->snapshot();
            const CallView v = snap.call(key);
            out.record.assign(v.record);
            version = v.formatVersion;
        }
        out.view = parseCallRecord(out.record, key, version);
    }

    // Decodes value bytes copied out of the database; a payload is read under
    // a snapshot that lives only while its bytes are copied into the object.
    py::object decode(const RunWriter& w, const format::CallKey& key, Section section, std::string_view bytes,
                      bool allowPickle, bool readOnly) const {
        cpy::DecodeOptions opt;
        opt.allowPickle = allowPickle;
        opt.allowImport = allowImport_.ptr();
        opt.readOnlyArrays = readOnly;
        opt.writerDir = w.filesDir.empty() ? w.directory : w.filesDir;
        std::optional<Snapshot> pinned;
        opt.blobs = [&](uint32_t slot) {
            pinned.emplace(w.database->snapshot());
            return pinned->payload(key, section, slot);
        };
        opt.blobDone = [&] { pinned.reset(); };
        return steal(cpy::decodeToPython(bytes, opt));
    }

    // Decodes value bytes in `pin`'s map: arrays stored apart become views
    // whose base is a MapPin holding `pin`.
    py::object decodeViews(const RunWriter& w, const CallView& call, Section section, std::string_view bytes,
                           bool allowPickle, const std::shared_ptr<const Snapshot>& pin) const {
        cpy::DecodeOptions opt;
        opt.allowPickle = allowPickle;
        opt.allowImport = allowImport_.ptr();
        opt.readOnlyArrays = true;
        opt.writerDir = w.filesDir.empty() ? w.directory : w.filesDir;
        opt.blobs = [&](uint32_t slot) { return pin->payload(call, section, slot); };
        py::object base;  // one MapPin for every array of this value
        opt.keepAlive = [&]() -> PyObject* {
            if (!base) base = py::cast(MapPin{pin});
            return base.inc_ref().ptr();
        };
        return steal(cpy::decodeToPython(bytes, opt));
    }

    // The snapshot zero-copy arrays of `w`'s environment share: the live one
    // when it holds the call completed, else a new one (a reader slot per
    // live pin, not per array).
    std::shared_ptr<const Snapshot> pinFor(const RunWriter& w, const format::CallKey& key) const {
        std::weak_ptr<const Snapshot>& slot = pins_[w.database.get()];
        if (std::shared_ptr<const Snapshot> live = slot.lock()) {
            if (live->record(key) && live->call(key).outcome != format::Outcome::Pending) return live;
        }
        auto fresh = std::make_shared<const Snapshot>(w.database->snapshot());
        slot = fresh;
        return fresh;
    }

    static py::tuple splitInputs(const py::object& decoded) {
        if (!PyTuple_Check(decoded.ptr()) || PyTuple_GET_SIZE(decoded.ptr()) != 2)
            throw CorruptError("call inputs are not an (args, kwargs) pair");
        py::object args = decoded[py::int_(0)];
        py::object kwargs = decoded[py::int_(1)];
        if (!PyTuple_Check(args.ptr()) || !PyDict_Check(kwargs.ptr()))
            throw CorruptError("call inputs are not an (args, kwargs) pair");
        return py::make_tuple(steal(PySequence_List(args.ptr())), kwargs);
    }

    Run run_;
    mutable std::map<const Database*, std::weak_ptr<const Snapshot>> pins_;
    py::tuple allowImport_;
};

// For the Python tests of the v2 record content, until the capture side
// writes it: a closed writer in `directory` with fixture.outer(1) (site
// app.py:12 in main, label "test_solver", returned 2), fixture.inner(7)
// inside it (parent outer #1, raised ValueError("bad", 3) with a traceback)
// and fixture.inner(8) (returned, result not recorded).
void writeRecordContentFixture(const std::string& directory) {
    using callmonitor::ExtFields;
    using callmonitor::ValueWriter;
    callmonitor::WriterOptions options;
    options.directory = directory;
    WriterInfo info;
    info.writerId = "main";
    info.runId = "fixture:record-content";
    callmonitor::Writer writer(options, info);
    for (uint32_t id : {0u, 1u}) {
        FunctionInfo f;
        f.id = id;
        f.module = "fixture";
        f.qualname = f.name = id == 0 ? "outer" : "inner";
        writer.submitFunction(f);
    }
    writer.submitSite(0, SiteInfo{0, "app.py", 12, "main"});
    writer.submitLabel(0, "test_solver");
    auto entry = [](int64_t arg, const ExtFields& ext) {
        std::string out;
        callmonitor::appendCallHeader(out, 100, 0, 0);
        ValueWriter w(out);
        w.beginTuple(2, false);
        w.beginTuple(1, false);
        w.integer(arg);
        w.beginDict(0, false);
        callmonitor::appendExt(out, ext);
        callmonitor::appendPending(out);
        return out;
    };
    ExtFields ext;
    ext.addVarint(format::ExtTag::Site, 0);
    ext.addVarint(format::ExtTag::Label, 0);
    writer.submitEntry(format::CallKey{0, 1}, entry(1, ext));
    std::string outcome;
    callmonitor::appendReturned(outcome, 50);
    ValueWriter(outcome).integer(2);
    callmonitor::appendEmptyExt(outcome);
    writer.submitOutcome(format::CallKey{0, 1}, outcome);

    ext.clear();
    ext.addParent(format::CallKey{0, 1});
    writer.submitEntry(format::CallKey{1, 1}, entry(7, ext));
    outcome.clear();
    callmonitor::appendRaised(outcome, 20, "ValueError", "('bad', 3)");
    std::string args;
    ValueWriter a(args);
    a.beginTuple(2, false);
    a.str("bad");
    a.integer(3);
    ext.clear();
    ext.addBytes(format::ExtTag::Traceback, "Traceback (most recent call last):\n  File \"app.py\", line 3\nValueError: bad\n");
    ext.addBytes(format::ExtTag::ExceptionArgs, args);
    callmonitor::appendExt(outcome, ext);
    writer.submitOutcome(format::CallKey{1, 1}, outcome);

    ext.clear();
    writer.submitEntry(format::CallKey{1, 2}, entry(8, ext));
    outcome.clear();
    callmonitor::appendNotRecorded(outcome, 10);
    callmonitor::appendEmptyExt(outcome);
    writer.submitOutcome(format::CallKey{1, 2}, outcome);
    writer.close();
}

Parameter::Kind kindOf(const Parameter& p) {
    return p.kind <= Parameter::VarKeyword ? Parameter::Kind(p.kind) : Parameter::PositionalOrKeyword;
}

}  // namespace

namespace callmonitor::py {

void bindReader(pybind11::module_& m) {
    namespace pyb = pybind11;
    using pyb::arg;

    // The one table of parameter kinds: Parameter::Kind, named as inspect names them
    // (callmonitor/_parameter_kinds.py maps them to inspect.Parameter kinds).
    pyb::enum_<Parameter::Kind> kinds(m, "ParameterKind", "How a parameter binds (inspect.Parameter.kind).");
    for (uint8_t k = Parameter::PositionalOnly; k <= Parameter::VarKeyword; ++k)
        kinds.value(callmonitor::parameterKindName(k), Parameter::Kind(k));  // names: records.h's one table

    pyb::enum_<Arrays>(m, "Arrays", "How a read returns arrays.")
        .value("COPIES", Arrays::Copies)
        .value("MAP_VIEWS", Arrays::MapViews)
        .value("READ_ONLY_COPIES", Arrays::ReadOnlyCopies);

    pyb::class_<MapPin>(m, "MapPin",
                        "The base of arrays read with copy=False: keeps the read snapshot (and with it the "
                        "memory map and its pages) they point into alive.")
        .def("__repr__", [](const MapPin&) { return std::string("<callmonitor MapPin: a read snapshot held by array views>"); });

    pyb::enum_<format::Outcome>(m, "CallOutcome", "How a recorded call ended.")
        .value("PENDING", format::Outcome::Pending)
        .value("RETURNED", format::Outcome::Returned)
        .value("RAISED", format::Outcome::Raised)
        .value("RESULT_NOT_RECORDED", format::Outcome::NotRecorded);

    pyb::class_<SiteInfo>(m, "SiteRecord", "A calling code location (file, line, function).")
        .def_readonly("id", &SiteInfo::id)
        .def_readonly("file", &SiteInfo::file)
        .def_readonly("line", &SiteInfo::line)
        .def_readonly("function", &SiteInfo::function)
        .def("__repr__", [](const SiteInfo& s) { return s.file + ":" + std::to_string(s.line) + " in " + s.function; });

    pyb::class_<Parameter>(m, "Parameter", "One parameter of a recorded signature.")
        .def_readonly("name", &Parameter::name)
        .def_property_readonly("kind", &kindOf)
        .def_readonly("has_default", &Parameter::hasDefault)
        .def_property_readonly("default", [](const Parameter& p) { return pyb::bytes(p.defaultValue); },
                               "the default's encoded value bytes")
        .def_readonly("default_repr", &Parameter::defaultRepr)
        .def_readonly("annotation", &Parameter::annotation);

    pyb::class_<callmonitor::InnerSiteInfo>(m, "InnerSiteRecord", "A call site inside an inner=True function.")
        .def_readonly("callee", &callmonitor::InnerSiteInfo::callee)
        .def_readonly("name", &callmonitor::InnerSiteInfo::name)
        .def_readonly("line", &callmonitor::InnerSiteInfo::line)
        .def_readonly("column", &callmonitor::InnerSiteInfo::column)
        .def_readonly("awaited", &callmonitor::InnerSiteInfo::awaited);
    pyb::class_<FunctionInfo>(m, "FunctionRecord", "A recorded function as its writer stored it.")
        .def_readonly("id", &FunctionInfo::id)
        .def_readonly("module", &FunctionInfo::module)
        .def_readonly("qualname", &FunctionInfo::qualname)
        .def_readonly("name", &FunctionInfo::name)
        .def_readonly("file", &FunctionInfo::file)
        .def_readonly("line", &FunctionInfo::line)
        .def_readonly("signature_known", &FunctionInfo::signatureKnown)
        .def_readonly("parameters", &FunctionInfo::parameters)
        .def_readonly("return_annotation", &FunctionInfo::returnAnnotation)
        .def_readonly("kind", &FunctionInfo::kind)
        .def_readonly("inner_sites", &FunctionInfo::innerSites)
        .def_property_readonly("full_name", &FunctionInfo::fullName);
    m.def("unique_names",
          [](const std::vector<std::pair<size_t, FunctionInfo>>& functions) {
              std::vector<callmonitor::RunFunction> runFunctions;
              for (const auto& [writer, info] : functions) runFunctions.push_back({writer, info});
              std::vector<const callmonitor::RunFunction*> ptrs;
              for (const auto& f : runFunctions) ptrs.push_back(&f);
              return callmonitor::uniqueNames(ptrs);
          },
          arg("functions"),
          "How to name each (writer index, FunctionRecord) so that a name finds that function "
          "alone: the full name, or NAME@LINE / NAME@FILE:LINE for the definitions of a name "
          "one writer holds two of (callmonitor::uniqueNames).");

    pyb::class_<ThreadInfo>(m, "ThreadRecord", "A thread that recorded calls.")
        .def_readonly("index", &ThreadInfo::index)
        .def_readonly("ident", &ThreadInfo::ident)
        .def_readonly("native_id", &ThreadInfo::nativeId)
        .def_readonly("name", &ThreadInfo::name);

    pyb::class_<WriterInfo>(m, "WriterRecord", "A writer's metadata (meta[\"writer\"]).")
        .def_readonly("host", &WriterInfo::host)
        .def_readonly("pid", &WriterInfo::pid)
        .def_readonly("rank", &WriterInfo::rank)
        .def_readonly("writer_id", &WriterInfo::writerId)
        .def_readonly("python_version", &WriterInfo::pythonVersion)
        .def_readonly("package_version", &WriterInfo::packageVersion)
        .def_readonly("argv", &WriterInfo::argv)
        .def_readonly("cwd", &WriterInfo::cwd)
        .def_readonly("started_unix_ns", &WriterInfo::startedUnixNs)
        .def_readonly("clock_origin_ns", &WriterInfo::clockOriginNs)
        .def_readonly("run_id", &WriterInfo::runId);

    pyb::class_<CaptureStats>(m, "CaptureStats", "Capture counters of a writer.")
        .def_readonly("opaque", &CaptureStats::opaque)
        .def_readonly("pickled", &CaptureStats::pickled)
        .def_readonly("capture_errors", &CaptureStats::captureErrors)
        .def_readonly("dropped_calls", &CaptureStats::droppedCalls)
        .def("as_dict", [](const CaptureStats& s) {
            pyb::dict d;
            d["opaque"] = s.opaque;
            d["pickled"] = s.pickled;
            d["capture_errors"] = s.captureErrors;
            d["dropped_calls"] = s.droppedCalls;
            return d;
        });

    pyb::class_<DatabaseSizes>(m, "DatabaseSizes", "Bytes and entries on disk.")
        .def_readonly("file_bytes", &DatabaseSizes::fileBytes)
        .def_readonly("calls", &DatabaseSizes::calls)
        .def_readonly("blobs", &DatabaseSizes::blobs)
        .def_readonly("call_bytes", &DatabaseSizes::callBytes)
        .def_readonly("blob_bytes", &DatabaseSizes::blobBytes)
        .def("as_dict", [](const DatabaseSizes& s) {
            pyb::dict d;
            d["file_bytes"] = s.fileBytes;
            d["calls"] = s.calls;
            d["blobs"] = s.blobs;
            d["call_bytes"] = s.callBytes;
            d["blob_bytes"] = s.blobBytes;
            return d;
        });

    pyb::class_<SourceInfo>(m, "SourceRecord", "One writer's share of a merged environment.")
        .def_readonly("run", &SourceInfo::run)
        .def_readonly("writer", &SourceInfo::writer)
        .def_readonly("stats", &SourceInfo::stats)
        .def_readonly("function_base", &SourceInfo::functionBase)
        .def_readonly("function_count", &SourceInfo::functionCount)
        .def_readonly("handler_dir", &SourceInfo::handlerDir)
        .def("identity", &SourceInfo::identity);

    pyb::class_<RunWriter>(m, "RunWriter", "One writer of a run (its own environment, or a source of a merge).")
        .def_readonly("id", &RunWriter::id)
        .def_readonly("directory", &RunWriter::directory)
        .def_readonly("source", &RunWriter::source)
        .def_readonly("merged", &RunWriter::merged)
        .def_property_readonly("run", &RunWriter::run)
        .def_property_readonly("info", &RunWriter::info);

    pyb::class_<DamagedWriter>(m, "DamagedWriter", "An environment that could not be opened.")
        .def_readonly("directory", &DamagedWriter::directory)
        .def_readonly("error", &DamagedWriter::error);

    pyb::class_<RecordedCall>(m, "RecordedCall", "One call, decoded.")
        .def_readonly("invocation", &RecordedCall::invocation)
        .def_readonly("start_ns", &RecordedCall::startNs)
        .def_readonly("duration_ns", &RecordedCall::durationNs)
        .def_readonly("thread", &RecordedCall::thread)
        .def_readonly("caller", &RecordedCall::caller)
        .def_readonly("outcome", &RecordedCall::outcome)
        .def_readonly("args", &RecordedCall::args)
        .def_readonly("kwargs", &RecordedCall::kwargs)
        .def_readonly("result", &RecordedCall::result)
        .def_readonly("exception_type", &RecordedCall::exceptionType)
        .def_readonly("exception_message", &RecordedCall::exceptionMessage)
        .def_readonly("site", &RecordedCall::site)
        .def_readonly("label", &RecordedCall::label)
        .def_readonly("parent", &RecordedCall::parent)
        .def_readonly("traceback", &RecordedCall::traceback)
        .def_readonly("exception_args", &RecordedCall::exceptionArgs)
        .def_readonly("inner_calls", &RecordedCall::innerCalls)
        .def_readonly("yields", &RecordedCall::yields)
        .def_readonly("closed", &RecordedCall::closed)
        .def_readonly("yielded", &RecordedCall::yielded);

    pyb::class_<FunctionQuery>(m, "FunctionQuery", "A function object as the reader looks it up.")
        .def(pyb::init([](std::string module, std::string qualname, std::string file, uint32_t line, bool partial) {
                 return FunctionQuery{std::move(module), std::move(qualname), std::move(file), line, partial};
             }),
             arg("module"), arg("qualname"), arg("file") = "", arg("line") = 0, arg("partial") = false);

    pyb::class_<RunReader>(m, "RunReader", "Every writer under a path (run.h), read-only.")
        .def(pyb::init<const std::string&, bool>(), arg("path"), arg("strict") = false)
        .def_property_readonly("writers", [](const RunReader& r) { return r.run().writers(); })
        .def_property("allow_import", &RunReader::allowImport, &RunReader::setAllowImport)
        .def_property_readonly("start_order", [](const RunReader& r) { return r.run().startOrder(); })
        .def_property_readonly("damaged", [](const RunReader& r) { return r.run().damaged(); })
        .def_property_readonly("duplicates", [](const RunReader& r) { return r.run().duplicates(); })
        .def_property_readonly("runs", [](const RunReader& r) { return r.run().runs(); })
        .def("functions", &RunReader::functions, arg("writer"))
        .def("threads", &RunReader::threads, arg("writer"))
        .def("callers", &RunReader::callers, arg("writer"))
        .def("sites", &RunReader::sites, arg("writer"))
        .def("labels", &RunReader::labels, arg("writer"))
        .def("call_labels", &RunReader::callLabels, arg("writer"), arg("fid"))
        .def("format_version", &RunReader::formatVersion, arg("writer"))
        .def("environment_sources", &RunReader::environmentSources, arg("writer"))
        .def("stats", &RunReader::stats, arg("writer"))
        .def("policy", [](const RunReader& r, size_t w) {
            const RunWriter& rw = r.writer(w);
            return rw.merged ? rw.database->sourcePolicy(rw.source.identity()) : rw.database->policy();
        }, arg("writer"), "meta[\"policy\"] of a writer (JSON text; \"\" when absent); a merged source's "
                          "by its own function ids (add policy_function_base)")
        .def("policy_function_base", [](const RunReader& r, size_t w) {
            const RunWriter& rw = r.writer(w);
            return rw.merged ? rw.source.functionBase : 0u;
        }, arg("writer"), "what to add to the function ids of policy(writer)")
        .def("sizes", &RunReader::sizes)
        .def("last_invocation", &RunReader::lastInvocation, arg("writer"), arg("fid"))
        .def("invocations", &RunReader::invocations, arg("writer"), arg("fid"))
        .def("resolve", &RunReader::resolve, arg("name"), arg("writers") = std::vector<size_t>{})
        .def("resolve", &RunReader::resolveQuery, arg("query"), arg("writers") = std::vector<size_t>{})
        .def("inputs", &RunReader::inputs, arg("writer"), arg("fid"), arg("invocation"), arg("allow_pickle") = false,
             arg("arrays") = Arrays::Copies)
        .def("call", &RunReader::call, arg("writer"), arg("fid"), arg("invocation"), arg("allow_pickle") = false,
             arg("arrays") = Arrays::Copies)
        .def("children", &RunReader::children, arg("writer"), arg("fid"), arg("invocation"),
             "[(function id, invocation)] of the calls whose Parent is (fid, invocation) in that writer.")
        .def("inner_profile", &RunReader::innerProfile, arg("functions"),
             "Per call site, the inner calls of [(writer, function id)] over all their invocations: "
             "([dict(site, count, raised, total_ns, mean_ns, p50_ns, p95_ns, max_ns, summed, invocations)], "
             "dict(calls, without_inner_calls, undecodable, profiled)).");

    m.def("find_environments", [](const std::string& path) {
        std::vector<std::pair<std::string, std::string>> out;
        for (EnvironmentLocation& e : findEnvironments(path)) out.emplace_back(std::move(e.directory), std::move(e.run));
        return out;
    }, arg("path"), "[(environment directory, run name)] under a path, as the run reader finds them.");
    m.def("newest_run", &newestRun, arg("folder"), "The newest run directory in a folder.");
    m.def("_write_record_content_fixture_for_tests", &writeRecordContentFixture, arg("directory"));
}

}  // namespace callmonitor::py
