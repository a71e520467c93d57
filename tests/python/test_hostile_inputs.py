"""Hostile arguments to intercepted functions: the program behaves exactly as without
capture (same output, exit code and exceptions; no hang, no crash), and the call is
recorded, with a placeholder where the value cannot be kept.

Each program runs twice in a fresh interpreter, with `intercept` a no-op ("plain") and
with callmonitor's ("captured"), under a timeout; the two runs must print the same.
"""
import pytest

import callmonitor
from _support import describe

PROLOGUE = '''
import sys
import callmonitor
intercept = callmonitor.intercept if sys.argv[1] == "captured" else (lambda f: f)
'''

# The same program for every case: `body` defines `hostile()` returning the argument(s) and
# may print; f is called with them, its result and any exception printed.
TEMPLATE = PROLOGUE + '''
@intercept
def f(*args, **kwargs):
    print("inside f", len(args), sorted(kwargs))
    return len(args)

{body}

args, kwargs = hostile()
try:
    print("returned", f(*args, **kwargs))
except Exception as e:
    print("raised", type(e).__name__)
after()
captured = sys.argv[1] == "captured"
print("stats", (callmonitor.flush() and callmonitor.stats()["capture_errors"]) if captured else 0)
'''

CASES = {
    "repr_raises": '''
class Hostile:
    def __repr__(self): raise RuntimeError("repr")
    def __reduce__(self): raise RuntimeError("reduce")
def hostile(): return [Hostile()], {"k": Hostile()}
def after(): pass
''',
    "repr_and_reduce_recurse_forever": '''
class Hostile:
    def __repr__(self): return repr(self)
    def __reduce__(self): return self.__reduce__()
def hostile(): return [Hostile(), [Hostile()]], {}
def after(): pass
''',
    "eq_and_hash_raise": '''
class Hostile:
    def __eq__(self, other): raise RuntimeError("eq")
    def __hash__(self): raise RuntimeError("hash")
class Meta(type):
    def __eq__(cls, other): raise RuntimeError("meta eq")
    def __hash__(cls): raise RuntimeError("meta hash")
class ByMeta(metaclass=Meta):
    pass
def hostile(): return [Hostile(), ByMeta(), {1: Hostile()}], {"x": (Hostile(), ByMeta())}
def after(): pass
''',
    "reduce_raises_or_returns_garbage": '''
class Raises:
    def __reduce__(self): raise ValueError("no")
class Garbage:
    def __reduce__(self): return 42
class ReduceEx:
    def __reduce_ex__(self, protocol): raise KeyboardInterrupt
def hostile(): return [Raises(), Garbage()], {"r": ReduceEx()}
def after(): pass
''',
    "getattr_raises_or_recurses": '''
class Raises:
    def __getattr__(self, name): raise RuntimeError("getattr " + name)
class Recurses:
    def __getattr__(self, name): return self.missing
class AnswersEverything:
    def __getattr__(self, name): return lambda *a, **k: 42
def hostile(): return [Raises(), Recurses(), AnswersEverything()], {}
def after(): pass
''',
    "exception_whose_str_raises": '''
class Nasty(Exception):
    def __str__(self): raise RuntimeError("str")
    def __repr__(self): raise RuntimeError("repr")
@intercept
def g():
    raise Nasty()
def hostile(): return [1], {}
def after():
    try:
        g()
    except Nasty:
        print("caught Nasty")
''',
    "generator_and_iterators_not_consumed": '''
import itertools
def gen():
    print("generator started")
    yield 1
    yield 2
state = {}
def hostile():
    state.update(g=gen(), it=iter([1, 2, 3]), c=itertools.count(5), m=map(str, [7, 8]))
    return [state["g"], state["it"]], {"c": state["c"], "m": state["m"]}
def after():
    print(list(state["g"]), next(state["it"]), next(state["c"]), next(state["m"]))
''',
    "deep_nesting_10000": '''
def nest(make, depth):
    v = 0
    for _ in range(depth):
        v = make(v)
    return v
def hostile():
    return [nest(lambda v: [v], 10000), nest(lambda v: (v,), 10000)], {"d": nest(lambda v: {"k": v}, 10000)}
def after(): pass
''',
    "dict_and_list_mutated_by_another_thread": '''
import threading, time
class Yields:
    """Pickling it now and then releases the GIL, so the mutating thread runs mid-capture
    (each release costs a GIL switch interval: kept rare)."""
    pickled = 0
    def __reduce__(self):
        Yields.pickled += 1
        if Yields.pickled % 8 == 0:
            time.sleep(0)
        return (Yields, ())
shared = {i: Yields() for i in range(50)}
items = [Yields() for _ in range(50)]
stop = threading.Event()
def mutate():
    i = 0
    while not stop.is_set():
        i += 1
        shared[1000 + i % 100] = Yields()
        shared.pop(1000 + (i + 50) % 100, None)
        items.append(Yields())
        if len(items) > 100:
            del items[:50]
t = threading.Thread(target=mutate)
@intercept
def h(d, l):
    return None
def hostile():
    t.start()
    for _ in range(40):
        h(shared, items)
    return [1], {}
def after():
    stop.set()
    t.join()
    print("mutator done")
''',
}


