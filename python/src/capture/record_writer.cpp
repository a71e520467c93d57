#include "capture/record_writer.h"

#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "callmonitor/call_record.h"
#include "callmonitor/errors.h"
#include "callmonitor/value_writer.h"
#include "callmonitor/writer.h"
#include "capture/py_encoder.h"

namespace py = pybind11;

namespace callmonitor::py {
namespace {

template <class T>
T field(const ::py::dict& d, const char* key, T fallback) {
    if (!d.contains(key) || d[key].is_none()) return fallback;
    return d[key].cast<T>();
}

class RecordWriter {
public:
    // `info`: the writer's metadata, the keys of open_session()'s dict
    // (host, pid, rank, writer_id, run_id, python_version, package_version,
    // argv, cwd, started_unix_ns); missing keys keep WriterInfo's defaults.
    RecordWriter(const std::string& directory, const ::py::dict& info) {
        WriterInfo w;
        w.host = field<std::string>(info, "host", "");
        w.pid = field<int64_t>(info, "pid", 0);
        w.rank = field<int64_t>(info, "rank", -1);
        w.writerId = field<std::string>(info, "writer_id", "");
        w.runId = field<std::string>(info, "run_id", "");
        w.pythonVersion = field<std::string>(info, "python_version", "");
        w.packageVersion = field<std::string>(info, "package_version", "");
        w.argv = field<std::vector<std::string>>(info, "argv", {});
        w.cwd = field<std::string>(info, "cwd", "");
        w.startedUnixNs = field<int64_t>(info, "started_unix_ns", 0);
        WriterOptions opts;
        opts.directory = directory;
        opts.flushInterval = std::chrono::milliseconds(500);
        writer_ = std::make_unique<Writer>(std::move(opts), w);
    }

    // `d`: a function description as capture's describe() makes it
    // (module, qualname, name, file, line, signature_known, parameters with
    // name/kind/has_default/default/default_repr/annotation, return_annotation,
    // kind). Returns its function id.
    uint32_t addFunction(const ::py::dict& d) {
        FunctionInfo fn;
        fn.id = nextFunction_++;
        fn.module = field<std::string>(d, "module", "");
        fn.qualname = field<std::string>(d, "qualname", "");
        fn.name = field<std::string>(d, "name", fn.qualname);
        fn.file = field<std::string>(d, "file", "");
        fn.line = field<uint32_t>(d, "line", 0);
        fn.signatureKnown = field<bool>(d, "signature_known", false);
        fn.returnAnnotation = field<std::string>(d, "return_annotation", "");
        fn.kind = field<std::string>(d, "kind", "function");
        if (d.contains("parameters")) {
            for (::py::handle h : d["parameters"]) {
                ::py::dict p = ::py::reinterpret_borrow<::py::dict>(h);
                Parameter prm;
                prm.name = field<std::string>(p, "name", "");
                prm.kind = field<uint8_t>(p, "kind", Parameter::PositionalOrKeyword);
                prm.hasDefault = field<bool>(p, "has_default", false);
                if (prm.hasDefault) prm.defaultValue = field<std::string>(p, "default", "");
                prm.defaultRepr = field<std::string>(p, "default_repr", "");
                prm.annotation = field<std::string>(p, "annotation", "");
                fn.parameters.push_back(std::move(prm));
            }
        }
        writer().submitFunction(fn);
        return fn.id;
    }

    uint32_t addThread(uint64_t ident, const std::string& name) {
        ThreadInfo t;
        t.index = nextThread_++;
        t.ident = ident;
        t.name = name;
        writer().submitThread(t);
        return t.index;
    }

    uint32_t addCaller(const std::string& module) {
        writer().submitCaller(nextCaller_, module);
        return nextCaller_++;
    }

