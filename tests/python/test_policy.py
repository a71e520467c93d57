"""Capture policies (issue 9, "record in production, forever"): exact counts
for every policy, seeds, error messages, environment variables."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest

import callmonitor
from callmonitor import CallNotRecordedError, Excluded, ValueSummary, _core, configure, intercept
from callmonitor.capture import policy as policy_module
from _support import check


def only(db, name):
    [f] = [f for f in db.functions if name in (f.name, f.qualname)]
    return f


def recorded(db, name):
    return [c.invocation for c in db.calls(name)]


# ---- which calls are kept ---------------------------------------------------------


def test_every_keeps_1_k_plus_1_and_says_why_others_are_missing(recorder):
    @intercept(every=5)
    def f(x):
        return x * 2

    assert [f(i) for i in range(1, 24)] == [2 * i for i in range(1, 24)]
    db = recorder.load()
    assert recorded(db, "f") == [1, 6, 11, 16, 21]        # real invocation numbers
    assert db.get("f", 6) == ([6], {})
    fi = only(db, "f")
    assert (fi.seen, fi.kept, fi.dropped, fi.policy) == (23, 5, {"every": 18}, "every=5")
    with pytest.raises(CallNotRecordedError) as e:
        db.get("f", 7)
    assert "call 7 of" in str(e.value) and "every=5 keeps 1, 6, 11, ..." in str(e.value)
    assert (e.value.invocation, isinstance(e.value, IndexError)) == (7, True)
    with pytest.raises(CallNotRecordedError, match="every=5"):
        db.call("f", 23)
    with pytest.raises(IndexError, match="there is no call 24"):  # never made: not a policy's doing
        db.get("f", 24)


def test_first_and_max_calls(recorder):
    @intercept(first=3)
    def f(x):
        return x

    @intercept(max_calls=4, every=2)
    def g(x):
        return x

    for i in range(10):
        f(i)
    for i in range(20):
        g(i)
    db = recorder.load()
    assert recorded(db, "f") == [1, 2, 3]
    assert recorded(db, "g") == [1, 3, 5, 7]
    gi = only(db, "g")
    assert (gi.seen, gi.kept, gi.dropped) == (20, 4, {"every": 10, "max_calls": 6})
    with pytest.raises(CallNotRecordedError, match="first=3 keeps calls 1 to 3"):
        db.get("f", 4)
    with pytest.raises(CallNotRecordedError, match="max_calls=4"):
        db.get("g", 9)


def _sampled_set(seed, name, n, p):
    return [i for i in range(1, n + 1) if _core._policy_before(0, 1, p, 0, seed, name, i, 0)[0] == "kept"]


def test_sample_is_seeded_stored_and_reproducible(recorder):
    def run(seed):
        callmonitor.close()
        configure(seed=seed)

        @intercept(sample=0.3)
        def s(x):
            return x

        for i in range(200):
            s(i)
        db = recorder.load()
        return db, recorded(db, "s")

    db, first = run(1234)
    fi = only(db, "s")
    assert db._writers[0].policy.seed == 1234
    assert first == _sampled_set(1234, fi.full_name, 200, 0.3)  # the reader can tell which
    assert 40 <= len(first) <= 80 and fi.kept == len(first) and fi.dropped == {"sample": 200 - len(first)}
    missing = next(i for i in range(1, 201) if i not in first)
    with pytest.raises(CallNotRecordedError, match="sample=0.3 did not draw it .seed 1234."):
        db.get("s", missing)
    _, again = run(1234)
    assert again == first
    _, other = run(99)
    assert other != first


def test_keep_raised_keeps_inputs_as_they_were_before_the_call(recorder):
    @intercept(keep="raised")
    def f(items, n):
        items.append("mutated")
        if n % 4 == 0:
            raise ValueError(f"bad {n}")
        return n

    for n in range(1, 21):
        try:
            assert f([n], n) == n
        except ValueError as e:
            assert str(e) == f"bad {n}"
    db = recorder.load()
    assert recorded(db, "f") == [4, 8, 12, 16, 20]
    call = db.call("f", 8)
    assert call.args == [[8], 8] and call.outcome == "raised" and "bad 8" in str(call.exception)
    fi = only(db, "f")
    assert (fi.seen, fi.kept, fi.dropped) == (20, 5, {"keep": 15})
    with pytest.raises(CallNotRecordedError, match="keep='raised' keeps only calls that raised"):
        db.get("f", 3)


def test_slower_than(recorder):
    @intercept(slower_than=0.02)
    def f(slow):
        if slow:
            time.sleep(0.05)
        return slow

    pattern = [i % 3 == 0 for i in range(12)]
    for slow in pattern:
        f(slow)
    db = recorder.load()
    assert recorded(db, "f") == [i + 1 for i, slow in enumerate(pattern) if slow]
    assert all(c.duration > 0.02 for c in db.calls("f"))
    assert only(db, "f").dropped == {"slower_than": 8}
    with pytest.raises(CallNotRecordedError, match="slower_than=0.02"):
        db.get("f", 2)


def test_keep_raised_with_max_calls(recorder):
    @intercept(keep="raised", max_calls=2)
    def f(n):
        if n % 10 == 0:
            raise KeyError(n)

    for n in range(1, 31):
        try:
            f(n)
        except KeyError:
            pass
    db = recorder.load()
    assert recorded(db, "f") == [10, 20]
    assert only(db, "f").dropped == {"keep": 18, "max_calls": 10}  # 21..30: max_calls before the call


def test_dropped_calls_behave_exactly_like_the_function(recorder):
    @intercept(every=1000)
    def f(x, *, fail=False):
        if fail:
            raise RuntimeError("as always")
        return [x]

    assert f(1) == [1]
    assert f(2) == [2]
    with pytest.raises(RuntimeError, match="as always"):
        f(3, fail=True)
    db = recorder.load()
    assert recorded(db, "f") == [1]


# ---- what a kept call stores ----------------------------------------------------------


def test_max_bytes_stores_a_summary_of_large_values(recorder):
    @intercept(max_bytes=1000)
    def f(a, small, blob, items):
        return a * 2

    a = np.arange(10_000, dtype=np.float64).reshape(100, 100)
    blob = bytes(range(256)) * 20
    f(a, np.arange(3), blob, list(range(500)))
    db = recorder.load()
    call = db.call("f", 1)
    s, small, b, items = call.args
    assert isinstance(s, ValueSummary) and s.summary == "max_bytes"
    assert (s.type, s.dtype, s.shape, s.nbytes) == ("numpy.ndarray", "float64", (100, 100), 80_000)
    assert (s.min, s.max, s.mean) == (0.0, 9999.0, 4999.5)
    assert s.head == [0.0, 1.0, 2.0, 3.0, 4.0] and s.tail == [9995.0, 9996.0, 9997.0, 9998.0, 9999.0]
    assert s.hash == _core._content_hash(a.reshape(-1).view(np.uint8)) and len(s.hash) == 32
    np.testing.assert_array_equal(small, np.arange(3))        # under the limit: recorded as is
    assert isinstance(b, ValueSummary) and (b.type, b.length, b.nbytes) == ("bytes", 5120, 5120)
    assert b.hash == _core._content_hash(blob)
    assert isinstance(items, ValueSummary) and (items.type, items.length) == ("list", 500)
    assert items.head == ["0", "1", "2", "3", "4"]
    r = call.result
    assert isinstance(r, ValueSummary) and r.shape == (100, 100) and r.max == 19998.0
    assert "summary='max_bytes'" in repr(s)


def test_max_bytes_of_a_non_contiguous_array(recorder):
    @intercept(max_bytes=100)
    def f(a):
        pass

    a = np.arange(1000, dtype=np.int32).reshape(10, 100)[:, ::2]
    f(a)
    s = recorder.load().get("f", 1)[0][0]
    assert (s.shape, s.dtype, s.min, s.max, s.nbytes) == ((10, 50), "int32", 0, 998, 2000)
    assert s.hash == _core._content_hash(np.ascontiguousarray(a).view(np.uint8).reshape(-1))


class Holder:
    """A plain class: recorded by its state (value tag Object)."""

    def __init__(self, big, name):
        self.big = big
        self.name = name


def _is_summary(v, **fields):
    assert isinstance(v, ValueSummary) and v.summary == "max_bytes", v
    for k, want in fields.items():
        assert getattr(v, k) == want, (k, getattr(v, k), want)
    return True


def test_max_bytes_is_per_value_node_nested_anywhere(recorder):
    """max_bytes=B per value: a big array, str or bytes inside a list, tuple,
    dict or an object's attributes is a summary; the small parts stay."""
    @intercept(max_bytes=1000)
    def f(items, mapping, holder, nested):
        return {"out": np.ones(500), "n": 3}

    big = np.arange(1000, dtype=np.float64)
    text = "x" * 5000
    f([big, 1, "small"], {"a": big * 2, "b": 2.5}, Holder(np.zeros(300), "h"),
      (b"\x01" * 4000, [text, np.arange(3)]))
    call = recorder.load().call("f", 1)
    items, mapping, holder, nested = call.args
    assert isinstance(items, list) and items[1:] == [1, "small"]
    _is_summary(items[0], shape=(1000,), dtype="float64", min=0.0, max=999.0, nbytes=8000,
                hash=_core._content_hash(big.view(np.uint8)))
    assert set(mapping) == {"a", "b"} and mapping["b"] == 2.5
    _is_summary(mapping["a"], max=1998.0)
    assert holder.name == "h"
    _is_summary(holder.big, shape=(300,), nbytes=2400)
    _is_summary(nested[0], type="bytes", length=4000)
    _is_summary(nested[1][0], type="str", length=5000, head="x" * 32)
    np.testing.assert_array_equal(nested[1][1], np.arange(3))
    assert call.result["n"] == 3
    _is_summary(call.result["out"], shape=(500,), mean=1.0)


