"""Benchmarks of code-free tracing (callmonitor.watch, callmonitor run), each
against the same code unwatched, in the same run.

    .venv/bin/python bench/watch.py [--quick] [--pint-tests PATH ...]

Rows:
- "filtered-out call": a watched function called from a module that the
  watch's from_modules leaves out, minus the same call unwatched (target
  <= +50 ns): what a library's calls into itself cost under a watch.
- "recorded numpy.add": np.add on two 8-element arrays, recorded (full and
  summary values), against np.add unwatched.
- "pint test suite": `python -m pytest --pyargs pint.testsuite` (or the
  given test files) plain, and under `callmonitor run --to numpy --from pint`
  with --values summary (target <= 1.5x wall time) and --values full, and
  under the pytest plugin (-p callmonitor.pytest_plugin, values summary,
  every test phase labelled; target <= 1.5x).
Writes bench/results-watch.json (same layout as bench/run.py's).
"""
import argparse
import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

import callmonitor
import callmonitor.trace.watch
from run import Row, Target, environment, medians, print_table, write_results

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS_PATH = os.path.join(BENCH_DIR, "results-watch.json")
PINT_TESTSUITE = "pint.testsuite"


@dataclasses.dataclass(frozen=True)
class Sizes:
    call_loops: int
    call_repeats: int
    pint_repeats: int


FULL = Sizes(call_loops=200_000, call_repeats=15, pint_repeats=1)
QUICK = Sizes(call_loops=20_000, call_repeats=5, pint_repeats=1)


def _library():
    """A module `benchlib` with one trivial function (what gets watched)."""
    lib = types.ModuleType("benchlib")
    exec("def f(x):\n    return x\n", lib.__dict__)
    sys.modules["benchlib"] = lib
    return lib


def _caller_globals(name, **names):
    """Globals of a caller module called `name` (timeit runs its loop in them)."""
    return {"__name__": name, **names}