    // One call. outcome: "returned" (with `result`), "raised" (with the
    // exception's type and message), "result-skipped" or "pending".
    void addCall(uint32_t fid, uint64_t invocation, const ::py::sequence& args, const ::py::dict& kwargs,
                 uint64_t startNs, uint64_t durationNs, const std::string& outcome, const ::py::object& result,
                 const std::string& exceptionType, const std::string& exceptionMessage, uint32_t thread,
                 uint32_t caller) {
        if (fid >= nextFunction_) throw ::py::value_error("add_call: unknown function id " + std::to_string(fid));
        if (invocation == 0) throw ::py::value_error("add_call: invocation numbers start at 1");
        std::string out;
        std::vector<Payload> resultPayloads;
        if (outcome == "returned") {
            appendReturned(out, durationNs);
            encode(out, result.ptr(), &resultPayloads);
        } else if (outcome == "raised") {
            appendRaised(out, durationNs, exceptionType, exceptionMessage);
        } else if (outcome == "result-skipped" || outcome == "not-recorded") {
            appendNotRecorded(out, durationNs);
        } else if (outcome != "pending") {
            throw ::py::value_error(
                "add_call: outcome must be returned, raised, not-recorded (result-skipped) or pending, not " + outcome);
        }
        if (!out.empty()) appendEmptyExt(out);  // every v2 outcome section ends with its ext area
        // Inputs as a vectorcall: positional values, then keyword values named by kwnames.
        std::vector<PyObject*> values;
        for (::py::handle a : args) values.push_back(a.ptr());
        ::py::tuple names(kwargs.size());
        size_t k = 0;
        for (auto item : kwargs) {
            names[k++] = item.first;
            values.push_back(item.second.ptr());
        }
        std::string record;
        std::vector<Payload> inputPayloads;
        appendCallHeader(record, startNs, thread, caller);
        {
            ValueWriter w(record);
            EncodeOptions opt;
            opt.payloads.payloads = &inputPayloads;
            EncodeCounts counts;
            encoder_.encodeInputs(w, values.data(), args.size(), kwargs.size() ? names.ptr() : nullptr, opt, counts);
            account(counts);
        }
        appendEmptyExt(record);  // the entry ext area
        appendPending(record);
        format::CallKey key{fid, invocation};
        waitForRoom();
        writer().submitEntry(key, record, std::move(inputPayloads));
        if (!out.empty()) writer().submitOutcome(key, out, std::move(resultPayloads));
    }

    // Commits everything; raises StoreError when the store failed.
    void close() {
        if (!writer_) return;
        bool ok;
        {
            ::py::gil_scoped_release unlocked;
            ok = writer_->flush();
        }
        std::string error = ok ? "" : writer_->error();
        {
            ::py::gil_scoped_release unlocked;
            writer_->close();
        }
        writer_.reset();
        if (!ok) throw StoreError(error);
    }

private:
    void encode(std::string& out, PyObject* obj, std::vector<Payload>* payloads) {
        ValueWriter w(out);
        EncodeOptions opt;
        opt.payloads.payloads = payloads;
        EncodeCounts counts;
        encoder_.encode(w, obj, opt, counts);
        account(counts);
    }

    void account(const EncodeCounts& counts) {
        if (counts.opaque) writer().countOpaque(counts.opaque);
        if (counts.pickled) writer().countPickled(counts.pickled);
        if (counts.errors) writer().countCaptureError(counts.errors);
    }

    void waitForRoom() {
        if (writer().hasRoom()) return;
        ::py::gil_scoped_release unlocked;
        writer().waitForRoom();
    }

    Writer& writer() {
        if (!writer_) throw StoreError("this RecordWriter is closed");
        return *writer_;
    }

    std::unique_ptr<Writer> writer_;
    PyEncoder encoder_;
    uint32_t nextFunction_ = 0, nextThread_ = 0, nextCaller_ = 0;
};

}  // namespace

void bindRecordWriter(::py::module_& m) {
    ::py::class_<RecordWriter>(m, "RecordWriter",
                               "Writes a new writer environment from explicit calls (importers, tools).")
        .def(::py::init<const std::string&, const ::py::dict&>(), ::py::arg("directory"), ::py::arg("info"))
        .def("add_function", &RecordWriter::addFunction, ::py::arg("description"))
        .def("add_thread", &RecordWriter::addThread, ::py::arg("ident"), ::py::arg("name"))
        .def("add_caller", &RecordWriter::addCaller, ::py::arg("module"))
        .def("add_call", &RecordWriter::addCall, ::py::arg("fid"), ::py::arg("invocation"), ::py::arg("args"),
             ::py::arg("kwargs"), ::py::kw_only(), ::py::arg("start_ns") = 0, ::py::arg("duration_ns") = 0,
             ::py::arg("outcome") = "result-skipped", ::py::arg("result") = ::py::none(),
             ::py::arg("exception_type") = "", ::py::arg("exception_message") = "", ::py::arg("thread") = 0,
             ::py::arg("caller") = 0)
        .def("close", &RecordWriter::close)
        .def("__enter__", [](RecordWriter& w) -> RecordWriter& { return w; })
        .def("__exit__", [](RecordWriter& w, ::py::args) { w.close(); });
}

}  // namespace callmonitor::py