def test_max_bytes_summarizes_a_container_of_many_small_items_whole(recorder):
    """A container whose own items add up to more than B (none of them big)
    is one summary; measuring it stops past B (bounded cost)."""
    @intercept(max_bytes=1000)
    def f(many, few):
        pass

    f(list(range(10_000_000)), [np.zeros(200), list(range(10))])
    many, few = recorder.load().get("f", 1)[0]
    _is_summary(many, type="list", length=10_000_000, head=["0", "1", "2", "3", "4"])
    _is_summary(few[0], shape=(200,))          # 1600 bytes: a summary
    assert few[1] == list(range(10))           # the small part stays


def test_max_bytes_summarizes_a_pandas_frame(recorder):
    import pandas as pd

    @intercept(max_bytes=1000)
    def f(frames):
        pass

    big = pd.DataFrame({"a": np.arange(1000.0), "b": np.arange(1000)})
    small = pd.DataFrame({"a": [1.0, 2.0]})
    f([big, small])
    big_s, small_back = recorder.load().get("f", 1)[0][0]
    _is_summary(big_s, type="pandas.core.frame.DataFrame", shape=(1000, 2), length=1000)
    assert big_s.nbytes >= 16_000 and big_s.head["a"][:2] == [0.0, 1.0] and big_s.hash
    pd.testing.assert_frame_equal(small_back, small)