def bench_filtered_and_recorded(sizes, out_dir):
    """Each watched call is timed interleaved with the same call through a
    reference to the unwatched object taken before the watch."""
    callmonitor.configure(output=os.path.join(out_dir, "calls"))
    lib = _library()
    a, b = np.arange(8.0), np.ones(8)
    caller = _caller_globals("benchcaller", lib=lib, np=np, a=a, b=b, f0=lib.f, add0=np.add)
    rows = []
    with callmonitor.watch(lib, from_modules=["somewhere_else"]):
        t = medians({"plain": ("f0(1)", caller), "watched": ("lib.f(1)", caller)},
                    sizes.call_loops, sizes.call_repeats)
    rows.append(Row("filtered-out call: a Python function", (t["watched"] - t["plain"]) * 1e9, "ns more",
                    target=Target("<=", 50),
                    note=f"unwatched {t['plain'] * 1e9:.0f} ns, filtered out {t['watched'] * 1e9:.0f} ns"))
    lib.g = len  # a C function
    caller["g0"] = len
    with callmonitor.watch(lib, from_modules=["somewhere_else"]):
        lib.g = callmonitor.trace.watch.active_watches()[0]._wrapper_for(len, "benchlib", "g")
        t = medians({"plain": ("g0(a)", caller), "watched": ("lib.g(a)", caller)},
                    sizes.call_loops, sizes.call_repeats)
    rows.append(Row("filtered-out call: a C function (len)", (t["watched"] - t["plain"]) * 1e9, "ns more",
                    target=Target("<=", 50),
                    note=f"unwatched {t['plain'] * 1e9:.0f} ns, filtered out {t['watched'] * 1e9:.0f} ns"))
    with callmonitor.watch("numpy", from_modules=["somewhere_else"]):
        t = medians({"plain": ("add0(a, b)", caller), "watched": ("np.add(a, b)", caller)},
                    sizes.call_loops, sizes.call_repeats)
    rows.append(Row("filtered-out call: np.add on 8 floats", t["watched"] * 1e9, "ns",
                    baseline=t["plain"] * 1e9, baseline_name="np.add unwatched",
                    note=f"{(t['watched'] - t['plain']) * 1e9:+.0f} ns; the ufunc's own time varies by "
                         f"more than the filter costs on a busy machine: see the rows above"))
    for values in ("full", "summary"):
        with callmonitor.watch("numpy", values=values):
            t = medians({"plain": ("add0(a, b)", caller), "watched": ("np.add(a, b)", caller)},
                        sizes.call_loops // 4, sizes.call_repeats, between=callmonitor.flush)
        rows.append(Row(f"recorded call: np.add on 8 floats, values={values}", t["watched"] * 1e9, "ns",
                        baseline=t["plain"] * 1e9, baseline_name="np.add unwatched",
                        note=f"+{(t['watched'] - t['plain']) * 1e9:.0f} ns per call"))
    callmonitor.close()
    return rows


def _timed(argv, cwd):
    """(wall seconds, CPU seconds of the child and its children, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, proc.stderr.strip().splitlines()[-1:] or [""]


def bench_pint(sizes, out_dir, tests):
    target = ["--pyargs", PINT_TESTSUITE] if not tests else list(tests)
    pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", *target]
    cases = {
        "plain": [sys.executable, *pytest_args],
        "summary": [sys.executable, "-m", "callmonitor", "run", "-o", "pint-summary", "--to", "numpy",
                    "--from", "pint", "--values", "summary", *pytest_args],
        "full": [sys.executable, "-m", "callmonitor", "run", "-o", "pint-full", "--to", "numpy",
                 "--from", "pint", "--values", "full", *pytest_args],
        # the pytest plugin: every test phase labelled as well
        "plugin": [sys.executable, *pytest_args[:-len(target)], "-p", "callmonitor.pytest_plugin",
                   "--callmonitor-to", "numpy", "--callmonitor-from", "pint", "--callmonitor-values", "summary",
                   "--callmonitor-out", "pint-plugin", *target],
    }
    samples = {k: [] for k in cases}
    last = {}
    for _ in range(sizes.pint_repeats):  # interleaved: drift hits all alike
        for name, argv in cases.items():
            wall, cpu, rc, tail = _timed(argv, out_dir)
            samples[name].append((wall, cpu))
            last[name] = (rc, tail[0])
    best = {k: min(v) for k, v in samples.items()}
    what = "the whole pint test suite" if not tests else f"pint tests {' '.join(tests)}"
    rows = []
    for name in ("summary", "full", "plugin"):
        wall, cpu = best[name]
        rc, line = last[name]
        size = _du(os.path.join(out_dir, f"pint-{name}"))
        how = ("the pytest plugin, values=summary" if name == "plugin"
               else f"callmonitor run, values={name}")
        rows.append(Row(f"pint suite under {how}", wall, "s wall",
                        baseline=best["plain"][0], baseline_name="unwatched",
                        target=Target("<=", 1.5, on="ratio") if name != "full" else None,
                        note=f"{what}; CPU {cpu:.1f} s vs {best['plain'][1]:.1f} s unwatched "
                             f"({cpu / best['plain'][1]:.2f}x); exit {rc} (plain "
                             f"{last['plain'][0]}); {size / 2**20:.1f} MiB; {line}"))
    return rows


def _du(path):
    """Bytes on disk (allocated blocks: LMDB files may be sparse)."""
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.stat(os.path.join(root, f)).st_blocks * 512 for f in files)
    return total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--pint-tests", nargs="*", default=None, metavar="PATH",
                   help="pint test files to run instead of the whole suite (--pint-tests with no "
                        "path: skip the pint rows)")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out_dir = tempfile.mkdtemp(prefix="callmonitor-bench-watch-")
    try:
        rows = bench_filtered_and_recorded(sizes, out_dir)
        if args.pint_tests is None or args.pint_tests:
            rows += bench_pint(sizes, out_dir, args.pint_tests)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    print_table(rows)
    write_results(RESULTS_PATH, environment(args.quick), sizes, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
