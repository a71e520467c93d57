"""callmonitor.watch / unwatch: a package's public callables recorded in place,
names bound elsewhere and late imports covered, the caller filter, summaries,
and every attribute put back by identity."""
import importlib
import inspect
import itertools
import pickle
import pydoc
import sys
import textwrap
import types

import numpy as np
import pytest

import callmonitor
from callmonitor import _core
from callmonitor.trace.summary import ValueSummary

_SERIAL = itertools.count()

PACKAGE = {
    "__init__.py": """
        import math
        from callmonitor import intercept
        from .core import scale, Grid
        from . import core

        def twice(x):
            return scale(x, 2)          # the package calling itself

        def _private(x):
            return x

        sqrt = math.sqrt                # another module's builtin: not this package's

        @intercept
        def decorated(x):
            return x + 100
    """,
    "core.py": """
        def scale(x, k=1):
            return x * k

        class Grid:
            def __init__(self, n):
                self.n = n

            def size(self):
                return self.n * 2

            @staticmethod
            def unit():
                return 1

            @classmethod
            def make(cls, n):
                return cls(n)

            def _hidden(self):
                return 0
    """,
    "late.py": """
        from .core import scale as scale_ref

        def late_fn(x):
            return x + 1
    """,
}

USER = """
    from {pkg} import scale
    from {pkg}.core import Grid

    def use(x):
        return scale(x, 3)

    def make():
        return Grid(4).size()
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A fresh package `wpkg_N` (and a module `wuser_N` that imported names
    from it) on sys.path; both forgotten afterwards."""
    n = next(_SERIAL)
    pkg, user = f"wpkg_{n}", f"wuser_{n}"
    (tmp_path / pkg).mkdir()
    for name, text in PACKAGE.items():
        (tmp_path / pkg / name).write_text(textwrap.dedent(text))
    (tmp_path / f"{user}.py").write_text(textwrap.dedent(USER.format(pkg=pkg)))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    mod = importlib.import_module(pkg)
    usr = importlib.import_module(user)
    yield types.SimpleNamespace(name=pkg, module=mod, user=usr)
    callmonitor.unwatch()
    for m in [m for m in sys.modules if m == pkg or m.startswith(pkg + ".") or m == user]:
        del sys.modules[m]


def _snapshot(*namespaces):
    return [(ns, dict(vars(ns))) for ns in namespaces]


def _assert_restored(snapshot):
    for ns, before in snapshot:
        now = vars(ns)
        changed = [k for k in before if now.get(k) is not before[k]]
        assert not changed, f"{ns!r}: not restored: {changed}"


def _calls(db, name):
    return [c.args for c in db.calls(name)] if name in {f.full_name for f in db.functions} else []


def test_watch_records_functions_methods_constructors_and_names_bound_before(recorder, package):
    pkg, user = package.module, package.user
    snap = _snapshot(pkg, pkg.core, pkg.core.Grid, user)
    w = callmonitor.watch(package.name)
    assert pkg.scale is pkg.core.scale is user.scale  # one wrapper wherever the name is bound
    assert user.use(2) == 6
    assert user.make() == 8
    assert pkg.Grid.unit() == 1 and pkg.Grid.make(3).n == 3
    assert pkg.sqrt is sys.modules["math"].sqrt  # not the package's: left alone
    callmonitor.unwatch(w)
    _assert_restored(snap)
    db = recorder.load()
    names = {f.full_name for f in db.functions}
    core = f"{package.name}.core"
    assert _calls(db, f"{core}.scale") == [[2, 3]]
    assert {f"{core}.Grid.__init__", f"{core}.Grid.size", f"{core}.Grid.unit",
            f"{core}.Grid.make"} <= names
    assert not any("_hidden" in n or "_private" in n for n in names)


def test_calls_of_the_package_into_itself_are_not_recorded_unless_asked(recorder, package):
    pkg = package.module
    with callmonitor.watch(package.name):
        assert pkg.twice(5) == 10           # from this test module: recorded; its inner scale: not
    with callmonitor.watch(package.name, from_modules=[package.name]):
        assert pkg.twice(6) == 12           # only the package's own calls: the inner scale
    db = recorder.load()
    assert _calls(db, f"{package.name}.twice") == [[5]]
    assert _calls(db, f"{package.name}.core.scale") == [[6, 2]]