class Solver:
    @intercept(exclude=["self", "logger"])
    def solve(self, x, logger=None, *, tol=1e-3):
        return x + 1


def test_exclude_marks_parameters_as_excluded(recorder):
    s = Solver()
    assert s.solve(1, "log-a") == 2
    assert s.solve(2, logger="log-b", tol=0.5) == 3
    db = recorder.load()
    args, kwargs = db.get("Solver.solve", 1)
    assert args == [Excluded("self"), 1, Excluded("logger")]
    args, kwargs = db.get("Solver.solve", 2)
    assert args == [Excluded("self"), 2] and kwargs == {"logger": Excluded("logger"), "tol": 0.5}
    assert repr(args[0]) == "<excluded: self>"
    assert only(db, "Solver.solve").policy == "exclude=['self', 'logger']"


def test_exclude_of_star_args_and_keyword_only(recorder):
    @intercept(exclude=["rest", "secret"])
    def f(a, *rest, secret=None):
        pass

    f(1, 2, 3, secret="pw")
    args, kwargs = recorder.load().get("f", 1)
    assert args == [1, Excluded("rest"), Excluded("rest")] and kwargs == {"secret": Excluded("secret")}


def test_configure_policy_for_every_function_and_the_function_wins(recorder):
    configure(every=2, exclude=["logger"])

    @intercept
    def f(x, logger=None):
        pass

    @intercept(every=3)
    def g(x):
        pass

    for i in range(6):
        f(i, "l")
        g(i)
    db = recorder.load()
    assert recorded(db, "f") == [1, 3, 5]
    assert db.get("f", 3) == ([2, Excluded("logger")], {})
    assert recorded(db, "g") == [1, 4]     # g's own every=3; it has no `logger`: untouched


