"""wrap_calls / flat_profile: the AST rewrite of a function's inner calls (unit tests, in process)."""
import asyncio
import functools
import inspect
import logging
import sys
import threading
import time
import traceback

import pytest

import callmonitor
from callmonitor import _core, flat_profile, wrap_calls
from callmonitor.inner import InnerCallsWarning, inner_function


# ---- helpers -----------------------------------------------------------------

class Log:
    """A user wrapper (recompyle's contract) that notes the qualname of every call it wraps."""

    def __init__(self):
        self.names = []

    def __call__(self, __call, *args, **kwargs):
        self.names.append(getattr(__call, "__qualname__", type(__call).__name__))
        return __call(*args, **kwargs)


def callees(func):
    """The callees (as written) of the last invocation of a wrap_calls() function in this thread."""
    return [c.callee for c in inner_function(func).last().calls]


def other_function(val: float) -> str:
    """Some other function being called."""
    return f"other val: {val}"


# ---- recompyle's README examples -------------------------------------------------

def basic_wrapper(__call, *args, **kwargs):
    """Basic wrapper that prints before and after each call."""
    print(f"Before {__call.__qualname__}, args: {args}, kwargs: {kwargs}")
    try:
        return __call(*args, **kwargs)
    finally:
        print(f"After {__call.__qualname__}")


README_DETAILS = {}


@wrap_calls(wrapper=basic_wrapper, rewrite_details=README_DETAILS)
def readme_example(count: int) -> str:
    """Function we are rewriting to wrap calls."""
    for _ in (int(v) for v in range(count)):
        pass
    return other_function(val=123.45)


def test_readme_wrap_calls_example_prints_what_recompyle_shows(capsys):
    print(readme_example(2))
    assert capsys.readouterr().out == (
        "Before range, args: (2,), kwargs: {}\n"
        "After range\n"
        "Before int, args: (0,), kwargs: {}\n"
        "After int\n"
        "Before int, args: (1,), kwargs: {}\n"
        "After int\n"
        "Before other_function, args: (), kwargs: {'val': 123.45}\n"
        "After other_function\n"
        "other val: 123.45\n")


def test_rewrite_details_hold_the_original_function_and_both_sources():
    assert README_DETAILS["original_func"] is readme_example.__wrapped__
    assert README_DETAILS["original_source"] == inspect.getsource(README_DETAILS["original_func"])
    new = README_DETAILS["new_source"]
    assert "_callmonitor_wrap(int, v) for v in _callmonitor_wrap(range, count)" in new
    assert "return _callmonitor_wrap(other_function, val=123.45)" in new
    assert [s.callee for s in README_DETAILS["sites"]] == ["int", "range", "other_function"]


# recompyle's tests/function/test_ignore_calls.py cases
LOG_BUILTINS, LOG_BLACK, LOG_BLACK_WILD, LOG_WHITE_WILD = Log(), Log(), Log(), Log()


@wrap_calls(wrapper=LOG_BUILTINS, ignore_builtins=True)
def with_builtins():
    for _ in (int(v) for v in range(5)):
        pass
    other_function(1)
    return True


class C:
    def c_1(self):
        return False

    def c_2(self):
        return True


class B:
    c = {"c": C()}


class A:
    b = [B()]


@wrap_calls(wrapper=LOG_BLACK, blacklist={"A", "a.b[0].c[c].c_2"})
def complex_blacklist():
    a = A()
    a.b[0].c["c"].c_1()
    return a.b[0].c["c"].c_2()


@wrap_calls(wrapper=LOG_BLACK_WILD, blacklist={"a.b[0].c[*].c_2"})
def complex_blacklist_wildcard():
    a = A()
    a.b[0].c["c"].c_1()
    return a.b[0].c["c"].c_2()


@wrap_calls(wrapper=LOG_WHITE_WILD, whitelist={"a.b[*].c[*].c_1"})
def complex_whitelist_wildcard():
    a = A()
    a.b[0].c["c"].c_1()
    return a.b[0].c["c"].c_2()


