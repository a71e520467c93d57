"""Recording with many writers: calls per second with 1, 2, 4 MPI ranks and 1, 4, 8 threads.

    .venv/bin/python bench/writers.py [--quick]

Each rank (under mpirun) or thread calls f(i, "x", [i]) in a loop, recorded by
@intercept; the baseline is the same loop in the same processes calling the
undecorated f, measured in alternation with it. Prints a table and writes
bench/results-writers.json; see bench/README.md ("Many writers").
"""
import argparse
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS_PATH = os.path.join(BENCH_DIR, "results-writers.json")
RANK_COUNTS = (1, 2, 4)
THREAD_COUNTS = (1, 4, 8)


@dataclasses.dataclass(frozen=True)
class Sizes:
    calls: int       # calls of f per rank or thread, per repetition
    repeats: int     # repetitions of (baseline loop, recorded loop); medians over these


FULL = Sizes(calls=200_000, repeats=5)
QUICK = Sizes(calls=10_000, repeats=2)


# --- what each rank / thread runs (in the measured processes) ----------------------------

def f(i, s, items):
    return None


def _loop(fn, calls):
    for i in range(calls):
        fn(i, "x", [i])


def _recorders(output):
    """(baseline f, recorded f, commit) for a measured process recording under `output`."""
    import callmonitor
    callmonitor.configure(output=output)
    recorded = callmonitor.intercept(f)
    recorded(-1, "x", [-1])          # opens the session: not part of any timing
    assert callmonitor.flush() is True
    return f, recorded, callmonitor.flush


def worker_mpi(output, calls, repeats):
    """One rank. Rank 0 returns the wall seconds of each repetition, from a
    barrier before the loops to a barrier after the last rank's loop (and,
    for the recorded loop, its flush: every call committed)."""
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    plain, recorded, commit = _recorders(output)
    seconds = {"baseline": [], "capture": []}
    for _ in range(repeats):
        for kind, fn in (("baseline", plain), ("capture", recorded)):
            comm.Barrier()
            t0 = MPI.Wtime()
            _loop(fn, calls)
            if kind == "capture":
                assert commit() is True
            comm.Barrier()
            seconds[kind].append(MPI.Wtime() - t0)
    return seconds if comm.Get_rank() == 0 else None


def worker_threads(output, calls, repeats):
    """One process: for each thread count, threads released together by a
    barrier; wall seconds until all joined (and, recorded, flushed)."""
    plain, recorded, commit = _recorders(output)
    result = {}
    for n in THREAD_COUNTS:
        seconds = {"baseline": [], "capture": []}
        for _ in range(repeats):
            for kind, fn in (("baseline", plain), ("capture", recorded)):
                start = threading.Barrier(n + 1)

                def body(fn=fn, start=start):
                    start.wait()
                    _loop(fn, calls)
                threads = [threading.Thread(target=body) for _ in range(n)]
                for t in threads:
                    t.start()
                start.wait()
                t0 = time.perf_counter()
                for t in threads:
                    t.join()
                if kind == "capture":
                    assert commit() is True
                seconds[kind].append(time.perf_counter() - t0)
        result[str(n)] = seconds
    return result


WORKERS = {"mpi": worker_mpi, "threads": worker_threads}


# --- the driver ------------------------------------------------------------------------------

