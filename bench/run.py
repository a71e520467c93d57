"""callmonitor's Python benchmarks: every number against a baseline measured in the same run.

    .venv/bin/python bench/run.py [--quick]

Prints a table (name, value, unit, baseline, ratio, target, PASS/FAIL) and writes
bench/results.json. Targets are reported, not asserted: the exit code is 0 unless
something crashed. See bench/README.md for how to read the output.
"""
import argparse
import dataclasses
import datetime
import functools
import hashlib
import json
import os
import pickle
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit

import numpy as np

import callmonitor
from callmonitor import _core

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
CACHE_DIR = os.path.join(BENCH_DIR, ".cache")
RESULTS_PATH = os.path.join(BENCH_DIR, "results.json")

MiB = 1 << 20
ARRAY_BYTES = 8 * MiB                       # the "8 MB float64 argument"
SMALL_ARGS = (1, "two", [3])                # the "small call": f(1, "two", [3])


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does (the full run, or --quick)."""
    call_loops: int          # calls per timing repetition (per-call overhead)
    call_repeats: int        # timing repetitions (medians are taken over these)
    array_repeats: int       # 8 MB captures / copies timed
    get_loops: int           # db.get calls per repetition
    get_repeats: int
    db_calls: int            # calls in the database that is opened and sized
    open_repeats: int        # fresh subprocesses that open it
    memory_total: int        # bytes of 8 MB arrays recorded in the memory benchmark
    memory_buffer: int       # configure(buffer_bytes=...) there


FULL = Sizes(call_loops=100_000, call_repeats=15, array_repeats=40, get_loops=20_000,
             get_repeats=11, db_calls=1_000_000, open_repeats=5, memory_total=2 << 30,
             memory_buffer=64 * MiB)
QUICK = Sizes(call_loops=20_000, call_repeats=5, array_repeats=8, get_loops=5_000,
              get_repeats=5, db_calls=50_000, open_repeats=2, memory_total=256 * MiB,
              memory_buffer=64 * MiB)


# --- results ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Target:
    op: str                  # "<=" or ">="
    bound: float
    on: str = "value"        # "value" or "ratio"

    def met(self, row):
        x = row.value if self.on == "value" else row.ratio
        return x <= self.bound if self.op == "<=" else x >= self.bound

    def __str__(self):
        return f"{'ratio ' if self.on == 'ratio' else ''}{self.op} {_num(self.bound)}"


@dataclasses.dataclass
class Row:
    name: str
    value: float
    unit: str
    baseline: float = None   # same unit as value
    baseline_name: str = ""
    target: Target = None
    note: str = ""

    @property
    def ratio(self):
        return self.value / self.baseline if self.baseline else None

    @property
    def passed(self):
        return None if self.target is None else self.target.met(self)

    def as_json(self):
        return {"name": self.name, "value": self.value, "unit": self.unit,
                "baseline": self.baseline, "baseline_name": self.baseline_name,
                "ratio": self.ratio, "target": str(self.target) if self.target else None,
                "passed": self.passed, "note": self.note}


def _num(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) >= 1 else f"{x:.3f}"


def write_results(path, env, sizes, rows):
    """The environment, the sizes and every row, as JSON."""
    with open(path, "w") as f:
        json.dump({"environment": env, "sizes": dataclasses.asdict(sizes),
                   "results": [r.as_json() for r in rows]}, f, indent=2)
        f.write("\n")


def print_table(rows):
    header = ["benchmark", "value", "unit", "baseline", "ratio", "target", "result"]
    cells = [[r.name, _num(r.value), r.unit,
              f"{_num(r.baseline)} ({r.baseline_name})" if r.baseline is not None else "-",
              f"{r.ratio:.2f}x" if r.ratio is not None else "-",
              str(r.target) if r.target else "-",
              {True: "PASS", False: "FAIL", None: ""}[r.passed]] for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *cells)]
    right = {1, 4}
    for line in [header, ["-" * w for w in widths], *cells]:
        print("  ".join(c.rjust(w) if i in right else c.ljust(w)
                        for i, (c, w) in enumerate(zip(line, widths))).rstrip())
    for r in rows:
        if r.note:
            print(f"  * {r.name}: {r.note}")


# --- timing ----------------------------------------------------------------------------

def medians(cases, number, repeat, between=None):
    """Seconds per execution of each case (a statement string or a callable), the median
    over `repeat` repetitions of `number` executions, minus the empty loop's cost.
    Repetitions of the cases are interleaved so drift hits all of them alike;
    `between()` runs before each repetition, outside the timed region."""
    timers = {name: timeit.Timer(stmt, globals=env)
              for name, (stmt, env) in {**cases, None: ("pass", {})}.items()}
    samples = {name: [] for name in timers}
    for _ in range(repeat):
        for name, timer in timers.items():
            if between:
                between()
            samples[name].append(timer.timeit(number) / number)
    empty = statistics.median(samples.pop(None))
    return {name: statistics.median(s) - empty for name, s in samples.items()}


def cpu_medians(cases, number, repeat, settle):
    """Process CPU seconds (all threads: the writer's too) per execution of each case,
    the median over `repeat` repetitions of `number` executions followed by `settle()`
    (which waits for the writer to finish their work), minus the empty loop's."""
    timers = {name: timeit.Timer(stmt, globals=env)
              for name, (stmt, env) in {**cases, None: ("pass", {})}.items()}
    samples = {name: [] for name in timers}
    for _ in range(repeat):
        for name, timer in timers.items():
            settle()
            t0 = time.process_time()
            timer.timeit(number)
            settle()
            samples[name].append((time.process_time() - t0) / number)
    empty = statistics.median(samples.pop(None))
    return {name: statistics.median(s) - empty for name, s in samples.items()}


def subprocess_seconds(argv):
    """A callable that runs `argv` in a fresh process (for `medians`)."""
    def run():
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return run


# --- the functions being called --------------------------------------------------------

def small(a, b, c):
    return None


def take(x):
    return None


def passthrough(fn):
    """The pure-Python decorator that intercept is measured against."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


# --- 1. per-call cost -------------------------------------------------------------------

def bench_call_overhead(sizes):
    cases = {name: ("f(1, 'two', [3])", {"f": fn}) for name, fn in
             [("plain", small), ("passthrough", passthrough(small)),
              ("intercept", callmonitor.intercept(small))]}
    ns = {k: v * 1e9 for k, v in medians(cases, sizes.call_loops, sizes.call_repeats,
                                         between=callmonitor.flush).items()}
    cpu = {k: v * 1e9 for k, v in cpu_medians(cases, sizes.call_loops, sizes.call_repeats,
                                              settle=callmonitor.flush).items()}
    return [
        Row("call: plain f(1, 'two', [3])", ns["plain"], "ns"),
        Row("call: functools.wraps pass-through", ns["passthrough"], "ns", ns["plain"], "plain"),
        Row("call: @intercept", ns["intercept"], "ns", ns["passthrough"], "pass-through",
            Target("<=", 2.0, on="ratio")),
        Row("call: @intercept net overhead", ns["intercept"] - ns["plain"], "ns",
            ns["passthrough"] - ns["plain"], "pass-through's",
            note="cost above the plain call; baseline = pass-through's cost above it"),
        Row("process CPU per call: @intercept", cpu["intercept"], "ns", cpu["passthrough"],
            "pass-through", Target("<=", 3.0, on="ratio"),
            note="all threads (the writer's commits included: flush() inside the measurement)"),
    ]


# --- 2. capturing an 8 MB array ------------------------------------------------------------

def bench_array_capture(sizes):
    arr = np.random.default_rng(0).random(ARRAY_BYTES // 8)
    cases = {"capture": ("take(arr)", {"take": callmonitor.intercept(take), "arr": arr}),
             "copy": ("arr.copy()", {"arr": arr})}
    # flush() between calls: the caller's own cost, not waiting for the writer thread
    # (the sustained rate, writer included, comes from the memory benchmark).
    sec = medians(cases, 1, sizes.array_repeats, between=callmonitor.flush)
    gbps = {k: ARRAY_BYTES / s / 1e9 for k, s in sec.items()}
    return [Row("8 MB float64 capture (caller thread)", gbps["capture"], "GB/s", gbps["copy"],
                "arr.copy()", Target(">=", 5.0),
                note=f"{sec['capture'] * 1e3:.2f} ms per call, median of {sizes.array_repeats}")]


# --- the database of small calls (3-5) ------------------------------------------------------

def small_call_db(sizes):
    """The writer directory of a database of `sizes.db_calls` calls of f(1, "two", [3]),
    built once per package version / format / extension build and cached in bench/.cache/."""
    with open(_core.__file__, "rb") as so:
        build = hashlib.sha1(so.read()).hexdigest()[:10]
    prefix = f"small-calls-v{callmonitor.__version__}-f{_core.FORMAT_VERSION}-{build}-"
    run_dir = os.path.join(CACHE_DIR, f"{prefix}{sizes.db_calls}")
    if not os.path.isdir(run_dir):
        os.makedirs(CACHE_DIR, exist_ok=True)
        for old in os.listdir(CACHE_DIR):   # other builds' databases, unfinished builds
            if not old.startswith(prefix):
                shutil.rmtree(os.path.join(CACHE_DIR, old))
        tmp = tempfile.mkdtemp(dir=CACHE_DIR, prefix="building-")
        t0 = time.perf_counter()
        child("record_small", output=os.path.join(tmp, "db"), calls=sizes.db_calls)
        print(f"[built {run_dir}: {sizes.db_calls:,} calls in {time.perf_counter() - t0:.1f} s]")
        os.rename(os.path.join(tmp, "db"), run_dir)
        shutil.rmtree(tmp)
    return os.path.join(run_dir, "main")


def child_record_small(output, calls):
    callmonitor.configure(output=output)
    f = callmonitor.intercept(small)
    for _ in range(calls):
        f(1, "two", [3])
    callmonitor.close()
    return {}


# --- 3. db.get of a small call --------------------------------------------------------------

def bench_get(sizes, db_dir):
    blob = pickle.dumps((list(SMALL_ARGS), {}), protocol=pickle.HIGHEST_PROTOCOL)
    with callmonitor.load(db_dir) as db:
        n = sizes.db_calls // 2
        assert db.get("small", n) == (list(SMALL_ARGS), {})
        cases = {"get": ("db.get('small', n)", {"db": db, "n": n}),
                 "pickle": ("loads(blob)", {"loads": pickle.loads, "blob": blob})}
        us = {k: v * 1e6 for k, v in medians(cases, sizes.get_loops, sizes.get_repeats).items()}
    return [Row("db.get(fn, n) of a small call", us["get"], "us", us["pickle"],
                "pickle.loads", Target("<=", 5.0),
                note=f"call {n:,} of a {sizes.db_calls:,}-call database")]


# --- 4. opening the database in a fresh process ---------------------------------------------

def bench_open(sizes, db_dir):
    py = sys.executable
    cases = {
        "startup": (subprocess_seconds([py, "-c", "import callmonitor"]), {}),
        "repr": (subprocess_seconds([py, "-c", "import sys, callmonitor; "
                                     "print(repr(callmonitor.load(sys.argv[1])))", db_dir]), {}),
        "summary": (subprocess_seconds([py, "-m", "callmonitor", "summary", db_dir]), {}),
    }
    sec = medians(cases, 1, sizes.open_repeats)
    note = (f"{sizes.db_calls:,} calls, warm page cache; "
            f"baseline = a fresh process that only imports callmonitor")
    return [Row("open + repr(db), fresh process", sec["repr"], "s", sec["startup"],
                "import only", Target("<=", 1.0), note=note),
            Row("callmonitor summary, fresh process", sec["summary"], "s", sec["startup"],
                "import only", Target("<=", 1.0))]


# --- 5. bytes on disk per small call ---------------------------------------------------------

def bench_disk(sizes, db_dir):
    size = os.path.getsize(os.path.join(db_dir, "data.mdb"))
    pickled = len(pickle.dumps((SMALL_ARGS, {}), protocol=pickle.HIGHEST_PROTOCOL))
    return [Row("disk per small call (data.mdb / calls)", size / sizes.db_calls, "B", pickled,
                "pickle of args", Target("<=", 64),
                note=f"data.mdb = {size / MiB:.1f} MiB for {sizes.db_calls:,} calls")]


# --- 6. peak memory while recording large arrays ---------------------------------------------

def bench_memory(sizes):
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-") as tmp:
        r = child("record_arrays", output=os.path.join(tmp, "db"), total=sizes.memory_total,
                  buffer_bytes=sizes.memory_buffer)
    buffer_mib = sizes.memory_buffer / MiB
    bound = buffer_mib + 3 * ARRAY_BYTES / MiB + 50
    growth = (r["peak_rss"] - r["rss_before"]) / MiB
    return [
        Row("peak RSS growth, recording 8 MB arrays", growth, "MiB", buffer_mib,
            "buffer_bytes", Target("<=", bound),
            note=f"{r['bytes'] / MiB:,.0f} MiB recorded in {r['calls']} calls; "
                 f"target = buffer + 3 x 8 MiB + 50 MiB"),
        Row("8 MB capture, sustained (incl. commit)", r["bytes"] / r["seconds"] / 1e9, "GB/s",
            r["bytes"] / r["plain_seconds"] / 1e9, "plain file writes", Target(">=", 1.5),
            note="every call and the final close(), writer thread and LMDB included, "
                 "into the page cache (no fsync); baseline = the same bytes written to a "
                 "file in the same directory with unbuffered f.write() just before"),
    ]


def _write_plain(path, arr, calls):
    """The sustained-rate baseline: `calls` unbuffered writes of arr's bytes, changed like the
    recorded ones. Returns the seconds taken; the file is removed (untimed)."""
    t0 = time.perf_counter()
    with open(path, "wb", buffering=0) as f:
        for i in range(calls):
            arr[0] = i
            f.write(arr)
    seconds = time.perf_counter() - t0
    os.remove(path)
    return seconds


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child_record_arrays(output, total, buffer_bytes):
    callmonitor.configure(output=output, buffer_bytes=buffer_bytes)
    f = callmonitor.intercept(take)
    arr = np.random.default_rng(0).random(ARRAY_BYTES // 8)
    calls = total // ARRAY_BYTES
    # On a virtual machine the first touch of a guest page the host has not backed yet costs
    # a host fault inside the kernel's copy into the page cache (measured here: 0.3 to
    # 2.6 GB/s for the same dd, depending on it). So both measured steps write into pages
    # freed just before them: a warm-up write frees pages for the baseline, the baseline's
    # file frees them for the recording.
    plain = os.path.join(os.path.dirname(output), "plain.bin")
    _write_plain(plain, arr, calls)
    plain_seconds = _write_plain(plain, arr, calls)
    rss_before = _rss_bytes()
    t0 = time.perf_counter()
    for i in range(calls):
        arr[0] = i                      # every call records different bytes
        f(arr)
    callmonitor.close()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024    # kB on Linux
    return {"rss_before": rss_before, "peak_rss": peak, "seconds": seconds,
            "plain_seconds": plain_seconds,
            "calls": calls, "bytes": calls * ARRAY_BYTES}


# --- subprocesses --------------------------------------------------------------------------

CHILDREN = {"record_small": child_record_small, "record_arrays": child_record_arrays}


def child(name, **kwargs):
    """Runs CHILDREN[name](**kwargs) in a fresh interpreter; returns its JSON result."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name,
                          json.dumps(kwargs)], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.splitlines()[-1])