def test_from_modules_records_only_calls_made_from_those_modules(recorder, package):
    pkg, user = package.module, package.user
    with callmonitor.watch(package.name, from_modules=[user.__name__]):
        pkg.scale(1, 1)                     # from this test: filtered out
        user.use(7)                         # from the user module: recorded
    db = recorder.load()
    assert _calls(db, f"{package.name}.core.scale") == [[7, 3]]


def test_caller_filter_matches_dotted_prefixes():
    opts = _core.WatchOptions(allow=["pint", "a.b"], deny=["numpy"])
    assert opts.allows("pint") and opts.allows("pint.testsuite.test_x") and opts.allows("a.b.c")
    assert not opts.allows("pintx") and not opts.allows("a.bc") and not opts.allows("a")
    default = _core.WatchOptions(deny=["numpy"])
    assert default.allows("__main__") and default.allows("numpyro")
    assert not default.allows("numpy") and not default.allows("numpy.core.fromnumeric")
    with pytest.raises(TypeError):
        _core.WatchOptions(allow=[1])


def test_modules_imported_after_the_watch_are_covered_and_restored(recorder, package):
    w = callmonitor.watch(package.name)
    late = importlib.import_module(f"{package.name}.late")
    assert late.late_fn(1) == 2
    assert late.scale_ref is package.module.scale   # bound to the wrapper on import
    assert late.__loader__.__class__.__name__ != "_Loader"  # the module sees its own loader
    callmonitor.unwatch(w)
    assert late.scale_ref is package.module.core.scale
    assert isinstance(late.late_fn, types.FunctionType)
    assert not isinstance(package.module.scale, _core.Interceptor)
    db = recorder.load()
    assert _calls(db, f"{package.name}.late.late_fn") == [[1]]
    assert not any(type(f).__name__ == "WatchFinder" for f in sys.meta_path)


def test_functions_already_intercepted_are_recorded_once(recorder, package):
    before = package.module.decorated
    with callmonitor.watch(package.name):
        assert package.module.decorated is before
        assert package.module.decorated(1) == 101
    db = recorder.load()
    assert [f.full_name for f in db.functions if f.name == "decorated"] == [f"{package.name}.decorated"]
    assert db.functions[[f.name for f in db.functions].index("decorated")].calls == 1


def test_bad_watch_requests_get_clear_errors(package):
    with pytest.raises(callmonitor.WatchError, match="cannot watch"):
        callmonitor.watch("no_such_module_anywhere")
    with pytest.raises(callmonitor.PolicyNotSupportedError, match="configure"):
        callmonitor.watch(package.name, max_db_bytes=100)  # the database's, not a function's
    with pytest.raises(ValueError, match="every"):
        callmonitor.watch(package.name, every=0)
    with pytest.raises(TypeError):
        callmonitor.watch(package.name, evry=2)
    with pytest.raises(callmonitor.WatchError, match="values"):
        callmonitor.watch(package.name, values="some")
    with callmonitor.watch(package.name):
        with pytest.raises(callmonitor.WatchError, match="already watched"):
            callmonitor.watch(package.name)
    with pytest.raises(callmonitor.WatchError, match="not watched"):
        callmonitor.unwatch(package.name)


# -- numpy ------------------------------------------------------------------------

NUMPY_NAMES = ("add", "multiply", "mean", "linspace", "array", "concatenate", "sum")


def _numpy_snapshot():
    return _snapshot(np, np.core.umath, np.core.fromnumeric, np.linalg, np.core.numeric)


def test_a_watched_ufunc_is_still_a_ufunc(recorder):
    originals = {n: getattr(np, n) for n in NUMPY_NAMES}
    doc = pydoc.render_doc(np.add)
    sig = inspect.signature(np.mean)
    snap = _numpy_snapshot()
    with callmonitor.watch("numpy"):
        assert np.add is not originals["add"] and isinstance(np.add, _core.Interceptor)
        assert isinstance(np.add, np.ufunc) and np.add.__class__ is np.ufunc
        assert (np.add.nin, np.add.nout, np.add.identity, np.add.__name__) == (2, 1, 0, "add")
        assert np.add.reduce([1, 2, 3]) == 6
        assert np.add.accumulate([1, 2, 3]).tolist() == [1, 3, 6]
        assert np.add.outer([1, 2], [10, 20]).tolist() == [[11, 21], [12, 22]]
        a = np.zeros(3)
        np.add.at(a, [0, 0, 2], 1)
        assert a.tolist() == [2, 0, 1]
        assert repr(np.add) == "<ufunc 'add'>"
        assert pickle.loads(pickle.dumps(np.add)) is np.add
        assert inspect.signature(np.mean) == sig
        first_doc_line = np.add.__doc__.splitlines()[0]
        assert first_doc_line in pydoc.render_doc(np.add) and first_doc_line in doc

        class Holder:  # a ufunc as a class attribute does not bind; a function does
            f = np.add
        assert Holder().f(1, 2) == 3
        assert np.mean(np.arange(4.0)) == 1.5
    _assert_restored(snap)
    assert all(getattr(np, n) is originals[n] for n in NUMPY_NAMES)
    db = recorder.load()
    names = {f.full_name for f in db.functions}
    assert {"numpy.add", "numpy.add.reduce", "numpy.add.accumulate", "numpy.add.outer",
            "numpy.add.at", "numpy.mean", "numpy.arange"} <= names
    assert db.call("numpy.add.outer", 1).args == [[1, 2], [10, 20]]


