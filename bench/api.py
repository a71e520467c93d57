"""Deriving the API of 1,000,000 recorded small calls: C++ (db.api) against a pure-Python aggregation.

    .venv/bin/python bench/api.py [--quick]

Uses the database of `f(1, "two", [3])` calls that bench/run.py builds and caches
(bench/.cache/). The C++ aggregation and a pure-Python one (read every call with
db.calls(), type each argument, count) run over the same database in this run; both
are reported, with the C++ time against the target (<= 2 s for 1,000,000 calls).
Writes bench/api-results.json. See bench/README.md.
"""
import argparse
import collections
import os
import statistics
import sys
import time

import callmonitor

import run as bench   # bench/run.py: the cached database, the result table

RESULTS_PATH = os.path.join(bench.BENCH_DIR, "api-results.json")
SAMPLE_ITEMS = 16


def python_type(value, depth=0):
    """The type expression of a value, the way a pure-Python tool would compute it."""
    name = type(value).__name__
    if depth >= 6 or not isinstance(value, (list, tuple, dict, set, frozenset)) or not value:
        return "None" if value is None else name
    if isinstance(value, dict):
        items = list(value.items())[:SAMPLE_ITEMS]
        keys = sorted({python_type(k, depth + 1) for k, _ in items})
        values = sorted({python_type(v, depth + 1) for _, v in items})
        return f"dict[{' | '.join(keys)}, {' | '.join(values)}]"
    items = list(value)[:SAMPLE_ITEMS]
    if isinstance(value, tuple) and len(value) <= 10:
        return f"tuple[{', '.join(python_type(v, depth + 1) for v in items)}]"
    return f"{name}[{' | '.join(sorted({python_type(v, depth + 1) for v in items}))}]"


def python_api(db):
    """Per function: types per parameter, returns, exceptions and timing per signature, in Python."""
    out = {}
    for f in db.functions:
        names = list(f.signature.parameters) if f.signature else []
        params = collections.defaultdict(collections.Counter)
        returns, exceptions = collections.Counter(), collections.Counter()
        durations = collections.defaultdict(list)
        for call in db.calls(f.full_name):
            key = []
            for i, a in enumerate(call.args):
                t = python_type(a)
                params[names[i] if i < len(names) else f"__arg{i}"][t] += 1
                key.append(t)
            for k, v in call.kwargs.items():
                t = python_type(v)
                params[k][t] += 1
                key.append(f"{k}={t}")
            if call.exception:
                exceptions[call.exception.type] += 1
            elif call.completed:
                returns[python_type(call.result)] += 1
            if call.duration_ns is not None:
                durations[tuple(key)].append(call.duration_ns)
        timing = {k: (len(v), statistics.fmean(v), statistics.median(v),
                      statistics.quantiles(v, n=20)[-1] if len(v) > 1 else v[0]) for k, v in durations.items()}
        out[f.full_name] = (params, returns, exceptions, timing)
    return out


def timed(fn, repeats):
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 calls instead of 1,000,000")
    args = parser.parse_args(argv)
    sizes = bench.QUICK if args.quick else bench.FULL
    db_dir = bench.small_call_db(sizes)
    with callmonitor.load(db_dir) as db:
        calls = len(db)
        cpp_s, model = timed(db.api, 5)
        py_s, py_model = timed(lambda: python_api(db), 1)
    f = next(iter(model))
    py_params = next(iter(py_model.values()))[0]
    # the two agree on what they counted
    assert f.calls == calls and dict(py_params["a"]) == f.parameter("a").types, (f, py_params)
    per_call = cpp_s / calls * 1e9
    target = 2.0 * calls / 1_000_000
    rows = [
        bench.Row(f"api: derive, C++ (db.api), {calls:,} calls", cpp_s, "s", py_s, "pure Python",
                  bench.Target("<=", target), note=f"median of 5; {per_call:.0f} ns per call"),
        bench.Row("api: derive, C++, per call", per_call, "ns", py_s / calls * 1e9, "pure Python"),
    ]
    bench.print_table(rows)
    print(f"\ntarget: <= 2 s per 1,000,000 calls (here {target:.2f} s for {calls:,}); "
          f"pure Python: {py_s:.2f} s, one run")
    bench.write_results(RESULTS_PATH, bench.environment(args.quick), sizes, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
