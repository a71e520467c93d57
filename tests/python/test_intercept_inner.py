"""@intercept(inner=True): the calls a recorded call makes, stored with its
outcome (db.call(f, n).inner), per call site over all calls (db.profile,
``callmonitor profile``), and printed by ``callmonitor show``."""
import inspect
import json
import math
import time
import warnings

import pytest

import callmonitor
from callmonitor import intercept
from callmonitor.cli.main import main as cli
from callmonitor.inner import InnerCallsWarning


def slow(x):
    time.sleep(0.002)
    return x


def fast(x):
    return x + 1


def fails(x):
    raise ValueError(f"bad {x}")


@intercept(inner=True)
def work(n, scale=1.0):
    """Doc of work."""
    total = 0
    for i in range(n):
        total += fast(i)
    return slow(total) * scale


@intercept(inner=True)
def broken(x):
    fast(x)
    return fails(x)


@intercept(inner=True)
def countdown(n):
    if n == 0:
        return fast(0)
    return countdown(n - 1)


@intercept(inner=True)
def outer(x):
    return work(x) + fast(x)


class Base:
    def run(self, x):
        return x * 2


class Child(Base):
    @intercept(inner=True)
    def run(self, x):
        y = super().run(x)
        return fast(y)


def _callees(call):
    return [c.callee for c in call.inner]


def test_inner_calls_are_stored_with_each_call(recorder):
    assert work(3) == 6.0  # fast(0) + fast(1) + fast(2)
    assert work(3) == 6.0
    db = recorder.load()
    first = db.call("work", 1)
    assert _callees(first) == ["range", "fast", "fast", "fast", "slow"]
    assert [c.name for c in first.inner][1:] == ["fast", "fast", "fast", "slow"]
    lines = {c.callee: c.line for c in first.inner}
    src, start = inspect.getsourcelines(work.__wrapped__)
    assert lines["slow"] == start + src.index("    return slow(total) * scale\n")
    slow_call = first.inner[-1]
    assert slow_call.duration >= 0.002 and not slow_call.raised
    assert slow_call.start + slow_call.duration <= first.duration
    # the starts are in call order, inside the call
    starts = [c.start for c in first.inner]
    assert starts == sorted(starts) and starts[0] >= 0
    assert db.call("work", 2).inner.made == 5
    # the function record keeps its sites, with the names resolved at their first call
    info = db.call("work", 1).function
    assert [s.callee for s in info.inner_sites] == ["range", "fast", "slow"]
    assert [s.name for s in info.inner_sites] == ["range", "fast", "slow"]


def test_signature_and_metadata_are_unchanged():
    assert str(inspect.signature(work)) == "(n, scale=1.0)"
    assert work.__doc__ == "Doc of work."
    assert work.__name__ == "work"


def test_a_raised_call_keeps_its_inner_calls(recorder):
    with pytest.raises(ValueError, match="bad 4"):
        broken(4)
    call = recorder.load().call("broken", 1)
    assert call.exception.type == "ValueError"
    assert _callees(call) == ["fast", "fails"]
    assert [c.raised for c in call.inner] == [False, True]


def test_recursion_and_nesting_keep_each_invocation_apart(recorder):
    assert countdown(2) == 1
    assert outer(2) == 6.0  # work(2) + fast(2) = 3.0 + 3
    db = recorder.load()
    # countdown(2) -> countdown(1) -> countdown(0): invocations 1, 2, 3
    assert _callees(db.call("countdown", 1)) == ["countdown"]
    assert _callees(db.call("countdown", 2)) == ["countdown"]
    assert _callees(db.call("countdown", 3)) == ["fast"]
    # outer's record holds its own calls; work's (nested, inner=True too) its own
    assert _callees(db.call("outer", 1)) == ["work", "fast"]
    assert _callees(db.call("work", 1)) == ["range", "fast", "fast", "slow"]


def test_methods_with_zero_argument_super(recorder):
    assert Child().run(5) == 11
    call = recorder.load().call("Child.run", 1)
    assert _callees(call) == ["super().run", "fast"]


def test_a_function_without_source_is_recorded_without_inner_calls(recorder):
    namespace = {}
    exec("def made(x):\n    return abs(x)\n", namespace)
    with pytest.warns(InnerCallsWarning, match="runs unwrapped"):
        made = intercept(namespace["made"], inner=True)
    assert made(-3) == 3
    call = recorder.load().call("made", 1)
    assert list(call.args) == [-3] and call.result == 3
    assert call.inner is None


def test_calls_without_inner_have_none(recorder):
    intercept(fast)(1)
    assert recorder.load().call("fast", 1).inner is None