def test_summary_values_keep_types_dtypes_shapes_and_short_literals(recorder):
    with callmonitor.watch("numpy", values="summary"):
        np.add(np.ones((20, 3), dtype=np.float32), 2.5)
        np.full(3, "x" * 200)
    db = recorder.load()
    call = db.call("numpy.add", 1)
    assert call.args == [ValueSummary("numpy.ndarray", dtype="float32", shape=(20, 3)), 2.5]
    assert call.result == ValueSummary("numpy.ndarray", dtype="float32", shape=(20, 3))
    args = db.call("numpy.full", 1).args
    assert args[0] == 3 and args[1] == ValueSummary("str", length=200)


def test_summaries_keep_literals_and_shapes_and_name_everything_else():
    from callmonitor.trace.summary import summarize
    assert summarize((2, 3)) == (2, 3) and summarize([1.5, None, "x"]) == [1.5, None, "x"]
    # numpy arrays and scalars of up to 96 bytes take less room than their summary: kept
    for short in (np.float32(1), np.arange(12.0), np.zeros((2, 0), dtype="<M8[s]"), np.ones((3, 4), "<i8")):
        assert summarize(short) is short
    assert summarize(np.arange(13.0)) == ValueSummary("numpy.ndarray", dtype="float64", shape=(13,))
    assert summarize(np.array([None] * 3)) == ValueSummary("numpy.ndarray", dtype="object", shape=(3,))
    assert summarize(b"y" * 100) == ValueSummary("bytes", length=100)
    assert summarize(2 ** 70) == ValueSummary("int")
    assert summarize({"a": 1}) == ValueSummary("dict", length=1)
    assert summarize(tuple(range(20))) == ValueSummary("tuple", length=20)
    assert summarize(np.add) == ValueSummary("numpy.ufunc")
    assert summarize(np.zeros((2, 20), dtype="<M8[s]")) == ValueSummary(
        "numpy.ndarray", dtype="datetime64[s]", shape=(2, 20))


# A workload of numpy calls on arrays of many sizes (1 to 10,000 elements),
# each call's arrays distinct (no payload is shared between calls).
_SIZES = (1, 8, 12, 13, 100, 10_000)


def _record_workload(recorder, values):
    callmonitor.close()
    callmonitor.configure(output=str(recorder.tmp_path / f"cm-{values}"))
    rng = np.random.default_rng(7)
    inputs = {n: [rng.random(n) for _ in range(200)] for n in _SIZES}
    with callmonitor.watch("numpy", values=values):
        for n in _SIZES:
            for a in inputs[n]:
                np.multiply(a, 2.0)
                np.mean(a)
    db = recorder.load()
    sizes = db.sizes
    return sizes["call_bytes"] + sizes["blob_bytes"], len(db)


def test_summary_mode_is_smaller_on_disk_than_full_mode(recorder):
    full, full_calls = _record_workload(recorder, "full")
    summary, summary_calls = _record_workload(recorder, "summary")
    assert summary_calls == full_calls == 2 * 200 * len(_SIZES)
    assert summary < full / 50, (summary, full)   # the 10,000-element arrays dominate the full run


@pytest.mark.parametrize("n", [1, 8, 12, 13, 16, 100])
def test_a_summarized_array_never_takes_more_room_than_the_array(n):
    from callmonitor.trace.summary import summarize
    a = np.arange(float(n))
    assert len(_core.encode_value(summarize(a))) <= len(_core.encode_value(a))