# --- main ----------------------------------------------------------------------------------

def environment(quick):
    def git(*args):
        r = subprocess.run(["git", *args], cwd=BENCH_DIR, capture_output=True, text=True)
        return r.stdout.strip()
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "quick": quick, "callmonitor": callmonitor.__version__,
            "format_version": _core.FORMAT_VERSION,
            "git_commit": git("rev-parse", "--short", "HEAD"),
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "python": sys.version.split()[0], "executable": sys.executable,
            "numpy": np.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "load_average": os.getloadavg(), "cpu_busy_before": cpu_busy()}


def cpu_busy(seconds=1.0):
    """Fraction of all CPUs' time spent busy over `seconds` (while this process sleeps)."""
    def sample():
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        return ticks[3] + ticks[4], sum(ticks)      # idle + iowait, total
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return round(1 - (idle1 - idle0) / max(total1 - total0, 1), 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, kwargs = args.child
        print(json.dumps(CHILDREN[name](**json.loads(kwargs))))
        return 0

    sizes = QUICK if args.quick else FULL
    env = environment(args.quick)
    dirty = "+dirty" if env["git_dirty"] else ""
    print(f"callmonitor {env['callmonitor']} ({env['git_commit']}{dirty}), "
          f"Python {env['python']}, {env['cpus']} CPUs{', --quick' if args.quick else ''}")
    if env["cpu_busy_before"] > 0.25:
        print(f"warning: the CPUs were {env['cpu_busy_before']:.0%} busy with other work "
              f"just before this run: timings will be inflated and noisy")
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-") as tmp:
        callmonitor.configure(output=os.path.join(tmp, "db"))
        rows += bench_call_overhead(sizes)
        rows += bench_array_capture(sizes)
        callmonitor.close()
    db_dir = small_call_db(sizes)
    rows += bench_get(sizes, db_dir)
    rows += bench_open(sizes, db_dir)
    rows += bench_disk(sizes, db_dir)
    rows += bench_memory(sizes)
    env["seconds"] = round(time.perf_counter() - t0, 1)
    env["load_average_after"] = os.getloadavg()

    print()
    print_table(rows)
    write_results(RESULTS_PATH, env, sizes, rows)
    print(f"\n{sum(r.passed is True for r in rows)} passed, "
          f"{sum(r.passed is False for r in rows)} failed of "
          f"{sum(r.passed is not None for r in rows)} targets; "
          f"{env['seconds']} s; wrote {os.path.relpath(RESULTS_PATH)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