def _nearest_rank(values, q):
    values = sorted(values)
    return values[max(0, math.ceil(q * len(values)) - 1)]


def test_profile_aggregates_per_site_over_all_calls(recorder):
    for n in (1, 2, 3, 4):
        work(n)
    db = recorder.load()
    prof = db.profile("work")
    assert prof.calls == 4 and prof.profiled == 4 and prof.without_inner_calls == 0
    by = {s.site.callee: s for s in prof.sites}
    assert by["fast"].count == 1 + 2 + 3 + 4 and by["slow"].count == 4 and by["range"].count == 4
    assert by["slow"].invocations == 4 and by["fast"].invocations == 4
    assert prof.sites[0].site.callee == "slow"  # longest total first
    slow_durations = [c.duration for n in range(1, 5) for c in db.call("work", n).inner if c.callee == "slow"]
    assert by["slow"].total == pytest.approx(sum(slow_durations), rel=1e-6)
    assert by["slow"].p50 == pytest.approx(_nearest_rank(slow_durations, 0.5), rel=1e-6)
    assert by["slow"].p95 == pytest.approx(_nearest_rank(slow_durations, 0.95), rel=1e-6)
    assert by["slow"].max == pytest.approx(max(slow_durations), rel=1e-6)
    assert by["slow"].mean == pytest.approx(sum(slow_durations) / 4, rel=1e-6)


