#include "capture/record_probe.h"

#include <string>

#include "callmonitor/database.h"
#include "capture/payload_slots.h"
#include "read/py_decoder.h"

namespace callmonitor::py {
namespace {

namespace pyb = pybind11;

pyb::object decodeSection(const Snapshot& snap, const CallView& call, Section section, std::string_view bytes) {
    DecodeOptions opt;
    opt.blobs = snap.payloadResolver(call, section);
    PyObject* o = decodeToPython(bytes, opt);
    if (!o) throw pyb::error_already_set();
    return pyb::reinterpret_steal<pyb::object>(o);
}

pyb::dict recordedCall(const std::string& directory, const std::string& qualname, uint64_t invocation) {
    Database db = Database::open(directory);
    uint32_t function = 0;
    bool found = false;
    for (const FunctionInfo& f : db.functions())
        if (f.qualname == qualname) {
            function = f.id;
            found = true;
        }
    if (!found) throw pyb::key_error("no function " + qualname + " in " + directory);
    std::vector<std::string> labels = db.labels();
    Snapshot snap = db.snapshot();
    CallView v = snap.call(format::CallKey{function, invocation});
    pyb::dict d;
    d["outcome"] = static_cast<int>(v.outcome);
    d["site"] = v.site ? pyb::object(pyb::int_(*v.site)) : pyb::none();
    d["label"] = v.label && *v.label < labels.size() ? pyb::object(pyb::str(labels[*v.label])) : pyb::none();
    d["traceback"] = v.traceback.empty() ? pyb::none() : pyb::object(pyb::str(std::string(v.traceback)));
    d["exception_args"] = pyb::none();
    if (!v.exceptionArgs.empty()) d["exception_args"] = decodeSection(snap, v, Section::Result, v.exceptionArgs);
    d["result"] = pyb::none();
    if (v.outcome == format::Outcome::Returned) d["result"] = decodeSection(snap, v, Section::Result, v.result);
    d["result_payloads"] = v.resultPayloads();
    d["input_payloads"] = v.inputPayloads();
    return d;
}

pyb::list recordedSites(const std::string& directory) {
    pyb::list out;
    for (const SiteInfo& s : Database::open(directory).sites())
        out.append(pyb::make_tuple(s.id, s.file, s.line, s.function));
    return out;
}

}  // namespace

void bindRecordProbe(pyb::module_& m) {
    m.def("_recorded_call", &recordedCall, pyb::arg("directory"), pyb::arg("qualname"), pyb::arg("invocation"),
          "Test support: site id, label, traceback, exception args, outcome and result of one recorded call.");
    m.def("_recorded_sites", &recordedSites, pyb::arg("directory"),
          "Test support: the sites table, [(id, file, line, function)].");
    m.def(
        "_payload_slot_counts",
        [] {
            const PayloadSlotCounts c = payloadSlotCounts();
            pyb::dict d;
            d["copied"] = c.copied;
            d["same_as_input"] = c.sameAsInput;
            return d;
        },
        "Test support: payload slots captured so far in this process: copies taken, and result "
        "slots that repeat an input slot (stored once, not copied).");
}

}  // namespace callmonitor::py