def test_ignore_builtins_wraps_only_other_calls():
    assert with_builtins() is True
    assert LOG_BUILTINS.names == ["other_function"]


def test_blacklist_with_subscripts_leaves_its_calls_unwrapped():
    assert complex_blacklist() is True
    assert LOG_BLACK.names == ["C.c_1"]


def test_blacklist_wildcard_matches_any_subscript():
    assert complex_blacklist_wildcard() is True
    assert LOG_BLACK_WILD.names == ["A", "C.c_1"]


def test_whitelist_wildcard_wraps_only_its_matches():
    assert complex_whitelist_wildcard() is True
    assert LOG_WHITE_WILD.names == ["C.c_1"]


def slow_function(val: float) -> str:
    time.sleep(0.06)
    return f"other val: {val}"


def faster_function() -> None:
    time.sleep(0.001)


@flat_profile(time_limit=0.03)
def profiled_example(count: int) -> str:
    """Function we are rewriting to time calls."""
    faster_function()
    for _ in (int(v) for v in range(count)):
        pass
    return slow_function(val=123.45)


@flat_profile(time_limit=10)
def profiled_fast(count: int) -> int:
    return sum(int(v) for v in range(count))


def test_flat_profile_default_above_callback_logs_the_calls_longest_first(caplog):
    with caplog.at_level(logging.INFO, logger="callmonitor.flat_profile"):
        assert profiled_example(2) == "other val: 123.45"
    (record,) = caplog.records
    head, *rest = record.getMessage().split("\n")
    assert head.startswith("profiled_example finished in ") and head.endswith("s, above limit of 0.03s")
    listed = eval("\n".join(rest))  # pformat of a tuple of "name: time" strings
    assert [entry.split(":")[0] for entry in listed[:2]] == ["slow_function", "faster_function"]
    assert sorted(entry.split(":")[0] for entry in listed[2:]) == ["int", "range"]
    seconds = [float(entry.split(": ")[1].rstrip("s")) for entry in listed]
    assert seconds == sorted(seconds, reverse=True) and seconds[0] >= 0.05


def test_flat_profile_default_below_callback_logs_one_line(caplog):
    with caplog.at_level(logging.INFO, logger="callmonitor.flat_profile"):
        assert profiled_fast(3) == 3
    (record,) = caplog.records
    message = record.getMessage()
    assert message.startswith("profiled_fast finished in ") and message.endswith("s, below limit of 10s")
    assert "\n" not in message


def test_flat_profile_custom_callbacks_get_total_limit_times_and_function():
    seen = []

    def below(total, limit, times, func):
        seen.append(("below", total, limit, times, func))

    def above(total, limit, times, func):
        seen.append(("above", total, limit, times, func))

    def work(n, pause=0.0):
        time.sleep(pause)
        return [int(v) for v in range(n)]

    profiled = flat_profile(time_limit=0.2, below_callback=below, above_callback=above)(work)
    assert profiled(3) == [0, 1, 2]
    assert profiled(2, pause=0.25) == [0, 1]
    (kind1, total1, limit1, times1, func1), (kind2, total2, _, times2, _) = seen
    assert (kind1, kind2, limit1, func1) == ("below", "above", 0.2, profiled)
    assert total1 < 0.2 <= total2
    assert set(times1) == {"sleep", "range", "int"} and len(times1["int"]) == 3
    assert len(times2["int"]) == 2 and times2["sleep"][0] >= 0.24


def test_flat_profile_without_callbacks_still_times_calls():
    @flat_profile(time_limit=1, below_callback=None, above_callback=None)
    def quiet():
        return len([1, 2])

    assert quiet() == 2
    assert inner_function(quiet).profile.names == ["len"]


