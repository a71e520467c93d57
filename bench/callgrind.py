"""Instructions per call of f(1, "two", [3]), counted by callgrind.

    .venv/bin/python bench/callgrind.py [--calls N1 N2] [--case NAME ...] [--keep DIR]

Each case runs twice under `valgrind --tool=callgrind --separate-threads=yes`, once
with N1 calls and once with N2; the instructions of a call are the difference of the
two runs' counts divided by N2 - N1, which removes interpreter start-up, imports,
opening the database and closing it. Thread 1 is the caller; every other thread is
counted as the writer (a numpy/BLAS pool is idle and cancels out in the difference).
Deterministic to about 1 % for the caller thread; the writer's count moves a little
more with how its batches fall. See bench/README.md.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

# name -> how f is made; every case runs the same loop, `for _ in r: f(1, "two", [3])`.
# "dropped": @intercept(every=10**9), so every call after the first is dropped by the capture policy.
CASES = ("plain", "passthrough", "intercept", "dropped")


def small(a, b, c):
    return None


def make(case):
    if case == "plain":
        return small
    if case == "passthrough":
        import functools

        def passthrough(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                return fn(*args, **kwargs)
            return wrapper
        return passthrough(small)
    import callmonitor
    if case == "dropped":
        return callmonitor.intercept(small, every=10**9)
    return callmonitor.intercept(small)


def child(case, calls, output):
    """The measured process: `calls` calls of f, recording into `output` for intercept."""
    if case in ("intercept", "dropped"):
        import callmonitor
        callmonitor.configure(output=output)
    f = make(case)
    f(1, "two", [3])           # opens the session, registers the function and the site
    r = range(calls)
    for _ in r:
        f(1, "two", [3])
    if case in ("intercept", "dropped"):
        callmonitor.close()


def thread_totals(prefix):
    """{thread number: instructions} of one callgrind run (files <prefix>-NN)."""
    out = {}
    for path in glob.glob(prefix + "-*"):
        m = re.search(r"-(\d+)$", path)
        if not m:
            continue
        with open(path) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    out[int(m.group(1))] = int(line.split()[1])
                    break
    return out


def package_with_core(core, workdir):
    """A copy of the callmonitor package whose _core is `core` (an unstripped build, for
    callgrind_annotate); returns the directory to put first on PYTHONPATH."""
    root = os.path.join(workdir, "package")
    shutil.copytree(os.path.join(REPO_DIR, "python", "callmonitor"), os.path.join(root, "callmonitor"),
                    ignore=shutil.ignore_patterns("_core*.so", "__pycache__"))
    shutil.copy(core, os.path.join(root, "callmonitor", os.path.basename(core)))
    return root


def measure(case, calls, workdir, python, pythonpath=None):
    prefix = os.path.join(workdir, f"{case}-{calls}.out")
    env = dict(os.environ, PYTHONHASHSEED="0")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes",
                    f"--callgrind-out-file={prefix}", python, os.path.abspath(__file__),
                    "--child", case, str(calls), os.path.join(workdir, f"db-{case}-{calls}")],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    totals = thread_totals(prefix)
    if 1 not in totals:
        raise SystemExit(f"callgrind wrote no output for {case} ({prefix}-*)")
    return totals[1], sum(v for k, v in totals.items() if k != 1)


def per_function(path):
    """{function: exclusive Ir} of one callgrind file, from callgrind_annotate."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", "--auto=no", path],
                         check=True, capture_output=True, text=True).stdout
    funcs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)$", line)
        if m and "PROGRAM TOTALS" not in m.group(2) and not m.group(2).startswith("=>"):
            name = re.sub(r"'\d+", "", m.group(2))   # recursion levels: one function
            funcs[name] = funcs.get(name, 0) + int(m.group(1).replace(",", ""))
    return funcs


def print_top(case, n1, n2, workdir, top):
    """The functions where a call's instructions go on the caller thread (difference method)."""
    f1 = per_function(os.path.join(workdir, f"{case}-{n1}.out-01"))
    f2 = per_function(os.path.join(workdir, f"{case}-{n2}.out-01"))
    diff = {k: (f2.get(k, 0) - f1.get(k, 0)) / (n2 - n1) for k in set(f1) | set(f2)}
    print(f"{case}, caller thread, exclusive Ir per call by function:")
    for name, ir in sorted(diff.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {ir:>7.1f}  {name[:150]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", nargs=2, type=int, default=[20_000, 120_000],
                        metavar=("N1", "N2"), help="calls in the two runs (default 20000 120000)")
    parser.add_argument("--case", action="append", choices=CASES,
                        help="measure only this case (repeatable; default all)")
    parser.add_argument("--keep", metavar="DIR",
                        help="write the callgrind files to DIR and keep them (for callgrind_annotate)")
    parser.add_argument("--core", metavar="SO",
                        help="load this build of callmonitor._core (e.g. an unstripped build/prof one)")
    parser.add_argument("--top", type=int, metavar="N",
                        help="also print the N functions with the most caller-thread Ir per call")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    n1, n2 = args.calls
    if n2 <= n1:
        raise SystemExit("--calls N1 N2 needs N2 > N1")
    python = os.path.join(REPO_DIR, ".venv", "bin", "python")
    if not os.path.exists(python):
        python = sys.executable
    workdir = args.keep or tempfile.mkdtemp(prefix="callmonitor-callgrind-")
    os.makedirs(workdir, exist_ok=True)
    rows = {}
    try:
        pythonpath = package_with_core(os.path.abspath(args.core), workdir) if args.core else None
        for case in args.case or CASES:
            c1, w1 = measure(case, n1, workdir, python, pythonpath)
            c2, w2 = measure(case, n2, workdir, python, pythonpath)
            rows[case] = ((c2 - c1) / (n2 - n1), (w2 - w1) / (n2 - n1))
            if args.top:
                print_top(case, n1, n2, workdir, args.top)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {"calls": [n1, n2], "ir_per_call": {}}
    for case, (caller, writer) in rows.items():
        result["ir_per_call"][case] = caller
        if case == "intercept":
            result["ir_per_call"]["intercept-caller-thread"] = result["ir_per_call"].pop(case)
            result["ir_per_call"]["intercept-writer-thread"] = writer
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f'instructions per call of f(1, "two", [3]) (callgrind, ({n2:,} - {n1:,} calls) '
          f'difference / {n2 - n1:,})')
    for name, ir in result["ir_per_call"].items():
        print(f"  {name:<26} {ir:>8,.0f} Ir")
    if args.keep:
        print(f"callgrind files in {workdir} (callgrind_annotate {workdir}/intercept-{n2}.out-01)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