def test_cli_show_prints_the_inner_calls(recorder, capsys):
    work(2)
    recorder.load()
    assert cli(["show", str(recorder.run_dir), "work", "1"]) == 0
    out = capsys.readouterr().out
    assert "inner calls: 4" in out
    assert "slow" in out and "fast" in out
    assert cli(["show", str(recorder.run_dir), "work", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["callee"] for c in doc["inner_calls"]] == ["range", "fast", "fast", "slow"]


def test_cli_profile_table_and_json(recorder, capsys):
    work(2)
    work(3)
    fast_i = intercept(fast)
    fast_i(1)
    recorder.load()
    assert cli(["profile", str(recorder.run_dir), "work"]) == 0
    out = capsys.readouterr().out
    assert "inner calls of 2 recorded calls" in out
    assert "p95" in out and "slow" in out
    assert cli(["profile", str(recorder.run_dir), "work", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["profiled"] == 2
    assert {r["callee"]: r["count"] for r in doc["sites"]} == {"range": 2, "fast": 5, "slow": 2}
    # a function recorded without inner=True: says so
    assert cli(["profile", str(recorder.run_dir), "fast"]) == 0
    assert "none of its 1 recorded calls has inner calls" in capsys.readouterr().out
    # an unknown name: an error, exit 1
    assert cli(["profile", str(recorder.run_dir), "nope"]) == 1
    assert "nope" in capsys.readouterr().err


def test_profile_help():
    with pytest.raises(SystemExit) as e:
        cli(["profile", "--help"])
    assert e.value.code == 0


# ---- flat_profile with a database ----------------------------------------------

FLAT_PROFILE_PROGRAM = """
    import logging, os, time
    import callmonitor
    from callmonitor import flat_profile

    def pause(s):
        time.sleep(s)

    @flat_profile(time_limit=0.05, below_callback=None, above_callback=None)
    def step(s):
        pause(s)
        return s

    if os.environ.get("CHOOSE_OUTPUT"):
        callmonitor.configure(output="chosen")   # after decoration, before the calls: still counts
    step(0.0)
    step(0.08)
    callmonitor.flush()
    print(sorted(os.listdir(".")))
"""


@pytest.mark.integration
def test_flat_profile_records_only_when_an_output_is_chosen(run_recorder, tmp_path):
    from _support import check
    # no output chosen: nothing recorded, no ./call-monitor made
    (tmp_path / "a").mkdir()
    out = check(run_recorder(FLAT_PROFILE_PROGRAM, tmp_path / "a")).stdout
    assert "call-monitor" not in out and "chosen" not in out
    # configure(output=...) at run time: the calls are recorded with their inner calls
    (tmp_path / "b").mkdir()
    out = check(run_recorder(FLAT_PROFILE_PROGRAM, tmp_path / "b", env={"CHOOSE_OUTPUT": "1"})).stdout
    assert "'chosen'" in out
    db = callmonitor.load(tmp_path / "b" / "chosen")
    slow = list(db.calls("step"))  # the call below the limit was dropped, the slow one kept in full
    assert len(slow) == 1 and list(slow[0].args) == [0.08] and slow[0].result == 0.08
    assert slow[0].invocation == 2
    with pytest.raises(callmonitor.CallNotRecordedError, match="slower_than=0.05"):
        db.get("step", 1)
    assert [c.callee for c in slow[0].inner] == ["pause"] and slow[0].inner[0].duration >= 0.08
    db.close()


def test_flat_profile_record_false_records_nothing_and_true_records(recorder):
    from callmonitor import flat_profile

    def body(x):
        return fast(x)

    never = flat_profile(time_limit=0, below_callback=None, above_callback=None, record=False)(body)
    always = flat_profile(time_limit=0, below_callback=None, above_callback=None, record=True)(
        lambda_free_copy(body))
    assert never(1) == 2 and always(2) == 3
    db = recorder.load()
    assert [f.qualname.rsplit(".", 1)[-1] for f in db.functions] == ["body"]
    assert _callees(db.call("body", 1)) == ["fast"]
    assert db.call("body", 1).args[0] == 2
    with pytest.raises(TypeError, match="record must be True, False or None"):
        flat_profile(time_limit=1, record="yes")


def lambda_free_copy(func):
    """A second function with the same source (flat_profile rewrites a function once)."""
    import types
    return types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)


# ---- inner_args: inner calls recorded as calls of their own --------------------

class Grid:
    def __init__(self, n):
        self.n = n

    def scaled(self, k):
        return self.n * k


@intercept(inner=True, inner_args=True)
def solve(g, k):
    a = fast(k)
    b = g.scaled(a)
    return slow(b) + countdown(0)   # countdown is intercepted itself (inner=True)


def test_inner_args_records_each_inner_call_with_its_arguments_as_a_child(recorder):
    g = Grid(3)
    assert solve(g, 1) == 3 * 2 + 1
    assert solve(g, 2) == 3 * 3 + 1
    db = recorder.load()
    outer1 = db.call("solve", 1)
    assert _callees(outer1) == ["fast", "g.scaled", "slow", "countdown"]
    kids = db.children(outer1)
    assert [(c.function.qualname, list(c.args), c.result) for c in kids] == [
        ("fast", [1], 2), ("Grid.scaled", [2], 6), ("slow", [6], 6), ("countdown", [0], 1)]
    assert all(c.parent.function.qualname == "solve" and c.parent.invocation == 1 for c in kids)
    # the second outer call's children are its own; invocation numbers run on per function
    kids2 = db.children(db.call("solve", 2))
    assert [(c.function.qualname, c.invocation, list(c.args)) for c in kids2] == [
        ("fast", 2, [2]), ("Grid.scaled", 2, [3]), ("slow", 2, [9]), ("countdown", 2, [0])]
    # countdown records itself (inner=True, no inner_args): its inner calls, none as children
    assert _callees(kids[3]) == ["fast"] and db.children(kids[3]) == []
    # children ran inside their parent
    assert all(outer1.started_ns <= c.started_ns and c.duration <= outer1.duration for c in kids)


def test_inner_args_needs_inner():
    with pytest.raises(ValueError, match="needs inner=True"):
        intercept(fast, inner_args=True)


def test_threads_each_keep_their_own_inner_calls(recorder):
    import threading
    errors = []

    def worker(n):
        try:
            for _ in range(20):
                work(n)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db = recorder.load()
    calls = list(db.calls("work"))
    assert len(calls) == 80
    for c in calls:  # work(n) makes range, n x fast, slow
        n = c.args[0]
        assert _callees(c) == ["range"] + ["fast"] * n + ["slow"], c


# ---- coroutines and generators ------------------------------------------------

async def nap(s):
    import asyncio
    await asyncio.sleep(s)
    return s


@intercept(inner=True)
async def gather_naps(n):
    total = 0
    for _ in range(n):
        total += await nap(0.001)
    return fast(total)


@intercept(inner=True)
def counting(n):
    for i in range(n):
        yield fast(i)


def test_a_coroutine_keeps_its_inner_calls_awaited_calls_timed_until_their_await_ends(recorder):
    import asyncio
    assert inspect.iscoroutinefunction(gather_naps)
    assert asyncio.run(gather_naps(3)) == pytest.approx(1.003)
    call = recorder.load().call("gather_naps", 1)
    assert _callees(call) == ["range", "nap", "nap", "nap", "fast"]
    awaited = [c for c in call.inner if c.callee == "nap"]
    assert all(c.duration >= 0.001 for c in awaited)
    assert call.result == pytest.approx(1.003)


def test_a_generator_keeps_its_inner_calls(recorder):
    assert inspect.isgeneratorfunction(counting)
    assert list(counting(3)) == [1, 2, 3]
    call = recorder.load().call("counting", 1)
    assert call.yields == 3
    assert _callees(call) == ["range", "fast", "fast", "fast"]
