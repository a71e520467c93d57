// The Python face of the read stage: WriterReader, one writer environment
// read-only (its metadata, functions, threads, callers and calls decoded
// to Python objects).
#include "read/reader_bindings.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>
#include <string>

#include "callmonitor/database.h"
#include "callmonitor/merge.h"
#include "callmonitor/errors.h"
#include "callmonitor/format.h"
#include "callmonitor/value_parser.h"
#include "callmonitor/value_writer.h"
#include "read/py_decoder.h"

namespace py = pybind11;
using callmonitor::CallNotFoundError;
using callmonitor::CallView;
using callmonitor::CaptureStats;
using callmonitor::CorruptError;
using callmonitor::Database;
using callmonitor::DatabaseError;
using callmonitor::DatabaseSizes;
using callmonitor::FunctionInfo;
using callmonitor::MergeInput;
using callmonitor::MergeResult;
using callmonitor::SourceInfo;
using callmonitor::StoreError;
using callmonitor::NotADatabaseError;
using callmonitor::NotFoundError;
using callmonitor::Parameter;
using callmonitor::Snapshot;
using callmonitor::UnknownFunctionError;
using callmonitor::ValueWriter;
using callmonitor::VersionError;
using callmonitor::WriterInfo;
namespace format = callmonitor::format;
namespace cpy = callmonitor::py;

namespace {

py::object steal(PyObject* o) {
    if (!o) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(o);
}

py::bytes bytesOf(std::string_view s) { return py::bytes(s.data(), s.size()); }

const char* kindName(uint8_t k) {
    switch (k) {
        case Parameter::PositionalOnly: return "POSITIONAL_ONLY";
        case Parameter::PositionalOrKeyword: return "POSITIONAL_OR_KEYWORD";
        case Parameter::VarPositional: return "VAR_POSITIONAL";
        case Parameter::KeywordOnly: return "KEYWORD_ONLY";
        case Parameter::VarKeyword: return "VAR_KEYWORD";
        default: return "POSITIONAL_OR_KEYWORD";
    }
}

py::dict functionDict(const FunctionInfo& f) {
    py::list params;
    for (const auto& p : f.parameters) {
        py::dict d;
        d["name"] = p.name;
        d["kind"] = kindName(p.kind);
        d["has_default"] = p.hasDefault;
        d["default"] = bytesOf(p.defaultValue);
        d["default_repr"] = p.defaultRepr;
        d["annotation"] = p.annotation;
        params.append(d);
    }
    py::dict d;
    d["id"] = f.id;
    d["module"] = f.module;
    d["qualname"] = f.qualname;
    d["name"] = f.name;
    d["file"] = f.file;
    d["line"] = f.line;
    d["signature_known"] = f.signatureKnown;
    d["parameters"] = params;
    d["return_annotation"] = f.returnAnnotation;
    d["kind"] = f.kind;
    return d;
}

const char* outcomeName(format::Outcome o) {
    switch (o) {
        case format::Outcome::Pending: return "pending";
        case format::Outcome::Returned: return "returned";
        case format::Outcome::Raised: return "raised";
        case format::Outcome::ResultSkipped: return "result-skipped";
    }
    return "unknown";
}

// One writer environment, read-only.
class WriterReader {
public:
    explicit WriterReader(const std::string& dir) : db_(Database::open(dir)) {}

    std::string directory() const { return db_.directory(); }

    py::dict info() const {
        py::dict d = writerDict(db_.writerInfo());
        d["format_version"] = db_.formatVersion();
        return d;
    }

    // The writers of a merged environment: their metadata and id ranges.
    py::list sources() const {
        py::list out;
        for (const SourceInfo& s : db_.sources()) {
            py::dict d;
            d["run"] = s.run;
            d["writer"] = writerDict(s.writer);
            d["stats"] = statsDict(s.stats);
            d["functions"] = py::make_tuple(s.functionBase, s.functionCount);
            d["threads"] = py::make_tuple(s.threadBase, s.threadCount);
            d["callers"] = py::make_tuple(s.callerBase, s.callerCount);
            d["handler_dir"] = s.handlerDir;
            out.append(d);
        }
        return out;
    }

    static py::dict writerDict(const WriterInfo& w) {
        py::dict d;
        d["host"] = w.host;
        d["pid"] = w.pid;
        d["rank"] = w.rank;
        d["writer_id"] = w.writerId;
        d["python_version"] = w.pythonVersion;
        d["package_version"] = w.packageVersion;
        d["argv"] = w.argv;
        d["cwd"] = w.cwd;
        d["started_unix_ns"] = w.startedUnixNs;
        d["run_id"] = w.runId;
        return d;
    }

    py::dict stats() const { return statsDict(db_.stats()); }

    static py::dict statsDict(const CaptureStats& s) {
        py::dict d;
        d["opaque"] = s.opaque;
        d["pickled"] = s.pickled;
        d["capture_errors"] = s.captureErrors;
        d["dropped_calls"] = s.droppedCalls;
        return d;
    }

    py::dict sizes() const {
        DatabaseSizes s = db_.sizes();
        py::dict d;
        d["file_bytes"] = s.fileBytes;
        d["calls"] = s.calls;
        d["blobs"] = s.blobs;
        d["call_bytes"] = s.callBytes;
        d["blob_bytes"] = s.blobBytes;
        return d;
    }

