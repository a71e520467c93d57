"""Replay and regression-test benchmarks: every number against a baseline measured in the same run.

    .venv/bin/python bench/replay.py [--quick]

Records 100,000 small calls `small(i, "two", [3])` of an importable module (in
a subprocess, into a temp directory), then measures
- replay --check throughput: `Replayer.run` in this process (read, call,
  compare the result, check the arguments for in-place changes), against
  reading the same calls with `db.calls` alone; and the whole
  `callmonitor replay DB small --check` command, wall time, against a command
  that only starts (`callmonitor --version`);
- export-tests of 1,000 calls: time to write, file size, and the time pytest
  takes to run the generated file, against pytest running one trivial test.
Writes bench/results-replay.json. Targets are reported, not asserted.
"""
import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS_PATH = os.path.join(BENCH_DIR, "results-replay.json")

MODULE = '''
from callmonitor import intercept


@intercept
def small(a, b, c):
    return a + len(b) + len(c)
'''


@dataclasses.dataclass(frozen=True)
class Sizes:
    replay_calls: int    # recorded calls replayed with --check
    export_calls: int    # calls turned into one pytest file
    repeats: int         # timings per measurement (medians over these)


FULL = Sizes(replay_calls=100_000, export_calls=1_000, repeats=5)
QUICK = Sizes(replay_calls=10_000, export_calls=200, repeats=2)


def _command():
    exe = os.path.join(os.path.dirname(sys.executable), "callmonitor")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "callmonitor"]


def _wall(argv, cwd):
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def record(tmp, calls):
    with open(os.path.join(tmp, "smallmod.py"), "w") as f:
        f.write(MODULE)
    code = f"import smallmod\nfor i in range({calls}):\n    smallmod.small(i, 'two', [3])\n"
    subprocess.run([sys.executable, "-c", code], cwd=tmp, check=True,
                   env={**os.environ, "CALLMONITOR_DIR": os.path.join(tmp, "db")})
    return os.path.join(tmp, "db")


def bench_replay(sizes, tmp, db_dir):
    from run import Row, Target
    import callmonitor
    from callmonitor.analyse.replay import Replayer
    sys.path.insert(0, tmp)
    n = sizes.replay_calls
    read, replay = [], []
    with callmonitor.load(db_dir) as db:
        engine = Replayer(db, "small")
        for _ in range(sizes.repeats):
            t = time.perf_counter()
            count = sum(1 for _ in db.calls("small"))
            read.append(time.perf_counter() - t)
            t = time.perf_counter()
            results = engine.run()
            replay.append(time.perf_counter() - t)
            assert count == n and len(results) == n and all(r.status == "passed" for r in results)
    cmd = _command()
    start = [_wall(cmd + ["--version"], tmp) for _ in range(sizes.repeats)]
    whole = [_wall(cmd + ["replay", db_dir, "small", "--check"], tmp)
             for _ in range(sizes.repeats)]
    rate = n / statistics.median(replay)
    return [
        Row("replay --check (in process)", rate, "calls/s", n / statistics.median(read),
            "db.calls read only", Target(">=", 20_000),
            note="Replayer.run: read, call, compare result, in-place check per call"),
        Row("callmonitor replay --check (command)", n / statistics.median(whole), "calls/s",
            None, "", Target(">=", 20_000),
            note=f"{n} calls, wall time of the whole command; startup alone "
                 f"(callmonitor --version) {statistics.median(start):.2f} s"),
    ]


def bench_export_tests(sizes, tmp, db_dir):
    from run import Row
    n = sizes.export_calls
    cmd = _command()
    out = os.path.join(tmp, "tests")
    os.makedirs(out)
    test_file = os.path.join(out, "test_small.py")
    writes = [_wall(cmd + ["export-tests", db_dir, "small", "--calls", f"1:{n}", "--to", test_file,
                           "--force"], tmp) for _ in range(sizes.repeats)]
    size = os.path.getsize(test_file)
    trivial = os.path.join(out, "test_trivial.py")
    with open(trivial, "w") as f:
        f.write("def test_nothing():\n    pass\n")
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, os.environ.get("PYTHONPATH", "")])}

    def pytest_wall(path):
        t = time.perf_counter()
        proc = subprocess.run(pytest + [path], cwd=out, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return time.perf_counter() - t, proc.stdout

    runs = [pytest_wall(test_file) for _ in range(sizes.repeats)]
    assert f"{n} passed" in runs[0][1], runs[0][1]
    base = statistics.median(pytest_wall(trivial)[0] for _ in range(sizes.repeats))
    return [
        Row(f"export-tests of {n} calls (command)", statistics.median(writes), "s"),
        Row(f"generated test file, {n} cases", size / 1024, "KiB",
            note=f"{size / n:.0f} bytes per case (literals)"),
        Row(f"pytest run of the {n} cases", statistics.median(r[0] for r in runs), "s", base,
            "pytest of one trivial test"),
    ]


def main(argv=None):
    sys.path.insert(0, BENCH_DIR)
    from run import environment, print_table, write_results
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    env = environment(args.quick)
    if env["cpu_busy_before"] > 0.25:
        print(f"warning: the CPUs were {env['cpu_busy_before']:.0%} busy with other work "
              f"just before this run: timings will be inflated and noisy")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-replay-") as tmp:
        db_dir = record(tmp, max(sizes.replay_calls, sizes.export_calls))
        rows = bench_replay(sizes, tmp, db_dir) + bench_export_tests(sizes, tmp, db_dir)
    env["seconds"] = round(time.perf_counter() - t0, 1)
    env["load_average_after"] = os.getloadavg()
    print_table(rows)
    write_results(RESULTS_PATH, env, sizes, rows)
    print(f"\n{env['seconds']} s; wrote {os.path.relpath(RESULTS_PATH)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