# ---- bad options -------------------------------------------------------------------------


@pytest.mark.parametrize("options, error, text", [
    ({"every": 0}, ValueError, "every must be at least 1, got 0"),
    ({"every": -5}, ValueError, "every must be at least 1"),
    ({"every": "5"}, TypeError, "every must be an int, got str '5'"),
    ({"max_calls": 2.5}, TypeError, "max_calls must be an int"),
    ({"first": True}, TypeError, "first must be an int"),
    ({"sample": 1.5}, ValueError, r"sample must be in \[0, 1\]"),
    ({"sample": "all"}, TypeError, "sample must be a probability"),
    ({"keep": "failed"}, ValueError, r"keep must be one of \('all', 'raised'\), got 'failed'"),
    ({"keep": 1}, TypeError, "keep must be one of"),
    ({"slower_than": -1}, ValueError, "slower_than must be a finite number of seconds >= 0"),
    ({"slower_than": float("nan")}, ValueError, "slower_than must be a finite"),
    ({"max_bytes": 0}, ValueError, "max_bytes must be at least 1"),
    ({"exclude": [1]}, TypeError, "exclude must be a list of parameter names"),
    ({"evry": 5}, TypeError, "unknown capture policy option 'evry'"),
])
def test_bad_values_raise_at_decoration_and_configure(options, error, text):
    with pytest.raises(error, match=text):
        intercept(lambda x: x, **options)
    with pytest.raises(error, match=text):
        intercept(**options)
    with pytest.raises(error, match=text):
        configure(**options)


