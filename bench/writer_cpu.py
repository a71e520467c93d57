"""CPU per recorded call, by thread: the caller's and the writer thread's (kernel time included).

    .venv/bin/python bench/writer_cpu.py [--repeats R] [--calls N] [--json]

Records R x N calls of f(1, "two", [3]) with @intercept, flush() after each N (as
bench/run.py's "process CPU per call" row does), and reads every thread's CPU time
from /proc/self/task/*/schedstat (user + system, nanoseconds) before and after.
Prints ns per call for the caller (main) thread, the other threads (the writer),
the whole process and the load average, so runs on a busy machine can be told
apart; see bench/README.md ("The writer thread's time").
"""
import argparse
import glob
import json
import os
import shutil
import sys
import tempfile
import time


def small(a, b, c):
    return None


def thread_cpu_ns():
    """{thread id: CPU nanoseconds so far} for every thread of this process."""
    out = {}
    for task in glob.glob("/proc/self/task/*"):
        try:
            with open(os.path.join(task, "schedstat")) as f:
                out[int(os.path.basename(task))] = int(f.read().split()[0])
        except OSError:
            pass  # the thread ended meanwhile
    return out


def measure(repeats, calls):
    import callmonitor
    out = tempfile.mkdtemp(prefix="writer-cpu-")
    try:
        callmonitor.configure(output=out)
        f = callmonitor.intercept(small)
        f(1, "two", [3])  # opens the session and starts the writer thread
        callmonitor.flush()
        before, p0 = thread_cpu_ns(), time.process_time()
        for _ in range(repeats):
            for _ in range(calls):
                f(1, "two", [3])
            callmonitor.flush()
        after, p1 = thread_cpu_ns(), time.process_time()
        callmonitor.close()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    n = repeats * calls
    main = os.getpid()
    caller = (after.get(main, 0) - before.get(main, 0)) / n
    others = sum(ns - before.get(tid, 0) for tid, ns in after.items() if tid != main) / n
    return {"calls": n, "caller_ns_per_call": round(caller, 1), "writer_ns_per_call": round(others, 1),
            "process_ns_per_call": round((p1 - p0) * 1e9 / n, 1), "load_average": round(os.getloadavg()[0], 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="flush() this many times (default 20)")
    parser.add_argument("--calls", type=int, default=100_000, help="calls between flushes (default 100000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.calls < 1:
        parser.error("--repeats and --calls must be at least 1")
    r = measure(args.repeats, args.calls)
    if args.json:
        print(json.dumps(r))
    else:
        print(f"{r['calls']} calls: caller thread {r['caller_ns_per_call']} ns/call, "
              f"writer thread(s) {r['writer_ns_per_call']} ns/call, "
              f"process {r['process_ns_per_call']} ns/call (load average {r['load_average']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
