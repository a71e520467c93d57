// callmonitor._core: the bindings. Capture controls (hooks, session,
// flush/close), the value codec for Python (encode_value / decode_value),
// and WriterReader, the Python face of one writer environment.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <lmdb.h>

#include <cstring>
#include <optional>
#include <string>

#include "callmonitor/database.h"
#include "callmonitor/merge.h"
#include "callmonitor/module_names.h"
#include "callmonitor/errors.h"
#include "callmonitor/format.h"
#include "callmonitor/value_parser.h"
#include "callmonitor/value_writer.h"
#include "builtin_table.h"
#include "capture/inner_calls.h"
#include "capture/handler_table.h"
#include "foreign_threads.h"
#include "hooks.h"
#include "capture/call_iteration.h"
#include "capture/caller_filter.h"
#include "capture/interceptor.h"
#include "read/py_decoder.h"
#include "read/reader_bindings.h"
#include "capture/py_encoder.h"
#include "capture/record_writer.h"
#include "capture/record_probe.h"
#include "capture/recorder.h"

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
using callmonitor::AmbiguousFunctionError;
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

}  // namespace

void registerApiBindings(py::module_& m);  // api_bindings.cpp

PYBIND11_MODULE(_core, m) {
    registerApiBindings(m);
    m.doc() = "callmonitor's native core: the interceptor, the recorder and the reader.";

    if (cpy::addInterceptorType(m.ptr()) < 0) throw py::error_already_set();
    if (cpy::addWatchTypes(m.ptr()) < 0) throw py::error_already_set();
    if (cpy::addPolicyFunctions(m.ptr()) < 0) throw py::error_already_set();
    if (cpy::addCallIterationTypes(m.ptr()) < 0) throw py::error_already_set();
    if (cpy::addInnerCallTypes(m.ptr()) < 0) throw py::error_already_set();

    // Errors: one Python class per case a caller handles differently.
    static py::exception<DatabaseError> databaseError(m, "DatabaseError", PyExc_Exception);
    static py::exception<NotFoundError> notFound(m, "NotFoundError", databaseError.ptr());
    static py::exception<NotADatabaseError> notADb(m, "NotADatabaseError", databaseError.ptr());
    static py::exception<VersionError> versionError(m, "VersionError", databaseError.ptr());
    static py::exception<CorruptError> corrupt(m, "CorruptError", databaseError.ptr());
    static py::exception<UnknownFunctionError> unknownFn(m, "UnknownFunctionError", databaseError.ptr());
    static py::exception<AmbiguousFunctionError> ambiguousFn(m, "AmbiguousFunctionError", unknownFn.ptr());
    static py::exception<StoreError> storeError(m, "StoreError", PyExc_OSError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const CallNotFoundError& e) {
            PyErr_SetString(PyExc_IndexError, e.what());
        } catch (const NotFoundError& e) {
            PyErr_SetString(notFound.ptr(), e.what());
        } catch (const NotADatabaseError& e) {
            PyErr_SetString(notADb.ptr(), e.what());
        } catch (const VersionError& e) {
            PyErr_SetString(versionError.ptr(), e.what());
        } catch (const CorruptError& e) {
            PyErr_SetString(corrupt.ptr(), e.what());
        } catch (const AmbiguousFunctionError& e) {
            PyErr_SetString(ambiguousFn.ptr(), e.what());
        } catch (const UnknownFunctionError& e) {
            PyErr_SetString(unknownFn.ptr(), e.what());
        } catch (const DatabaseError& e) {
            PyErr_SetString(databaseError.ptr(), e.what());
        } catch (const StoreError& e) {
            PyErr_SetString(storeError.ptr(), e.what());
        }
    });

    m.def("recorded_module", [](const std::string& module) { return std::string(callmonitor::recordedModuleName(module)); },
          "the module name a function, class or caller whose module is `module` is recorded under "
          "(include/callmonitor/module_names.h: __mp_main__ -> __main__)");
    m.attr("FORMAT_VERSION") = format::kFormatVersion;
    m.attr("OLDEST_FORMAT_VERSION") = format::kOldestFormatVersion;

    // For tests of version handling: rewrites meta["format"] of a closed writer directory.
    m.def("_set_format_version_for_tests", [](const std::string& dir, uint32_t version) {
        MDB_env* env = nullptr;
        MDB_txn* txn = nullptr;
        MDB_dbi dbi;
        int rc = mdb_env_create(&env);
        if (!rc) rc = mdb_env_set_maxdbs(env, 16);
        if (!rc) rc = mdb_env_open(env, dir.c_str(), 0, 0644);
        if (!rc) rc = mdb_txn_begin(env, nullptr, 0, &txn);
        if (!rc) rc = mdb_dbi_open(txn, format::kMetaDb, 0, &dbi);
        std::string value = format::encodeFormatValue(version);
        MDB_val k{std::strlen(format::kMetaFormat), const_cast<char*>(format::kMetaFormat)};
        MDB_val v{value.size(), value.data()};
        if (!rc) rc = mdb_put(txn, dbi, &k, &v, 0);
        if (!rc) { rc = mdb_txn_commit(txn); txn = nullptr; }
        if (txn) mdb_txn_abort(txn);
        if (env) mdb_env_close(env);
        if (rc) throw std::runtime_error(std::string("cannot rewrite the format version: ") + mdb_strerror(rc));
    });

    m.def("_install_hooks", [](py::dict h) {
        auto& hooks = cpy::Hooks::get();
        auto take = [&](const char* name, PyObject*& slot) {
            PyObject* v = PyDict_GetItemString(h.ptr(), name);
            if (!v) throw py::key_error(std::string("missing hook ") + name);
            Py_INCREF(v);
            Py_XSETREF(slot, v);
        };
        take("registry_lookup", hooks.registryLookup);
        take("legacy_save", hooks.legacySave);
        take("describe_function", hooks.describeFunction);
        take("open_session", hooks.openSession);
        take("thread_name", hooks.threadName);
        take("make_unrestorable", hooks.makeUnrestorable);
        take("decode_handler", hooks.decodeHandler);
        take("legacy_load", hooks.legacyLoad);
        take("pickle_dumps", hooks.pickleDumps);
        take("object_begin", hooks.objectBegin);
        take("object_finish", hooks.objectFinish);
        take("resolve_ref", hooks.resolveRef);
        take("load_pickle", hooks.loadPickle);
        take("restore_failed", hooks.restoreFailed);
        take("warn", hooks.warn);
        take("format_traceback", hooks.formatTraceback);
        cpy::HandlerTable::instance().setLookup(hooks.registryLookup);
    });
    m.def("_registry_changed", [] { cpy::HandlerTable::instance().clear(); },
          "Forget cached handler lookups (call after REGISTRY changes).");

    // The built-in handlers' table (handlers/builtin_table.cpp), for tests and introspection.
    m.def("_builtin_handlers", [] {
        std::vector<std::string> names;
        auto all = cpy::builtin::all();
        for (auto* h = all.begin; h != all.end; ++h) names.emplace_back((*h)->name());
        return names;
    }, "The names of the built-in handlers, in table order.");
    m.def("_builtin_handler_for", [](py::handle type) -> std::optional<std::string> {
        if (!PyType_Check(type.ptr())) throw py::type_error("_builtin_handler_for() needs a type");
        auto* h = cpy::builtin::forType(reinterpret_cast<PyTypeObject*>(type.ptr()));
        if (!h) return std::nullopt;
        return std::string(h->name());
    }, py::arg("type"), "The built-in handler that takes values of exactly this type, or None.");

    m.def("flush", [] { return cpy::Recorder::instance().flush(); },
          "Commit every call recorded so far. Returns False when the writer has failed.");
    m.def("close", [] { cpy::Recorder::instance().close(); },
          "Flush and close the writer; the next recorded call starts a new run directory.");
    m.def("_commit_before_exit", [](double seconds) {
        return cpy::Recorder::instance().commitBeforeExit(std::chrono::milliseconds(int64_t(seconds * 1000)));
    }, "Commits what is recorded, waiting at most `seconds`.");
    m.def("_after_fork_child", [] { cpy::Recorder::instance().afterForkChild(); });
    m.def("set_enabled", [](bool on) { cpy::Recorder::instance().setEnabled(on); });
    m.def("_set_output_chosen", [](bool on) { cpy::Recorder::instance().setOutputChosen(on); },
          "configure(output=...) or $CALLMONITOR_DIR chose where to record (flat_profile records only then).");
    m.def("set_label", [](std::optional<std::string> label) { cpy::Recorder::instance().setLabel(std::move(label)); },
          py::arg("label"),
          "The label of the calls recorded from now on (None: the session's label, if any; \"\": none).");
    m.def("stats", [] { return steal(cpy::Recorder::instance().statsDict()); });
    m.def("output_directory", []() -> py::object {
        std::string d = cpy::Recorder::instance().outputDirectory();
        if (d.empty()) return py::none();
        return py::str(d);
    });
    m.def("writer_directory", []() -> py::object {
        std::string d = cpy::Recorder::instance().currentWriterDir();
        if (d.empty()) return py::none();
        return py::str(d);
    });
    // The directories this process's Writers are open on now (none once
    // closed): the reader returns copies instead of map views there
    // (docs/python-api.md).
    m.def("live_writer_directories", [] { return cpy::Recorder::instance().liveWriterDirs(); });
    // Settings().enable_multi_threading: the calling thread's writer.
    m.def("_declare_writer", [](const std::string& writerId, bool process) {
        cpy::Recorder::instance().declareWriter(writerId, process);
    }, py::arg("writer_id"), py::arg("process"),
          "The writer the calling thread records into from its next call (\"\": the process's); "
          "process=True (the main thread): the writer of every thread that declares none.");
    m.def("_declared_writer", [] { return cpy::Recorder::instance().declaredWriter(); },
          "The writer id the calling thread declared, else the process's (\"\": automatic).");
    m.def("_session_open", [] { return cpy::Recorder::instance().sessionOpen(); },
          "True once a writer of the current session was opened (until close()).");
    m.def("_open_lanes", [] { return cpy::Recorder::instance().openLanes(); },
          "Lanes open in the session's writers: one per thread that recorded and has not ended.");
    cpy::defineTestingHooks(m);

    m.def("encode_value", [](py::handle obj) {
        std::string out;
        ValueWriter w(out);
        cpy::PyEncoder enc;
        cpy::EncodeOptions opt;
        cpy::EncodeCounts counts;
        if (!enc.encode(w, obj.ptr(), opt, counts)) throw py::error_already_set();
        return bytesOf(out);
    }, py::arg("obj"), "Encode one value (arrays inline) to callmonitor's value bytes.");
    m.def("decode_value", [](py::bytes data, bool allowPickle, py::tuple allowImport) {
        std::string_view b = data;
        cpy::DecodeOptions opt;
        opt.allowPickle = allowPickle;
        opt.allowImport = allowImport.ptr();
        return steal(cpy::decodeToPython(b, opt));
    }, py::arg("data"), py::arg("allow_pickle") = false, py::arg("allow_import") = py::tuple(),
       "Decode value bytes made by encode_value.");

    m.def("merge", [](const std::string& out, const std::vector<std::pair<std::string, std::string>>& inputs,
                      py::object progress) {
        std::vector<MergeInput> in;
        for (const auto& [dir, run] : inputs) in.push_back({dir, run});
        MergeResult r;
        {
            py::gil_scoped_release unlocked;
            r = callmonitor::mergeWriters(out, in, [&](uint64_t done, uint64_t total) {
                if (progress.is_none()) return;
                py::gil_scoped_acquire locked;
                progress(done, total);
            });
        }
        py::dict d;
        d["writers"] = r.writers;
        d["duplicates"] = r.duplicates;
        d["calls"] = r.calls;
        d["blobs"] = r.blobs;
        d["bytes"] = r.bytes;
        return d;
    }, py::arg("out"), py::arg("inputs"), py::arg("progress") = py::none(),
       "Merges writer environments [(directory, run name)] into a new environment `out`.");

    cpy::bindReader(m);
    cpy::bindRecordWriter(m);
    cpy::bindRecordProbe(m);
}