def test_a_failing_callback_is_logged_and_the_function_result_kept(caplog):
    def broken(total, limit, times, func):
        raise RuntimeError("callback bug")

    profiled = flat_profile(time_limit=0, above_callback=broken)(other_function)
    with caplog.at_level(logging.ERROR, logger="callmonitor.flat_profile"):
        assert profiled(1.5) == "other val: 1.5"
    assert "callback bug" in caplog.text


# ---- the native recorder: what one invocation records -------------------------------------

@wrap_calls()
def records_everything(items, key):
    table = {"k": len}
    total = int("3")
    total += table["k"](items)
    total += max(items, key=abs)
    return str(total) + key.upper()


def test_native_recorder_lists_callees_as_written_with_lines_and_names():
    assert records_everything([1, -5], "x") == "0X"
    calls = inner_function(records_everything).last().calls
    assert [c.callee for c in calls] == ["int", 'table["k"]', "max", "str", "key.upper"]
    assert [c.name for c in calls] == ["int", "len", "max", "str", "str.upper"]
    first_line = inspect.getsourcelines(records_everything.__wrapped__)[1]
    assert [c.line - first_line for c in calls] == [3, 4, 5, 6, 6]
    assert all(c.duration >= 0 and not c.raised for c in calls)
    starts = [c.start for c in calls]
    assert starts == sorted(starts)


@wrap_calls()
def raises_inside(x):
    return int(x)


def test_a_raising_inner_call_is_recorded_as_raised_and_propagates_unchanged():
    with pytest.raises(ValueError, match="invalid literal") as info:
        raises_inside("nope")
    (call,) = inner_function(raises_inside).last().calls
    assert call.raised and call.callee == "int"
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert frame.name == "raises_inside" and frame.line == "return int(x)"


class Greeter:
    def hello(self, name):
        return "hi " + name


@wrap_calls()
def calls_bound_methods(n):
    g = Greeter()
    return [g.hello(str(i)) for i in range(n)]


def test_names_are_cached_per_call_site_not_per_bound_method_object():
    calls_bound_methods(50)
    profile = inner_function(calls_bound_methods).profile
    sites = [s.callee for s in inner_function(calls_bound_methods).sites]
    assert dict(zip(sites, profile.names)) == {"Greeter": "Greeter", "range": "range", "g.hello": "Greeter.hello",
                                               "str": "str"}
    inv = inner_function(calls_bound_methods).last()
    by_site = {t.site.callee: t.count for t in inv.by_site()}
    assert by_site == {"Greeter": 1, "range": 1, "g.hello": 50, "str": 50}


def test_entry_limit_bounds_memory_and_sums_the_rest_per_site():
    profile = _core.InnerProfile(2, entry_limit=3)
    calls = profile.begin()
    for i in range(5):
        profile(calls, i % 2, abs, -i)
    profile.end(calls)
    assert len(calls) == 5 and len(calls.records()) == 3 and calls.overflow_calls == 2
    assert {site: count for site, (count, _total) in calls.overflow().items()} == {1: 1, 0: 1}


def test_inner_profile_rejects_bad_arguments():
    with pytest.raises(TypeError):
        _core.InnerProfile(1)()  # no buffer, site, callee
    with pytest.raises(TypeError):
        _core.InnerProfile(1, finish=3)
    with pytest.raises(ValueError):
        _core.InnerProfile(-1)
    profile = _core.InnerProfile(1)
    with pytest.raises(TypeError):
        profile.end("not a buffer")
    assert profile(None, 0, abs, -2) == 2  # not a buffer: the call still runs, unrecorded


# ---- forms: closures, nonlocal, super(), methods, nested functions ---------------------

def make_counter():
    count = 0
    scale = 10

    @wrap_calls()
    def bump(step):
        nonlocal count
        count += int(step) * scale
        return count

    def peek():
        return count

    return bump, peek


