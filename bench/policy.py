"""Cost of capture policies, against the functools.wraps pass-through measured in the same run.

    .venv/bin/python bench/policy.py [--quick] [--json]

Rows (medians of interleaved repetitions; see bench/README.md, "Capture policies"):
  dropped call        @intercept(every=10**9): every call but the first is dropped by the policy
  kept call           @intercept with no policy (recorded), for reference
  max_bytes summary   an intercepted take(arr) of a 100 MB float64 array with max_bytes=1 MB:
                      the array is stored as a summary (hash, min/max/mean, head/tail);
                      against the pass-through and against arr.copy() (what recording the
                      array in full costs the caller at least)
  nested summaries    take_list([10 arrays of 10 MB]) with max_bytes=1 MB: max_bytes= is per
                      value node, so the list is stored with ten summaries in it
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import timeit


from run import passthrough, small, take  # bench/run.py: the same baseline and functions


def take_list(items):  # a list of arrays: each one summarized by max_bytes=
    return None


def small_kept(a, b, c):  # its own function: a policy is per function
    return None


def per_call(stmt_fns, calls, repeats):
    """{name: median ns per call of fn(1, "two", [3]) minus the empty loop}, interleaved."""
    loops = {name: timeit.Timer("for _ in r: f(1, 'two', [3])", globals={"f": fn, "r": range(calls)})
             for name, fn in stmt_fns.items()}
    empty = timeit.Timer("for _ in r: pass", globals={"r": range(calls)})
    samples = {name: [] for name in loops}
    base = []
    import callmonitor
    for _ in range(repeats):
        base.append(empty.timeit(1) / calls * 1e9)
        for name, t in loops.items():
            samples[name].append(t.timeit(1) / calls * 1e9)
            callmonitor.flush()
    e = statistics.median(base)
    return {name: statistics.median(s) - e for name, s in samples.items()}


def once_each(fns, arg, repeats):
    """{name: median seconds of one call fn(arg)}, interleaved."""
    import callmonitor
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(arg)
            samples[name].append(time.perf_counter() - t0)
            callmonitor.flush()
    return {name: statistics.median(s) for name, s in samples.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer calls and a 10 MB array (smoke run)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = p.parse_args(argv)
    import numpy as np
    import callmonitor
    calls, repeats = (20_000, 5) if args.quick else (200_000, 15)
    nbytes = (10 if args.quick else 100) * 10**6
    with tempfile.TemporaryDirectory(prefix="callmonitor-bench-policy-") as tmp:
        callmonitor.configure(output=os.path.join(tmp, "call-monitor"))
        dropped = callmonitor.intercept(small, every=10**9)
        kept = callmonitor.intercept(small_kept)
        fns = {"plain": small, "pass-through": passthrough(small), "dropped call": dropped, "kept call": kept}
        for f in fns.values():
            f(1, "two", [3])  # opens the session, registers the function (and keeps call 1)
        ns = per_call(fns, calls, repeats)

        arr = np.random.default_rng(0).random(nbytes // 8)
        summarized = callmonitor.intercept(take, max_bytes=10**6)
        big = {"pass-through": passthrough(take), "max_bytes summary": summarized,
               "arr.copy()": lambda a: a.copy()}
        sec = once_each(big, arr, 3 if args.quick else 7)
        # max_bytes= per value node: a list of 10 arrays of nbytes / 10 each, every one a summary.
        parts = [np.random.default_rng(k).random(nbytes // 80) for k in range(10)]
        nested = {"pass-through": passthrough(take_list),
                  "nested summaries": callmonitor.intercept(take_list, max_bytes=10**6),
                  "copies": lambda items: [a.copy() for a in items]}
        nested_sec = once_each(nested, parts, 3 if args.quick else 7)
        callmonitor.close()
        db = callmonitor.load(os.path.join(tmp, "call-monitor"))
        s = db.get("take", 1)[0][0]
        assert isinstance(s, callmonitor.ValueSummary), s
        items = db.get("take_list", 1)[0][0]
        assert isinstance(items, list) and all(isinstance(v, callmonitor.ValueSummary) for v in items), items

    base = ns["pass-through"]
    rows = [
        {"row": "call: plain", "ns": ns["plain"], "ratio_to_passthrough": ns["plain"] / base},
        {"row": "call: functools.wraps pass-through", "ns": base, "ratio_to_passthrough": 1.0},
        {"row": "call: dropped by every=", "ns": ns["dropped call"], "ratio_to_passthrough": ns["dropped call"] / base,
         "target": "<= 1.0"},
        {"row": "call: kept (recorded, no policy)", "ns": ns["kept call"],
         "ratio_to_passthrough": ns["kept call"] / base},
        {"row": f"max_bytes summary of a {nbytes // 10**6} MB float64 array", "ms": sec["max_bytes summary"] * 1e3,
         "ratio_to_passthrough": sec["max_bytes summary"] / sec["pass-through"],
         "ratio_to_copy": sec["max_bytes summary"] / sec["arr.copy()"],
         "GB_per_s": nbytes / sec["max_bytes summary"] / 1e9},
        {"row": f"arr.copy() of the same array", "ms": sec["arr.copy()"] * 1e3},
        {"row": f"max_bytes summaries of a list of 10 x {nbytes // 10**7} MB arrays",
         "ms": nested_sec["nested summaries"] * 1e3,
         "ratio_to_passthrough": nested_sec["nested summaries"] / nested_sec["pass-through"],
         "ratio_to_copy": nested_sec["nested summaries"] / nested_sec["copies"],
         "GB_per_s": nbytes / nested_sec["nested summaries"] / 1e9},
    ]
    if args.json:
        print(json.dumps({"calls": calls, "repeats": repeats, "array_bytes": nbytes, "rows": rows}, indent=2))
        return 0
    for r in rows:
        value = f"{r['ns']:8.1f} ns" if "ns" in r else f"{r['ms']:8.2f} ms"
        extra = "".join(f"  {k}={v:.2f}" for k, v in r.items() if k.startswith(("ratio", "GB")))
        target = f"  target {r['target']}: {'PASS' if r['ratio_to_passthrough'] <= 1.0 else 'FAIL'}" \
            if "target" in r else ""
        print(f"{r['row']:<44} {value}{extra}{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
