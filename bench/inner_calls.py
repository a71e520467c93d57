"""Inner-call wrapping and flat profiling: cost per inner call, recompyle's method.

    .venv/bin/python bench/inner_calls.py [--quick]

A function making 10 inner calls (``other(0, val2=1)``) is timed unwrapped
and in each wrapped form, in the same run, interleaved; the cost per inner
call is (wrapped - unwrapped) / 10. Medians over the repetitions. The
pure-Python rows are the same AST rewrite with a Python wrapper: a no-op one,
and one that records what the native recorder records (site, duration,
outcome) into a per-invocation list. Prints a table and writes
bench/results-inner.json. Targets are reported, not asserted.
"""
import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import timeit

import callmonitor
from callmonitor import flat_profile, wrap_calls
from callmonitor.inner import default_above_log, default_below_log

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS_PATH = os.path.join(BENCH_DIR, "results-inner.json")
CALLS = 10


def other(val1, val2):
    return val1 + val2


def noop_wrapper(__call, *args, **kwargs):
    return __call(*args, **kwargs)


_perf_ns = time.perf_counter_ns
_recorded = []


def python_recorder(__call, *args, **kwargs):
    """Pure-Python equivalent of the native recorder: times the call, appends (callee, duration, raised)."""
    start = _perf_ns()
    raised = True
    try:
        result = __call(*args, **kwargs)
        raised = False
        return result
    finally:
        _recorded.append((__call, _perf_ns() - start, raised))


def _ten_calls():
    other(0, val2=1)
    other(0, val2=1)
    other(0, val2=1)
    other(0, val2=1)
    other(0, val2=1)
    other(0, val2=1)
    other(0, val2=1)
    other(0, val2=1)
    other(0, val2=1)
    other(0, val2=1)


def _hand_written():
    """The no-op wrapper's calls written by hand: what wrap_calls(noop_wrapper) must match."""
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)
    noop_wrapper(other, 0, val2=1)


def _copy(name):
    """A fresh function with _ten_calls' code (each decorator rewrites its own copy)."""
    import types
    f = types.FunctionType(_ten_calls.__code__, globals(), name)
    f.__qualname__ = name
    return f


def variants():
    unwrapped = _ten_calls
    py_noop = wrap_calls(noop_wrapper)(_copy("py_noop"))

    def py_record():
        _recorded.clear()
        return py_record_inner()
    py_record_inner = wrap_calls(python_recorder)(_copy("py_record"))
    native = wrap_calls()(_copy("native"))
    profile_none = flat_profile(time_limit=100, below_callback=None, above_callback=None)(_copy("profile_none"))
    profile_below = flat_profile(time_limit=100)(_copy("profile_below"))
    profile_above = flat_profile(time_limit=0)(_copy("profile_above"))
    # @intercept(inner=True): each invocation recorded into a database, its inner calls with it.
    import atexit
    import shutil
    import callmonitor
    out = tempfile.mkdtemp(prefix="callmonitor-bench-inner-")
    atexit.register(shutil.rmtree, out, True)
    callmonitor.configure(output=os.path.join(out, "db"))
    callmonitor._core._set_output_chosen(False)  # flat_profile's rows: no database chosen (they time, not record)
    recorded_inner = callmonitor.intercept(inner=True)(_copy("recorded_inner"))
    return {
        "unwrapped": unwrapped, "hand_written": _hand_written, "py_noop": py_noop, "py_record": py_record, "native": native,
        "profile_none": profile_none, "profile_below": profile_below, "profile_above": profile_above,
        "recorded_inner": recorded_inner,
    }


def measure(funcs, number, repeat):
    """Per function: (median, min) seconds per call, repetitions interleaved, the empty loop subtracted."""
    times = {name: [] for name in funcs}
    for _ in range(repeat):
        for name, fn in funcs.items():
            times[name].append(timeit.Timer(fn).timeit(number) / number)
    empty = [timeit.Timer("pass").timeit(number) / number for _ in range(3)]
    return ({name: statistics.median(v) - statistics.median(empty) for name, v in times.items()},
            {name: min(v) - min(empty) for name, v in times.items()})


def cpu_busy(seconds=0.5):
    """Share of the CPUs' time that went to other work during `seconds` (from /proc/stat)."""
    def read():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]
    try:
        t0, i0 = read()
        time.sleep(seconds)
        t1, i1 = read()
        return 1 - (i1 - i0) / max(1, t1 - t0)
    except OSError:
        return None


CALLGRIND_VARIANTS = ("unwrapped", "hand_written", "py_noop", "py_record", "native", "profile_none",
                      "recorded_inner")


def child_loop(variant, count):
    """Runs `variant` `count` times (the process measured under callgrind)."""
    fn = variants()[variant]
    for _ in range(count):
        fn()