def test_closures_and_nonlocal_use_the_original_cells():
    bump, peek = make_counter()
    assert bump(1) == 10 and bump("2") == 30
    assert peek() == 30  # the enclosing scope sees the rewritten function's writes
    assert callees(bump) == ["int"]
    assert {id(c) for c in bump.__wrapped__.__closure__} <= {id(c) for c in bump.__closure__}  # the same cells


class Base:
    def __init__(self):
        self.__secret = 5

    def value(self, k):
        return k + self.__secret

    @classmethod
    def build(cls):
        return cls()


class Child(Base):
    LOG = Log()

    @wrap_calls(LOG)
    def value(self, k):
        return int(super().value(k)) + len(self.__private())

    def __private(self):
        return [0]

    @classmethod
    @wrap_calls()
    def make(cls, n):
        made = []
        for _ in range(n):
            made.append(super().build())
        return made

    @wrap_calls()
    @classmethod
    def make_outer(cls):
        return isinstance(cls.build(), cls)

    @staticmethod
    @wrap_calls()
    def twice(x):
        return abs(x) * 2

    @wrap_calls()
    @staticmethod
    def thrice(x):
        return abs(x) * 3


def test_zero_argument_super_and_private_names_work_in_a_rewritten_method():
    c = Child()
    assert c.value(1) == 7
    assert Child.LOG.names == ["Base.value", "int", "Child.__private", "len"]  # a wrapper runs once its args are


def test_classmethods_and_staticmethods_in_either_decorator_order():
    made = Child.make(2)
    assert len(made) == 2 and all(type(m) is Child for m in made)
    assert Child.make_outer() is True
    assert Child.twice(-2) == 4 and Child().twice(-2) == 4
    assert Child.thrice(-1) == 3
    assert callees(Child.thrice) == ["abs"]
    assert callees(Child.make) == ["range", "super().build", "made.append", "super().build", "made.append"]


@wrap_calls()
def with_nested(n):
    def helper(v):
        return abs(v)

    class Local:
        size = len("abc")

    return [helper(-i) for i in range(n)], Local.size


def test_calls_in_nested_functions_classes_and_comprehensions_are_recorded():
    assert with_nested(2) == ([0, 1], 3)
    assert callees(with_nested) == ["len", "range", "helper", "abs", "helper", "abs"]


@wrap_calls()
def escaping():
    def later():
        return abs(-1)
    return later


def test_a_nested_function_called_after_the_invocation_ended_runs_unrecorded():
    later = escaping()
    before = len(inner_function(escaping).last())
    assert later() == 1
    assert len(inner_function(escaping).last()) == before == 0


# ---- generators, coroutines, recursion, threads -----------------------------------

@wrap_calls()
def gen(n):
    for i in range(n):
        yield str(i)
    abs(-n)


def test_generators_yield_the_same_values_and_record_per_generator():
    g1, g2 = gen(2), gen(3)
    assert next(g1) == "0" and next(g2) == "0"
    assert list(g2) == ["1", "2"]
    assert callees(gen) == ["range", "str", "str", "str", "abs"]
    assert list(g1) == ["1"]
    assert callees(gen) == ["range", "str", "str", "abs"]
    assert inspect.isgeneratorfunction(gen)


async def nap(seconds, value):
    await asyncio.sleep(seconds)
    return value


@wrap_calls()
async def coro(seconds):
    a = await nap(seconds, 1)
    return a + abs(-1)


def test_async_functions_time_awaited_calls_until_the_await_ends():
    async def both():
        return await asyncio.gather(coro(0.2), coro(0.01))

    assert asyncio.run(both()) == [2, 2]
    assert inspect.iscoroutinefunction(coro)
    inv = inner_function(coro).last()  # the slower one ends last
    awaited, plain = inv.calls
    assert awaited.site.awaited and awaited.callee == "nap" and awaited.name == "nap"
    assert awaited.duration >= 0.19 and inv.total >= 0.19
    assert plain.callee == "abs" and not plain.site.awaited


