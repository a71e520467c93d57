// check_laplacian: replays every recorded call of heat_diffusion.laplacian
// into the C++ port and compares its result with the one Python returned.
//
//   check_laplacian PATH [--rtol R] [--atol A]
//
// PATH: a run directory (e.g. call-monitor/, every writer in it) or one writer
// directory. Prints one summary; exit 0 when every call matches, 1 when one
// does not, 2 on a usage or database error.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "callmonitor/database.h"
#include "callmonitor/errors.h"
#include "callmonitor/value.h"
#include "laplacian.h"
#include "ndarray/xarray.h"

namespace cm = callmonitor;
namespace fs = std::filesystem;

namespace {

struct Totals {
    size_t calls = 0, mismatches = 0, exact = 0;
    double maxAbs = 0, maxRel = 0;
    double pythonNs = 0, cppNs = 0;
};

std::vector<std::string> writerDirectories(const std::string& path) {
    if (fs::exists(fs::path(path) / "data.mdb")) return {path};
    std::vector<std::string> out;
    if (fs::is_directory(path))
        for (const auto& entry : fs::directory_iterator(path))
            if (fs::exists(entry.path() / "data.mdb")) out.push_back(entry.path().string());
    std::sort(out.begin(), out.end());
    if (out.empty()) throw cm::NotADatabaseError(path + " holds no callmonitor writer (no data.mdb)");
    return out;
}

// The argument named `name` at `position`: positional, or passed by keyword.
const cm::Value& argument(const cm::DecodedInputs& in, size_t position, const std::string& name) {
    if (position < in.args.size()) return *in.args[position];
    for (const auto& [key, value] : in.kwargs)
        if (key == name) return *value;
    throw cm::TypeMismatchError("the call has no argument " + name);
}

double number(const cm::Value& v) {
    if (v.tag == cm::Tag::Float) return v.real;
    if (v.tag == cm::Tag::Int) return double(v.integer);
    throw cm::TypeMismatchError("dx is not a number");
}

void checkWriter(const std::string& dir, double rtol, double atol, Totals& t) {
    auto db = cm::Database::open(dir);
    for (const auto& fn : db.functions()) {
        if (fn.name != "laplacian") continue;
        auto snap = db.snapshot();
        for (uint64_t inv : snap.invocations(fn.id)) {
            cm::format::CallKey key{fn.id, inv};
            cm::CallView call = snap.call(key);
            if (call.outcome != cm::format::Outcome::Returned) continue;  // raised, or still running
            // Arrays stored apart: the inputs' and the result's payload slots are numbered separately.
            cm::DecodedInputs in = cm::decodeInputs(call.inputs, snap.payloadResolver(call, cm::Section::Inputs));
            xt::xarray<double> u = cm::toXarray<double>(argument(in, 0, "u"));
            double dx = number(argument(in, 1, "dx"));
            xt::xarray<double> expected = cm::toXarray<double>(*cm::decodeValue(call.result, snap.payloadResolver(call, cm::Section::Result)));

            auto start = std::chrono::steady_clock::now();
            xt::xarray<double> got = laplacian(u, dx);
            t.cppNs += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
            t.pythonNs += double(call.durationNs);
            ++t.calls;

            bool ok = got.shape() == expected.shape();
            bool exact = ok;
            for (size_t k = 0; ok && k < got.size(); ++k) {
                double a = got.data()[k], e = expected.data()[k];
                double err = std::fabs(a - e);
                exact = exact && a == e;
                t.maxAbs = std::max(t.maxAbs, err);
                if (e != 0) t.maxRel = std::max(t.maxRel, err / std::fabs(e));
                if (!(err <= atol + rtol * std::fabs(e))) ok = false;
            }
            if (!ok) {
                ++t.mismatches;
                std::printf("  call %llu (%s): the port differs from the recorded result\n",
                            (unsigned long long)inv, fs::path(dir).filename().c_str());
            }
            t.exact += exact;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string path;
    double rtol = 1e-12, atol = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if ((a == "--rtol" || a == "--atol") && i + 1 < argc) {
            (a == "--rtol" ? rtol : atol) = std::strtod(argv[++i], nullptr);
        } else if (a == "-h" || a == "--help") {
            std::printf("usage: check_laplacian PATH [--rtol R] [--atol A]\n");
            return 0;
        } else if (path.empty() && a.rfind("-", 0) != 0) {
            path = a;
        } else {
            std::fprintf(stderr, "check_laplacian: unexpected argument %s\nusage: check_laplacian PATH [--rtol R] [--atol A]\n", a.c_str());
            return 2;
        }
    }
    if (path.empty()) {
        std::fprintf(stderr, "usage: check_laplacian PATH [--rtol R] [--atol A]\n");
        return 2;
    }
    Totals t;
    try {
        for (const auto& dir : writerDirectories(path)) checkWriter(dir, rtol, atol, t);
    } catch (const cm::Error& e) {
        std::fprintf(stderr, "check_laplacian: %s\n", e.what());
        return 2;
    }
    if (t.calls == 0) {
        std::fprintf(stderr, "check_laplacian: %s holds no returned call of laplacian: record "
                             "examples/heat_diffusion.py first\n", path.c_str());
        return 2;
    }
    std::printf("laplacian: %zu recorded calls checked against the C++ port: %zu match "
                "(%zu bit for bit), %zu differ\n", t.calls, t.calls - t.mismatches, t.exact, t.mismatches);
    std::printf("  max abs error %.3g, max rel error %.3g (rtol %g, atol %g)\n", t.maxAbs, t.maxRel, rtol, atol);
    std::printf("  time per call: Python (recorded) %.1f us, C++ %.1f us\n", t.pythonNs / t.calls / 1e3,
                t.cppNs / t.calls / 1e3);
    std::printf(t.mismatches ? "FAILED\n" : "OK\n");
    return t.mismatches ? 1 : 0;
}