def callgrind_instructions(variant, count):
    """Instructions (Ir) of a whole child process that calls `variant` `count` times."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                        os.path.abspath(__file__), "--child", variant, str(count)],
                       check=True, capture_output=True)
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals")


def bench_callgrind(small, large):
    """Ir per inner call, load-independent: (Ir(large) - Ir(small)) / (large - small) / 10, minus unwrapped."""
    per_invocation = {}
    for variant in CALLGRIND_VARIANTS:
        per_invocation[variant] = (callgrind_instructions(variant, large)
                                   - callgrind_instructions(variant, small)) / (large - small)
    base = per_invocation["unwrapped"]
    return {v: (ir - base) / CALLS for v, ir in per_invocation.items() if v != "unwrapped"}, base / CALLS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller loops (a few seconds)")
    parser.add_argument("--callgrind", action="store_true",
                        help="also count instructions per inner call under valgrind (load-independent, ~1 min)")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_loop(args.child[0], int(args.child[1]))
        return 0
    number, repeat = (20_000, 5) if args.quick else (100_000, 15)
    busy = cpu_busy()
    if busy is not None and busy > 0.25:
        print(f"warning: {busy:.0%} of the CPUs' time went to other work; numbers will be noisy", file=sys.stderr)
    # The default callbacks log at INFO: records are made and handled, by a handler that drops them.
    log = logging.getLogger("callmonitor.flat_profile")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(logging.NullHandler())
    funcs = variants()
    medians, minima = measure(funcs, number, repeat)
    out = []
    print(f"{'row':45} {'median':>8} {'min':>8}  {'unit':15} {'target':>8} result")
    for stat, us in (("median", {k: v * 1e6 for k, v in medians.items()}),
                     ("min", {k: v * 1e6 for k, v in minima.items()})):
        base = us["unwrapped"]
        per = lambda name: (us[name] - base) / CALLS  # noqa: E731
        rows = [
            ("unwrapped function (10 calls)", us["unwrapped"], "us", None, None),
            ("no-op wrapper called by hand (baseline)", per("hand_written"), "us/inner call", None,
             "the wrapper's own Python call"),
            ("no-op Python wrapper (wrap_calls(w))", per("py_noop"), "us/inner call",
             round(per("hand_written") + 0.01, 3), "target: the hand-written calls + 0.01"),
            ("Python recording wrapper (same rewrite)", per("py_record"), "us/inner call", None, None),
            ("native recorder (wrap_calls())", per("native"), "us/inner call", 0.10, None),
            ("flat_profile, no callbacks", per("profile_none"), "us/inner call", 0.15, None),
            ("@intercept(inner=True): outer call recorded too", per("recorded_inner"), "us/inner call", None,
             "the outer call's recording shared by its 10 inner calls"),
            ("flat_profile, default below callback", us["profile_below"] - us["profile_none"], "us/invocation",
             None, "callback cost: one INFO record"),
            ("flat_profile, default above callback", us["profile_above"] - us["profile_none"], "us/invocation",
             None, "callback cost: times summed, sorted, formatted, one INFO record"),
        ]
        for name, value, unit, target, note in rows:
            result = "" if target is None else ("PASS" if value <= target else "FAIL")
            out.append({"name": name, "statistic": stat, "value": value, "unit": unit, "target": target,
                        "result": result, "note": note})
    by_name = {}
    for row in out:
        by_name.setdefault(row["name"], {})[row["statistic"]] = row
    for name, pair in by_name.items():
        med, low = pair["median"], pair["min"]
        target = med["target"]
        print(f"{name:45} {med['value']:8.3f} {low['value']:8.3f}  {med['unit']:15} "
              f"{'' if target is None else f'<= {target}':>8} {med['result']}"
              + (f"  ({med['note']})" if med["note"] else ""))
    native = [r for r in out if r["name"].startswith("native") and r["statistic"] == "median"][0]["value"]
    python = [r for r in out if r["name"].startswith("Python rec") and r["statistic"] == "median"][0]["value"]
    noop = [r for r in out if r["name"].startswith("no-op wrapper called") and r["statistic"] == "median"][0]["value"]
    print(f"\nper inner call (medians): the native recorder costs {native / noop:.2f}x a no-op Python wrapper "
          f"call and is {python / native:.1f}x cheaper than the Python recording wrapper. "
          f"PASS/FAIL: on the medians.")
    instructions = None
    if args.callgrind:
        small, large = (500, 2_500) if args.quick else (2_000, 12_000)
        instructions, plain = bench_callgrind(small, large)
        print(f"\ninstructions per inner call under callgrind ({small:,} vs {large:,} invocations; "
              f"an unwrapped inner call is {plain:.0f} Ir):")
        for variant, ir in instructions.items():
            print(f"  {variant:15} +{ir:7.0f} Ir")
    env = {"python": sys.version.split()[0], "machine": platform.machine(), "cpus": os.cpu_count(),
           "loadavg": os.getloadavg(), "cpu_busy_before": busy, "loops": number, "repeats": repeat,
           "callmonitor": callmonitor.__version__}
    with open(RESULTS_PATH, "w") as f:
        json.dump({"environment": env, "rows": out, "callgrind_ir_per_inner_call": instructions}, f, indent=1)
    print(f"wrote {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