def _run(run_recorder, tmp_path, code, mode, timeout=120):
    where = tmp_path / mode
    where.mkdir(exist_ok=True)
    return run_recorder(code, where, args=[mode], timeout=timeout)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_argument_program_behaves_as_without_capture(tmp_path, run_recorder, case):
    # GIVEN a hostile argument, WHEN an intercepted function is called with it, THEN the
    # program prints and exits exactly as without capture, and the call is recorded.
    code = TEMPLATE.replace("{body}", CASES[case])
    plain = _run(run_recorder, tmp_path, code, "plain")
    captured = _run(run_recorder, tmp_path, code, "captured")
    assert plain.returncode == 0, describe(plain)
    assert captured.returncode == plain.returncode, describe(captured)
    assert captured.stdout.splitlines()[:-1] == plain.stdout.splitlines()[:-1], describe(captured)
    assert captured.stderr == plain.stderr, describe(captured)
    assert captured.stdout.splitlines()[-1] == "stats 0", "capture errors: " + describe(captured)
    with callmonitor.load(tmp_path / "captured" / "call-monitor") as db:
        call = db.call("f", 1)
        assert call.completed and call.result == len(call.args)
        if case == "deep_nesting_10000":
            _check_depth(call.args[0], list, 10000)
            _check_depth(call.args[1], tuple, 10000)
            _check_depth(call.kwargs["d"], dict, 10000)
        if case == "generator_and_iterators_not_consumed":
            assert isinstance(call.args[0], callmonitor.Unrestorable)
            assert call.args[0].type_name == "generator"
        if case == "exception_whose_str_raises":
            assert db.call("g", 1).exception.type == "__main__.Nasty"
        if case == "dict_and_list_mutated_by_another_thread":
            assert db.functions and len(list(db.calls("h"))) == 40
            for c in db.calls("h"):
                d, l = c.args
                assert isinstance(d, dict) and 50 <= len(d) <= 150, len(d)
                assert isinstance(l, list) and 50 <= len(l) <= 150, len(l)


def _check_depth(value, kind, depth):
    """Walks `value` iteratively (== or repr would hit the recursion limit)."""
    for level in range(depth):
        assert type(value) is kind, f"level {level}: {type(value).__name__}"
        value = value["k"] if kind is dict else value[0]
    assert value == 0


ONE_GB = PROLOGUE + '''
import resource
@intercept
def f(b):
    return len(b)

b = b"\\x5a" * (1 << 30)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("returned", f(b))
print(callmonitor.flush() if sys.argv[1] == "captured" else True)
del b
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("peak MiB", peak >> 10, "before", before >> 10, file=sys.stderr)
'''


@pytest.mark.big_memory
def test_one_gib_bytes_argument_is_recorded_within_a_small_multiple_of_its_size(tmp_path, run_recorder):
    # GIVEN a 1 GiB bytes object, WHEN passed to an intercepted function, THEN the program
    # runs as without capture, the bytes are recorded whole, and the process's peak memory
    # stays within 3 more copies of the object.
    plain = _run(run_recorder, tmp_path, ONE_GB, "plain")
    captured = _run(run_recorder, tmp_path, ONE_GB, "captured", timeout=180)
    assert plain.returncode == 0 and captured.returncode == 0, describe(captured)
    assert captured.stdout == plain.stdout == f"returned {1 << 30}\nTrue\n", describe(captured)
    peak, before = int(captured.stderr.split()[2]), int(captured.stderr.split()[4])
    print(f"1 GiB bytes: peak RSS {peak} MiB (the object alone: {before} MiB)")
    assert peak - before <= 3 * 1024 + 256, describe(captured)
    with callmonitor.load(tmp_path / "captured" / "call-monitor") as db:
        (b,), _ = db.get("f", 1)
        assert type(b) is bytes and len(b) == 1 << 30
        assert b[:1] == b[-1:] == b"\x5a" and b.count(b"\x5a") == 1 << 30