def test_exclude_of_an_unknown_parameter_and_session_options_in_intercept():
    with pytest.raises(ValueError, match="has no parameter 'loger'; its parameters are x, logger"):
        intercept(lambda x, logger: x, exclude=["loger"])
    with pytest.raises(ValueError, match=r"\*\*kw cannot be excluded"):
        intercept(lambda **kw: 0, exclude=["kw"])
    with pytest.raises(TypeError, match="max_db_bytes= applies to the whole database: give it to configure"):
        intercept(lambda x: x, max_db_bytes=10**6)
    with pytest.raises(ValueError, match="max_db_bytes must be at least 1"):
        configure(max_db_bytes=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        configure(seed="x")


def test_a_bad_configure_changes_nothing(recorder):
    with pytest.raises(ValueError):
        configure(every=3, keep="nope")
    from callmonitor.capture.settings import CONFIG
    assert CONFIG.policy == {}


# ---- environment variables ------------------------------------------------------------------


def test_environment_variables_are_read_and_checked(monkeypatch):
    monkeypatch.setenv("CALLMONITOR_EVERY", "4")
    monkeypatch.setenv("CALLMONITOR_SAMPLE", "0.5")
    monkeypatch.setenv("CALLMONITOR_EXCLUDE", "self, logger")
    monkeypatch.setenv("CALLMONITOR_KEEP", "raised")
    monkeypatch.setenv("CALLMONITOR_SLOWER_THAN", "0.25")
    monkeypatch.setenv("CALLMONITOR_MAX_DB_BYTES", "1000000")
    monkeypatch.setenv("CALLMONITOR_SEED", "7")
    assert policy_module.from_environment() == {
        "every": 4, "sample": 0.5, "exclude": ("self", "logger"), "keep": "raised", "slower_than": 0.25,
        "max_db_bytes": 1_000_000, "seed": 7}
    monkeypatch.setenv("CALLMONITOR_EVERY", "0")
    monkeypatch.setenv("CALLMONITOR_FIRST", "ten")
    with pytest.warns(RuntimeWarning) as w:
        got = policy_module.from_environment(["every", "first"])
    assert got == {}
    text = "\n".join(str(x.message) for x in w)
    assert "ignoring CALLMONITOR_EVERY='0': every must be at least 1" in text
    assert "ignoring CALLMONITOR_FIRST='ten'" in text


PROGRAM = """
import callmonitor
from callmonitor import intercept

@intercept
def f(x):
    return x

@intercept(every=2)
def g(x):
    return x

for i in range(12):
    f(i)
    g(i)
callmonitor.close()
db = callmonitor.load(callmonitor.output_directory() or "call-monitor")
print([c.invocation for c in db.calls("f")], [c.invocation for c in db.calls("g")])
"""


@pytest.mark.integration
def test_environment_variables_in_a_real_program(run_recorder, tmp_path):
    out = check(run_recorder(PROGRAM, tmp_path, env={"CALLMONITOR_EVERY": "5", "CALLMONITOR_FIRST": "bad"}))
    assert out.stdout.strip() == "[1, 6, 11] [1, 3, 5, 7, 9, 11]"    # g's own every=2 wins
    assert out.stderr.count("ignoring CALLMONITOR_FIRST='bad'") == 1  # the program runs on


# ---- max_db_bytes ----------------------------------------------------------------------------

FULL = """
import os, callmonitor
from callmonitor import intercept, configure
configure(max_db_bytes=400_000, flush_interval=0.01)

@intercept
def f(blob):
    return len(blob)

total = 0
for i in range(300):
    total += f(os.urandom(8_000))
    if i % 20 == 0:
        callmonitor.flush()
print("done", total)
"""


@pytest.mark.integration
def test_max_db_bytes_stops_recording_with_one_warning(run_recorder, tmp_path):
    out = check(run_recorder(FULL, tmp_path))
    assert out.stdout.strip() == f"done {300 * 8000}"
    assert out.stderr.count("reached max_db_bytes=400000") == 1
    with callmonitor.load(tmp_path / "call-monitor") as db:
        fi = only(db, "f")
        assert fi.seen == 300 and 10 < fi.kept < 100
        assert fi.dropped == {"max_db_bytes": 300 - fi.kept}
        assert recorded(db, "f") == list(range(1, fi.kept + 1))
        with pytest.raises(CallNotRecordedError, match="max_db_bytes"):
            db.get("f", 300)
        assert db.sizes["file_bytes"] < 2 * 400_000
    js = json.loads(subprocess.run([sys.executable, "-m", "callmonitor", "summary", "--json",
                                    str(tmp_path / "call-monitor")], capture_output=True, text=True,
                                   check=True).stdout)
    [entry] = js["functions"]
    assert (entry["seen"], entry["kept"]) == (300, fi.kept)


def test_summary_shows_seen_and_kept(recorder, capsys):
    @intercept(every=4)
    def f(x):
        pass

    for i in range(10):
        f(i)
    recorder.load()
    from callmonitor.cli.main import main
    assert main(["summary", recorder.run_dir]) == 0
    text = capsys.readouterr().out
    assert "kept" in text and "seen" in text and "every=4" in text
    assert main(["summary", "--json", recorder.run_dir]) == 0
    entry = json.loads(capsys.readouterr().out)["functions"][0]
    assert (entry["seen"], entry["kept"], entry["policy"]) == (10, 3, "every=4")
    assert entry["writers"][0]["dropped"] == {"every": 7}
    db = recorder.load()
    assert "3 calls recorded of 10 (every=4)" in repr(db)


# ---- counts per writer (per-thread writers) and for the run ------------------------


def test_counts_are_per_writer_with_per_thread_writers(recorder):
    """Settings().enable_multi_threading: each writer's meta["policy"] counts
    its own calls (its invocation numbers), the run sums them: no double
    counting, no loss."""
    import threading

    @intercept(every=2)
    def f(x):
        return x

    for i in range(10):
        f(i)

    def work(tid, n):
        callmonitor.Settings().enable_multi_threading(tid)
        for i in range(n):
            f(i)

    threads = [threading.Thread(target=work, args=(k, 4 + 2 * k)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db = recorder.load()
    by_writer = {fi.writer: (fi.seen, fi.kept, fi.dropped) for fi in db.functions if fi.name == "f"}
    assert by_writer == {"main": (10, 5, {"every": 5}), "tid-1": (6, 3, {"every": 3}),
                         "tid-2": (8, 4, {"every": 4})}
    for w in db._writers:
        counts = w.policy.functions
        assert len(counts) == 1, (w.id, counts)     # only its own function's counts
    assert "12 calls recorded of 24 (every=2)" in str(db)
    with pytest.raises(CallNotRecordedError, match="every=2"):
        db.get("f", 2, writer="tid-2")


# ---- one function, two interceptors -----------------------------------------------


def test_two_interceptors_of_one_function_apply_each_their_own_options(recorder):
    def g(x):
        return x

    a = intercept(g, every=3)
    b = intercept(g, first=2)
    for i in range(6):          # invocations 1..6 through a: every=3 keeps 1 and 4
        a(i)
    for i in range(3):          # 7..9 through b: first=2 keeps none of them
        b(i)
    db = recorder.load()
    assert recorded(db, "g") == [1, 4]
    gi = only(db, "g")
    assert (gi.seen, gi.kept, gi.dropped) == (9, 2, {"every": 4, "first": 3})
    assert gi.policy == "every=3 | first=2"
    with pytest.raises(CallNotRecordedError, match="first=2 keeps calls 1 to 2"):
        db.get("g", 8)


def test_stacked_intercept_with_options_is_refused_not_silently_ignored(recorder):
    """@intercept twice on one function: the outer one's options are a clear
    TypeError (never silently the inner's); without options it is the same
    wrapper, recorded once per call."""
    with pytest.raises(TypeError, match="intercepted already; give its capture policy where it was first"):
        @intercept(max_calls=2)
        @intercept(every=100)
        def h(x):
            return x

    @intercept
    @intercept(every=2)
    def k(x):
        return x

    for i in range(5):
        k(i)
    db = recorder.load()
    assert recorded(db, "k") == [1, 3, 5]
    assert (only(db, "k").seen, only(db, "k").kept) == (5, 3)


class Pickled:
    """Recorded by pickling (it customises __reduce__)."""

    def __init__(self, data):
        self.data = data

    def __reduce__(self):
        return (Pickled, (self.data,))


def test_max_bytes_summarizes_a_value_recorded_by_pickling(recorder):
    @intercept(max_bytes=1000)
    def f(items):
        pass

    f([Pickled(b"x" * 5000), Pickled(b"y")])
    big, small = recorder.load(allow_pickle=True).get("f", 1)[0][0]
    _is_summary(big)
    assert big.nbytes > 5000 and big.type.endswith("Pickled") and len(big.hash) == 32
    assert small.data == b"y"