def test_watch_applies_capture_policies_to_every_watched_callable(recorder, package):
    with callmonitor.watch(package.name, every=3):
        for i in range(7):
            package.user.use(i)      # calls of scale from outside the package
    db = recorder.load()
    [f] = [f for f in db.functions if f.name == "scale"]
    assert (f.seen, f.kept) == (7, 3)                    # calls 1, 4, 7
    assert [c.invocation for c in db.calls(f.full_name)] == [1, 4, 7]
    with pytest.raises(callmonitor.CallNotRecordedError, match="every=3"):
        db.get(f.full_name, 2)


ASYNC_PACKAGE = '''
import asyncio
from callmonitor import intercept


async def fetch(x, delay=0.05):
    await asyncio.sleep(delay)
    if x < 0:
        raise ValueError(f"negative {x}")
    return x * 10


async def fetch_twice(x):
    return await fetch(x, 0.0) + await fetch(x, 0.0)   # the package calling itself


def count(n):
    for i in range(n):
        yield i
    return f"counted {n}"


async def ticks(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


@intercept
def decorated_gen(n):
    yield from range(n)


class Source:
    def items(self, n):
        yield from range(n)
'''


@pytest.fixture
def async_package(tmp_path, monkeypatch):
    n = next(_SERIAL)
    name = f"wasync_{n}"
    (tmp_path / f"{name}.py").write_text(ASYNC_PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield types.SimpleNamespace(name=name, module=importlib.import_module(name))
    callmonitor.unwatch()
    sys.modules.pop(name, None)


def test_watched_coroutine_and_generator_functions_record_the_whole_call(recorder, async_package):
    # GIVEN a watched module of async def, generator and async generator functions
    # WHEN they are awaited / iterated THEN each records what the awaited call returned
    # or raised over the whole await, the generator's return value and item count, and
    # the watched attributes stay of the same kind for inspect and asyncio.
    import asyncio
    m = async_package.module
    original = m.fetch
    with callmonitor.watch(async_package.name):
        assert m.fetch is not original and m.fetch.__wrapped__ is original   # patched in place
        assert inspect.iscoroutinefunction(m.fetch) and asyncio.iscoroutinefunction(m.fetch)
        assert inspect.isgeneratorfunction(m.count) and inspect.isasyncgenfunction(m.ticks)
        assert inspect.isgeneratorfunction(m.Source.items)
        assert asyncio.run(m.fetch(4)) == 40
        with pytest.raises(ValueError, match="negative -1"):
            asyncio.run(m.fetch(-1))
        assert asyncio.run(m.fetch_twice(2)) == 40      # its inner fetches: the package's own calls
        assert list(m.count(3)) == [0, 1, 2]
        assert list(m.Source().items(2)) == [0, 1]

        async def consume():
            return [i async for i in m.ticks(2)]
        assert asyncio.run(consume()) == [0, 1]
        assert list(m.decorated_gen(2)) == [0, 1]       # @intercept's own: recorded once
    db = recorder.load()
    fetch = [(c.args, c.outcome, c.result) for c in db.calls(f"{async_package.name}.fetch")]
    assert fetch == [([4], "returned", 40), ([-1], "raised", None)]
    first = db.call(f"{async_package.name}.fetch", 1)
    assert first.duration >= 0.045                      # the sleep is inside the call
    assert db.call(f"{async_package.name}.fetch", 2).exception.type == "ValueError"
    assert [c.args for c in db.calls(f"{async_package.name}.fetch_twice")] == [[2]]
    count = db.call(f"{async_package.name}.count", 1)
    assert (count.outcome, count.result, count.yields) == ("returned", "counted 3", 3)
    assert db.call(f"{async_package.name}.Source.items", 1).yields == 2
    ticks = db.call(f"{async_package.name}.ticks", 1)
    assert (ticks.outcome, ticks.yields) == ("returned", 2)
    assert db.call(f"{async_package.name}.decorated_gen", 1).yields == 2
    assert [f.calls for f in db.functions if f.name == "decorated_gen"] == [1]
    assert m.fetch is original                           # put back: the original


def test_watched_coroutine_called_from_outside_from_modules_is_not_recorded(recorder, async_package):
    import asyncio
    m = async_package.module
    with callmonitor.watch(async_package.name, from_modules=["no_such_caller"]):
        assert asyncio.run(m.fetch(1, 0.0)) == 10
        assert list(m.count(2)) == [0, 1]
        assert list(m.decorated_gen(1)) == [0]          # @intercept's own: recorded whoever calls
    db = recorder.load()
    assert {f.name: f.calls for f in db.functions} == {"decorated_gen": 1}