def _child_env():
    """This environment without callmonitor's own variables: the measured
    processes start runs of their own, not as children of this one."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CALLMONITOR_")}


def _run_worker(prefix, name, **kwargs):
    argv = [*prefix, sys.executable, os.path.abspath(__file__), "--worker", name,
            json.dumps(kwargs)]
    out = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True,
                         env=_child_env(), timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mpirun(ranks):
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        sys.exit("bench/writers.py: mpirun not found (tools/setup.sh installs openmpi-bin)")
    # --bind-to none: by default OpenMPI pins each of 1-2 ranks to one core,
    # which would also pin the rank's writer thread there.
    cmd = [mpirun, "-n", str(ranks), "--oversubscribe", "--bind-to", "none"]
    return cmd + (["--allow-run-as-root"] if os.geteuid() == 0 else [])


def _recorded_calls(run_dir):
    import callmonitor
    with callmonitor.load(run_dir) as db:
        return len(db), len(db.writers)


def _row(name, processes, calls, seconds, note):
    from run import Row
    total = processes * calls
    rate = {k: total / statistics.median(v) for k, v in seconds.items()}
    return Row(name, rate["capture"], "calls/s", rate["baseline"], "no capture",
               note=note.format(ns=1e9 / rate["capture"], total=total))


def bench_mpi(sizes, tmp):
    rows = []
    for ranks in RANK_COUNTS:
        output = os.path.join(tmp, f"mpi-{ranks}", "call-monitor")
        seconds = _run_worker(_mpirun(ranks), "mpi", output=output, calls=sizes.calls,
                              repeats=sizes.repeats)
        calls, writers = _recorded_calls(output)
        expected = ranks * (1 + sizes.calls * sizes.repeats)
        assert (calls, writers) == (expected, ranks), (calls, writers, expected)
        rows.append(_row(f"{ranks} MPI rank(s), aggregate", ranks, sizes.calls, seconds,
                         "{total:,} calls per repetition; {ns:.0f} ns per recorded call, "
                         "all ranks together"))
        shutil.rmtree(os.path.dirname(output))
    return rows


def bench_threads(sizes, tmp):
    output = os.path.join(tmp, "threads", "call-monitor")
    result = _run_worker([], "threads", output=output, calls=sizes.calls, repeats=sizes.repeats)
    calls, _ = _recorded_calls(output)
    expected = 1 + sum(THREAD_COUNTS) * sizes.calls * sizes.repeats
    assert calls == expected, (calls, expected)
    return [_row(f"{n} thread(s), one process", n, sizes.calls, result[str(n)],
                 "{total:,} calls per repetition; {ns:.0f} ns per recorded call")
            for n in THREAD_COUNTS]


def _cpu_seconds():
    """(busy CPU seconds of the whole machine, CPU seconds of this process and
    its finished children) so far."""
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    ours = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return busy, sum(r.ru_utime + r.ru_stime for r in ours)


def other_work(before, after, wall):
    """Fraction of all CPUs' time that went to other work than the measured
    processes while they ran (load from other engineers' jobs)."""
    busy, ours = after[0] - before[0], after[1] - before[1]
    return round(max(busy - ours, 0.0) / (wall * os.cpu_count()), 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, kwargs = args.worker
        result = WORKERS[name](**json.loads(kwargs))
        if result is not None:
            print(json.dumps(result))
        return 0

    from run import environment, print_table, write_results
    sizes = QUICK if args.quick else FULL
    env = environment(args.quick)
    print(f"callmonitor {env['callmonitor']} ({env['git_commit']}"
          f"{'+dirty' if env['git_dirty'] else ''}), Python {env['python']}, {env['cpus']} CPUs, "
          f"load average {env['load_average'][0]:.2f}{', --quick' if args.quick else ''}")
    if env["cpu_busy_before"] > 0.25:
        print(f"warning: the CPUs were {env['cpu_busy_before']:.0%} busy with other work "
              f"just before this run: timings will be inflated and noisy")
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-writers-") as tmp:
        rows = bench_mpi(sizes, tmp) + bench_threads(sizes, tmp)
    env["seconds"] = round(time.perf_counter() - t0, 1)
    env["cpu_other_work_during"] = other_work(cpu0, _cpu_seconds(), env["seconds"])
    env["load_average_after"] = os.getloadavg()
    print()
    print_table(rows)
    write_results(RESULTS_PATH, env, sizes, rows)
    print(f"\n{env['seconds']} s; {env['cpu_other_work_during']:.0%} of the CPUs' time went to "
          f"other work meanwhile; load average after {env['load_average_after'][0]:.2f}; "
          f"wrote {os.path.relpath(RESULTS_PATH)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