    py::list functions() const {
        py::list out;
        auto snap = db_.snapshot();
        for (const auto& f : db_.functions()) {
            py::dict d = functionDict(f);
            d["calls"] = snap.lastInvocation(f.id);
            out.append(d);
        }
        return out;
    }

    py::list threads() const {
        py::list out;
        for (const auto& t : db_.threads()) {
            py::dict d;
            d["index"] = t.index;
            d["ident"] = t.ident;
            d["native_id"] = t.nativeId;
            d["name"] = t.name;
            out.append(d);
        }
        return out;
    }

    std::vector<std::string> callers() const { return db_.callers(); }

    uint64_t lastInvocation(uint32_t fid) const { return db_.snapshot().lastInvocation(fid); }
    std::vector<uint64_t> invocations(uint32_t fid) const { return db_.snapshot().invocations(fid); }

    // (args list, kwargs dict): the fast path behind db.get().
    py::tuple inputs(uint32_t fid, uint64_t inv, bool allowPickle, const std::string& filesDir) const {
        format::CallKey key{fid, inv};
        std::string inputs;
        {
            auto snap = db_.snapshot();
            inputs.assign(snap.call(key).inputs);
        }
        return splitInputs(decode(key, inputs, allowPickle, filesDir));
    }

    py::dict call(uint32_t fid, uint64_t inv, bool allowPickle, const std::string& filesDir) const {
        format::CallKey key{fid, inv};
        // The record is copied out so that no snapshot is held while Python
        // code (handlers, unpickling) runs during decoding: a snapshot keeps
        // this process's writer from growing the map.
        std::string record;
        uint32_t version;
        {
            auto snap = db_.snapshot();
            auto r = snap.record(key);
            if (!r) snap.call(key);  // throws the not-found error
            record.assign(*r);
            version = snap.formatVersion();
        }
        CallView v = callmonitor::parseCallRecord(record, key, version);
        py::tuple in = splitInputs(decode(key, v.inputs, allowPickle, filesDir));
        py::dict d;
        d["invocation"] = inv;
        d["start_ns"] = v.startNs;
        d["duration_ns"] = v.durationNs;
        d["thread"] = v.thread;
        d["caller"] = v.caller;
        d["args"] = in[0];
        d["kwargs"] = in[1];
        d["outcome"] = outcomeName(v.outcome);
        d["result"] = v.outcome == format::Outcome::Returned ? decode(key, v.result, allowPickle, filesDir, callmonitor::Section::Result)
                                                             : py::none();
        d["exception_type"] = std::string(v.exceptionType);
        d["exception_message"] = std::string(v.exceptionMessage);
        return d;
    }

    py::bytes rawRecord(uint32_t fid, uint64_t inv) const {
        auto snap = db_.snapshot();
        auto r = snap.record(format::CallKey{fid, inv});
        if (!r) throw CallNotFoundError("no call " + std::to_string(inv));
        return bytesOf(*r);
    }

private:
    // Decodes value bytes (copied out of the database); a blob is read under a
    // snapshot that lives only while its bytes are copied into the array.
    // `filesDir`: where this writer's 0.3-style handler files are ("": the
    // environment's own directory; a merged writer's are elsewhere).
    py::object decode(const format::CallKey& key, std::string_view bytes, bool allowPickle,
                      const std::string& filesDir, callmonitor::Section section = callmonitor::Section::Inputs) const {
        cpy::DecodeOptions opt;
        opt.allowPickle = allowPickle;
        opt.writerDir = filesDir.empty() ? db_.directory() : filesDir;
        std::optional<Snapshot> pinned;
        opt.blobs = [&](uint32_t idx) {
            pinned.emplace(db_.snapshot());
            return pinned->payload(key, section, idx);
        };
        opt.blobDone = [&] { pinned.reset(); };
        return steal(cpy::decodeToPython(bytes, opt));
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

    Database db_;
};

}  // namespace

namespace callmonitor::py {

void bindReader(pybind11::module_& m) {
    pybind11::class_<WriterReader>(m, "WriterReader", "One writer environment, opened read-only.")
        .def(pybind11::init<const std::string&>(), pybind11::arg("directory"))
        .def_property_readonly("directory", &WriterReader::directory)
        .def("info", &WriterReader::info)
        .def("stats", &WriterReader::stats)
        .def("sizes", &WriterReader::sizes)
        .def("functions", &WriterReader::functions)
        .def("threads", &WriterReader::threads)
        .def("callers", &WriterReader::callers)
        .def("last_invocation", &WriterReader::lastInvocation)
        .def("invocations", &WriterReader::invocations)
        .def("sources", &WriterReader::sources)
        .def("inputs", &WriterReader::inputs, pybind11::arg("fid"), pybind11::arg("invocation"), pybind11::arg("allow_pickle") = false,
             pybind11::arg("files_dir") = "")
        .def("call", &WriterReader::call, pybind11::arg("fid"), pybind11::arg("invocation"), pybind11::arg("allow_pickle") = false,
             pybind11::arg("files_dir") = "")
        .def("raw_record", &WriterReader::rawRecord);
}

}  // namespace callmonitor::py
