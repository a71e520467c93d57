#include "sample_records.h"

#include <cstring>

#include "callmonitor/call_record.h"
#include "callmonitor/errors.h"
#include "callmonitor/value_writer.h"
#include "callmonitor/writer.h"

namespace callmonitor::fuzz {
namespace {

std::string encodedInt(int64_t v) {
    std::string out;
    ValueWriter(out).integer(v);
    return out;
}

// f(x, n=3, *args, key="k", **kw)
FunctionInfo functionWithDefaults() {
    FunctionInfo f;
    f.id = 0;
    f.module = "physics.solver";
    f.qualname = "Solver.step";
    f.name = "step";
    f.file = "/src/physics/solver.py";
    f.line = 42;
    f.signatureKnown = true;
    f.kind = "method";
    f.returnAnnotation = "np.ndarray";
    Parameter x;
    x.name = "x";
    x.annotation = "np.ndarray";
    Parameter n;
    n.name = "n";
    n.hasDefault = true;
    n.defaultValue = encodedInt(3);
    n.defaultRepr = "3";
    Parameter args;
    args.name = "args";
    args.kind = Parameter::VarPositional;
    Parameter key;
    key.name = "key";
    key.kind = Parameter::KeywordOnly;
    key.hasDefault = true;
    ValueWriter(key.defaultValue).str("k");
    key.defaultRepr = "'k'";
    Parameter kw;
    kw.name = "kw";
    kw.kind = Parameter::VarKeyword;
    f.parameters = {x, n, args, key, kw};
    return f;
}

FunctionInfo builtinFunction() {
    FunctionInfo f;
    f.id = 1;
    f.module = "numpy";
    f.qualname = "dot";
    f.name = "dot";
    f.kind = "builtin";
    return f;
}

// Inputs: (args tuple, kwargs dict), written by `body` into a Tuple(2).
// Entry ext: a Site, and a field of a tag no reader knows (skipped).
template <class Body> std::string entry(uint64_t start, uint32_t thread, uint32_t caller, Body body,
                                        bool ext = false) {
    std::string out;
    appendCallHeader(out, start, thread, caller);
    ValueWriter w(out);
    w.beginTuple(2, false);
    body(w);
    ExtFields fields;
    if (ext) {
        fields.addVarint(format::ExtTag::Site, 3);
        fields.addBytes(200, "unknown");
        fields.addParent(format::CallKey{1, 1});
    }
    appendExt(out, fields);
    appendPending(out);
    return out;
}

std::string doubles(size_t n) {
    std::string bytes(n * 8, '\0');
    for (size_t i = 0; i < n; ++i) {
        double d = 0.5 * double(i);
        std::memcpy(&bytes[i * 8], &d, 8);
    }
    return bytes;
}

}  // namespace

SampleRecords sampleRecords() {
    SampleRecords s;
    s.writer.host = "fuzzhost";
    s.writer.pid = 1234;
    s.writer.writerId = "main";
    s.writer.pythonVersion = "3.11.2";
    s.writer.packageVersion = "0.4.0";
    s.writer.argv = {"solver.py", "--steps", "10"};
    s.writer.cwd = "/work";
    s.writer.startedUnixNs = 1700000000000000000;
    s.writer.clockOriginNs = 123456789;
    s.functions = {functionWithDefaults(), builtinFunction()};
    s.threads = {ThreadInfo{0, 140000000001, 5001, "MainThread"}, ThreadInfo{1, 140000000002, 5002, "worker-1"}};
    s.callers = {"__main__", "physics.driver"};

    // 1: small inline float64 array, int, str kwarg; returned a float.
    SampleCall c1;
    c1.key = {0, 1};
    c1.entry = entry(1000, 0, 0, [](ValueWriter& w) {
        w.beginTuple(2, false);
        std::string a = doubles(4);
        w.arrayInline(ArrayHeader{"<f8", 'C', {2, 2}}, a.data(), a.size(), false);
        w.integer(-7);
        w.beginDict(1, false);
        w.str("key");
        w.str("boundary \xc3\xa9");
    }, true);
    appendReturned(c1.outcome, 5000);
    ValueWriter(c1.outcome).real(-0.0);
    appendEmptyExt(c1.outcome);
    s.calls.push_back(c1);

    // 2: a blob array (Fortran order), a shared list and a cycle; raised.
    SampleCall c2;
    c2.key = {0, 2};
    c2.entry = entry(2000, 1, 1, [](ValueWriter& w) {
        w.beginTuple(3, false);
        w.arrayBlob(ArrayHeader{">i4", 'F', {16, 16}}, 0, 16 * 16 * 4, false);
        w.beginList(2, true);  // memo 0: contains itself
        w.integer(1);
        w.backref(0);
        w.backref(0);
        w.beginDict(0, false);
    });
    c2.blobs = {{0, std::string(16 * 16 * 4, '\x01')}};
    appendRaised(c2.outcome, 777, "ValueError", "step size too large");
    {
        ExtFields out;
        out.addBytes(format::ExtTag::Traceback, "Traceback (most recent call last):\n  ...\nValueError");
        std::string args;
        ValueWriter(args).beginTuple(0, false);
        out.addBytes(format::ExtTag::ExceptionArgs, args);
        appendExt(c2.outcome, out);
    }
    s.calls.push_back(c2);

    // 3: every scalar and container kind; result skipped.
    SampleCall c3;
    c3.key = {0, 3};
    c3.entry = entry(3000, 0, 1, [](ValueWriter& w) {
        w.beginTuple(1, false);
        w.beginList(15, false);
        w.none();
        w.boolean(true);
        const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
        w.bigInteger(true, big, sizeof big);
        w.complex(1.5, -2.5);
        w.bytes(std::string("\x00\x01\x02", 3));
        w.byteArray("mutable", true);
        w.beginSet(1, false);
        w.integer(5);
        w.beginFrozenSet(0, false);
        const double half = 0.5;
        w.numpyScalar("<f8", &half, 8);
        w.handler("mypkg.Handler", "payload");
        w.pickle("mypkg.Thing", "\x80\x05N.");
        w.opaque("socket.socket", "<socket>", "cannot pickle");
        w.beginLegacy("legacy.Handler", "handlers/step/3");
        w.str("state");
        w.backref(0);
        w.beginBuiltin("pandas.Series", true);  // a built-in handler's value: kind, then its state
        w.beginDict(2, false);
        w.str("data");
        w.arrayInline(ArrayHeader{"<i8", 'C', {1}}, "\x07\0\0\0\0\0\0\0", 8, false);
        w.str("name");
        w.none();
        w.beginDict(0, false);
    });
    appendNotRecorded(c3.outcome, 9);
    appendEmptyExt(c3.outcome);
    s.calls.push_back(c3);

    // 4: pending forever (the process died during the call).
    SampleCall c4;
    c4.key = {0, 4};
    c4.entry = entry(4000, 0, 0, [](ValueWriter& w) {
        w.beginTuple(1, false);
        w.arrayInline(ArrayHeader{"|b1", 'C', {3}}, "\x01\x00\x01", 3, false);
        w.beginDict(0, false);
    });
    s.calls.push_back(c4);

    // numpy.dot(a, b) -> 0-d complex array.
    SampleCall c5;
    c5.key = {1, 1};
    c5.entry = entry(5000, 1, 0, [](ValueWriter& w) {
        w.beginTuple(2, false);
        w.arrayInline(ArrayHeader{"<c16", 'C', {}}, std::string(16, '\0').data(), 16, false);
        w.arrayInline(ArrayHeader{"<u2", 'C', {0, 5}}, "", 0, false);
        w.beginDict(0, false);
    });
    appendReturned(c5.outcome, 10);
    ValueWriter(c5.outcome).arrayInline(ArrayHeader{"<c16", 'C', {}}, std::string(16, '\0').data(), 16, false);
    appendEmptyExt(c5.outcome);
    s.calls.push_back(c5);

    // numpy.dot(grid, numpy.sum): objects by their state (one refers to
    // itself, one holds a blob array) and references by name.
    SampleCall c6;
    c6.key = {1, 2};
    c6.entry = entry(6000, 0, 0, [](ValueWriter& w) {
        w.beginTuple(4, false);
        w.beginObject("mypkg.grid", "Grid", ObjectForm::Attrs, true);  // memo 0
        w.beginDict(3, false);
        w.str("u");
        w.arrayBlob(ArrayHeader{"<f8", 'C', {8}}, 0, 64, false);
        w.str("me");
        w.backref(0);
        w.str("color");
        w.beginObject("mypkg.grid", "Color", ObjectForm::Enum, false);
        w.beginDict(2, false);
        w.str("name");
        w.str("RED");
        w.str("value");
        w.integer(1);
        w.beginObject("mypkg.grid", "Point", ObjectForm::NamedTuple, false);
        w.beginDict(2, false);
        w.str("x");
        w.real(1.0);
        w.str("y");
        w.real(2.0);
        w.reference(RefKind::Function, "numpy", "sum");
        w.beginObject("mypkg.grid", "Custom", ObjectForm::State, false);
        w.beginTuple(2, false);
        w.reference(RefKind::Class, "builtins", "int");
        w.reference(RefKind::Module, "numpy.linalg", "");
        w.beginDict(0, false);
    });
    c6.blobs = {{0, doubles(8)}};
    appendReturned(c6.outcome, 11);
    {  // a classmethod bound to its class (a callable recorded by name and parts)
        ValueWriter w(c6.outcome);
        w.beginObject("mypkg.grid", "Grid.create", ObjectForm::Method, false);
        w.reference(RefKind::Class, "mypkg.grid", "Grid");
    }
    appendEmptyExt(c6.outcome);
    s.calls.push_back(c6);
    return s;
}

void writeSampleDatabase(const std::string& dir, const SampleRecords& records) {
    WriterOptions options;
    options.directory = dir;
    options.initialMapSize = uint64_t(1) << 20;
    Writer w(options, records.writer);
    for (const auto& f : records.functions) w.submitFunction(f);
    for (const auto& t : records.threads) w.submitThread(t);
    for (size_t i = 0; i < records.callers.size(); ++i) w.submitCaller(uint32_t(i), records.callers[i]);
    w.submitSite(3, SiteInfo{3, "/src/model.py", 12, "run"});
    w.submitLabel(0, "sample");
    for (const auto& c : records.calls) {
        std::vector<Payload> payloads;  // slot = position (sample blobs are numbered 0, 1, ...)
        for (const auto& [index, bytes] : c.blobs) payloads.push_back(Payload::copyOf(bytes.data(), bytes.size()));
        w.submitEntry(c.key, c.entry, std::move(payloads));
        if (!c.outcome.empty()) w.submitOutcome(c.key, c.outcome);
    }
    w.countOpaque(1);
    w.countPickled(1);
    if (!w.flush()) throw StoreError("writing the sample database failed: " + w.error());
    w.close();
}

}  // namespace callmonitor::fuzz