@wrap_calls()
def fib(n):
    if n < 2:
        return int(n)
    return fib(n - 1) + fib(n - 2)


def test_recursion_gives_each_invocation_its_own_calls():
    assert fib(6) == 8
    assert callees(fib) == ["fib", "fib"]  # the outermost invocation ends last


@wrap_calls()
def per_thread(n, barrier):
    barrier.wait()
    for _ in range(n):
        abs(-1)
        time.sleep(0)
    return n


def test_threads_record_their_own_invocations():
    barrier = threading.Barrier(4)
    counts = {}

    def run(n):
        per_thread(n, barrier)
        counts[n] = sum(1 for c in inner_function(per_thread).last().calls if c.callee == "abs")

    threads = [threading.Thread(target=run, args=(n,)) for n in (50, 100, 150, 200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == {50: 50, 100: 100, 150: 150, 200: 200}


# ---- the function's face is unchanged --------------------------------------------------

def described(a: int, b: "list[int]" = None, *rest, c: float = 1.5, **extra) -> str:
    """Docstring kept."""
    return repr((a, b, rest, c, extra))


described.custom = "kept"


@pytest.mark.parametrize("decorate", [wrap_calls(), wrap_calls(Log()), flat_profile(time_limit=1)],
                         ids=["native", "user wrapper", "flat_profile"])
def test_signature_name_docstring_defaults_and_wrapped_are_unchanged(decorate):
    new = decorate(described)
    for attr in ("__name__", "__qualname__", "__doc__", "__module__", "__defaults__", "__kwdefaults__",
                 "__annotations__"):
        assert getattr(new, attr) == getattr(described, attr), attr
    assert inspect.signature(new, follow_wrapped=False) == inspect.signature(described)
    # flat_profile's function is also recorded (an Interceptor around the rewritten function)
    rewritten = new.__wrapped__ if isinstance(new, callmonitor._core.Interceptor) else new
    assert rewritten.__code__.co_varnames[:rewritten.__code__.co_argcount] == ("a", "b")
    assert rewritten.__code__.co_kwonlyargcount == 1
    assert rewritten.__wrapped__ is described and new.custom == "kept"
    assert new(1, c=2) == described(1, c=2)
    assert new(1, _callmonitor_wrap=3) == described(1, _callmonitor_wrap=3)  # no hidden parameter: lands in **extra
    with pytest.raises(TypeError) as err:
        new()
    assert "missing 1 required positional argument: 'a'" in str(err.value)


# ---- frame-sensitive calls are not wrapped ---------------------------------------------

def frame_sensitive(x):
    y = x + 1
    names = sorted(locals())
    listed = dir()
    namespace = sorted(vars())
    frame_name = sys._getframe().f_code.co_name
    evaluated = eval("x + y")
    exec("z = 1")
    here = globals() is frame_sensitive_globals()
    return names, listed, namespace, frame_name, evaluated, here, vars(Greeter) is not None


def frame_sensitive_globals():
    return globals()


@pytest.mark.parametrize("decorate", [wrap_calls(), wrap_calls(Log()), flat_profile(time_limit=1)],
                         ids=["native", "user wrapper", "flat_profile"])
def test_frame_sensitive_calls_see_the_functions_own_frame(decorate):
    new = decorate(frame_sensitive)
    expected = frame_sensitive(1)
    assert new(1) == expected
    assert expected[0] == ["x", "y"] and expected[3] == "frame_sensitive" and expected[4] == 3


def test_frame_sensitive_calls_are_not_in_the_site_table():
    details = {}
    wrap_calls(rewrite_details=details)(frame_sensitive)
    assert [s.callee for s in details["sites"]] == ["sorted", "sorted", "frame_sensitive_globals", "vars"]
    for untouched in ("locals()", "dir()", "vars()", "sys._getframe()", "eval('x + y')", "exec('z = 1')",
                      "globals()"):
        assert untouched in details["new_source"]


# ---- no source, bad input ---------------------------------------------------------------

def test_a_function_without_source_runs_unwrapped_with_one_warning():
    namespace = {}
    exec("def made(x):\n    return abs(x)\n", namespace)
    with pytest.warns(InnerCallsWarning, match="no source code") as warned:
        same = wrap_calls()(namespace["made"])
    assert len(warned) == 1
    assert same is namespace["made"] and same(-3) == 3


def test_flat_profile_without_source_still_reports_the_total():
    namespace = {}
    exec("def made(x):\n    return abs(x)\n", namespace)
    totals = []
    with pytest.warns(InnerCallsWarning, match="runs unwrapped"):
        timed = flat_profile(time_limit=10, below_callback=lambda t, l, times, f: totals.append((t, times)))(
            namespace["made"])
    assert timed(-2) == 2
    assert len(totals) == 1 and totals[0][1] == {}


@pytest.mark.parametrize("target", [len, lambda x: abs(x), functools.partial(abs, -1)],
                         ids=["builtin", "lambda", "partial"])
def test_callables_that_cannot_be_rewritten_are_returned_with_a_warning(target):
    with pytest.warns(InnerCallsWarning, match="unwrapped"):
        assert wrap_calls()(target) is target


def test_rewriting_twice_is_a_clear_error():
    with pytest.raises(ValueError, match="already rewritten"):
        wrap_calls()(wrap_calls()(other_function))


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="blacklist or a whitelist"):
        wrap_calls(blacklist={"a"}, whitelist={"b"})
    with pytest.raises(TypeError, match="set of call names"):
        wrap_calls(blacklist="abs")
    with pytest.raises(TypeError, match="wrapper must be callable"):
        wrap_calls(3)
    with pytest.raises(TypeError, match="time_limit"):
        flat_profile(time_limit=-1)
    with pytest.raises(TypeError, match="below_callback"):
        flat_profile(time_limit=1, below_callback="log")


def test_the_package_exports_the_decorators():
    assert callmonitor.wrap_calls is wrap_calls and callmonitor.flat_profile is flat_profile


# ---- more forms: nested recursion, classes in functions, nested classes, async generators ----

def make_recursive():
    base = 3

    @wrap_calls()
    def countdown(n):
        return base if n == 0 else countdown(n - 1) + abs(-1)

    return countdown


def test_a_nested_recursive_function_calls_itself_through_its_closure_cell():
    countdown = make_recursive()
    assert countdown(3) == 6
    assert callees(countdown) == ["countdown", "abs"]
    assert "countdown" in countdown.__code__.co_freevars  # its own name: the same cell as the original's


def make_local_class():
    class LocalBase:
        def m(self):
            return 1

    class Local(LocalBase):
        @wrap_calls()
        def m(self):
            return super().m() + len([Local])

    return Local


def test_super_and_the_class_name_work_in_a_class_defined_in_a_function():
    Local = make_local_class()
    assert Local().m() == 2
    assert callees(Local.m) == ["super().m", "len"]


class Outer:
    class Nested:
        def __init__(self):
            self.__v = -4

        @wrap_calls()
        def m(self):
            text = """
less indented than the method
"""
            return abs(self.__v) + len(text)


def test_nested_classes_mangle_private_names_and_keep_string_literals():
    assert Outer.Nested().m() == 4 + len("\nless indented than the method\n")
    assert callees(Outer.Nested.m) == ["abs", "len"]


@wrap_calls()
async def agen(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield abs(-i)


def test_async_generators_yield_the_same_values_and_time_their_awaits():
    async def drive():
        return [x async for x in agen(2)]

    assert asyncio.run(drive()) == [0, 1]
    inv = inner_function(agen).last()
    assert [(c.callee, c.site.awaited) for c in inv.calls] == [
        ("range", False), ("asyncio.sleep", True), ("abs", False), ("asyncio.sleep", True), ("abs", False)]


def takes_call(call=None, *args, **kwargs):
    return call, args, kwargs


def passthrough(__call, *args, **kwargs):
    return __call(*args, **kwargs)


@wrap_calls(passthrough)
def star_arguments():
    args, kws = (1, 2), {"z": 3}
    return takes_call(call=5), takes_call(0, *args, **kws), (lambda: abs(-2))()


def test_starred_arguments_and_a_keyword_named_call_reach_the_callee():
    assert star_arguments() == ((5, (), {}), (0, (1, 2), {"z": 3}), 2)


# ---- inner calls as bytes, and their per-site profile -------------------------------------

@wrap_calls()
def workload(pause):
    for _ in range(3):
        abs(-1)
    time.sleep(pause)
    try:
        int("x")
    except ValueError:
        pass


def test_encoded_inner_calls_decode_to_the_same_records():
    workload(0)
    inv = inner_function(workload).last()
    entries, summed = _core.decode_inner_calls(inv.encode())
    assert entries == inv._buffer.records() and summed == {}
    with pytest.raises(callmonitor.CorruptError, match="truncated"):
        _core.decode_inner_calls(inv.encode()[:-1])
    with pytest.raises(callmonitor.CorruptError, match="unknown version"):
        _core.decode_inner_calls(b"\x07\x00\x00")


def test_site_profile_aggregates_invocations_per_call_site():
    from callmonitor.inner import site_profile
    encoded = []
    for pause in (0.001, 0.002, 0.02):
        workload(pause)
        encoded.append(inner_function(workload).last().encode())
    rows = {row.site.callee: row for row in site_profile(inner_function(workload), encoded)}
    assert set(rows) == {"range", "abs", "time.sleep", "int"}
    assert rows["abs"].count == 9 and rows["abs"].invocations == 3
    assert rows["int"].raised == 3 and rows["int"].name == "int"
    sleep = rows["time.sleep"]
    assert sleep.count == 3 and sleep.p50 >= 0.002 and sleep.p95 == sleep.max >= 0.02
    assert sleep.total == pytest.approx(sleep.mean * 3)
    assert site_profile(inner_function(workload), [])[:1] == []


def test_an_invocation_prints_as_a_flat_profile_longest_first():
    workload(0.01)
    text = str(inner_function(workload).last())
    head, columns, first, *rest = text.split("\n")
    assert head.startswith("workload: 6 inner calls in ")
    assert columns.split() == ["line", "callee", "name", "calls", "total", "share"]
    assert first.split()[1:4] == ["time.sleep", "sleep", "1"]
    assert sorted(line.split()[1] for line in rest) == ["abs", "int", "range"]


def uses_private(obj):
    return obj.__hidden  # not in a class: the name is not mangled


def test_a_function_whose_qualname_claims_a_class_it_is_not_in_runs_unwrapped():
    import types
    fake = types.FunctionType(uses_private.__code__, globals(), "uses_private")
    fake.__qualname__ = "Pretend.uses_private"  # would mangle __hidden into _Pretend__hidden
    with pytest.warns(InnerCallsWarning, match="does not match"):
        same = wrap_calls()(fake)
    assert same is fake


ASYNC_LOG = Log()


@wrap_calls(ASYNC_LOG)
async def user_wrapped_coro(seconds):
    return await nap(seconds, abs(-3))


def test_a_user_wrapper_works_on_async_functions_where_recompyle_raises():
    assert asyncio.run(user_wrapped_coro(0)) == 3
    assert ASYNC_LOG.names == ["abs", "nap"]  # the wrapper wraps the call that makes the coroutine
    assert inspect.iscoroutinefunction(user_wrapped_coro)


def test_the_last_invocation_of_a_flat_profiled_function_can_be_inspected():
    assert profiled_fast(4) == 6
    inv = inner_function(profiled_fast).last()
    assert [c.callee for c in inv.calls] == ["range", "sum", "int", "int", "int", "int"]  # in start order
