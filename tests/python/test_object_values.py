"""Objects recorded by their state (no pickle), references by name, read-only
views, rebuilding under allow_import / allow_pickle, and per-value failure
(docs/objects.md)."""
import collections
import dataclasses
import enum
import threading
import typing

import numpy as np
import pytest

import callmonitor
from callmonitor import Unrestorable, intercept
from callmonitor.read.objects import RecordedObject, RecordedViewError, recorded_class, recorded_state
from callmonitor.read.values import PlaceholderError
from _support import callmonitor_cli as cli, check, describe, run_python

HERE = __name__  # the module these classes are recorded under
INITS = []       # __init__ calls: rebuilding must not add any


class Grid:
    def __init__(self, n):
        INITS.append(self)
        self.n = n
        self.u = np.linspace(0.0, 1.0, n)
        self.dx = 1.0 / (n - 1)

    def solve(self):
        return self.u.sum()


@dataclasses.dataclass(frozen=True)
class Frozen:
    x: int
    tags: list


@dataclasses.dataclass(slots=True)
class Slotted:
    a: int
    b: float = 2.5


class Private:
    __slots__ = ("__secret", "public", "unset")

    def __init__(self):
        self.__secret = 7
        self.public = "p"

    def secret(self):
        return self.__secret


class WithState:
    def __init__(self):
        self.a = 1
        self.cache = object()  # dropped by __getstate__

    def __getstate__(self):
        return {"a": self.a}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.restored = True


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Level(enum.IntEnum):
    LOW = 10


class Perm(enum.Flag):
    R = 1
    W = 2


Point = collections.namedtuple("Point", "x y")


class Pair(typing.NamedTuple):
    left: int
    right: str = "r"


class Reduced:
    """Customises pickling: stays on the pickle path."""

    def __init__(self, v):
        self.v = v

    def __reduce__(self):
        return (Reduced, (self.v,))


@intercept
def take(*values):
    return None


@pytest.fixture
def db_of(recorder):
    """db_of(*values, **load_kw): records take(*values) and loads it."""
    def record(*values, **load):
        take(*values)
        assert callmonitor.flush() is True
        db = callmonitor.load(callmonitor.output_directory(), **load)
        recorder._open.append(db)
        return db
    return record


def _args(db, n=1):
    args, _ = db.get(f"{HERE}.take", n)
    return args


# -- recording: by state, not pickle -------------------------------------------------

def test_plain_objects_are_recorded_by_their_state_without_pickle(db_of):
    db = db_of(Grid(5), Frozen(1, [2]), Slotted(3), Private(), WithState(), Color.RED, Point(1, 2), Pair(4))
    assert db.stats["pickled"] == 0 and db.stats["opaque"] == 0
    grid, frozen, slotted, private, state, color, point, pair = _args(db)
    assert all(isinstance(v, RecordedObject) for v in _args(db))
    assert recorded_class(grid) == f"{HERE}.Grid"
    assert grid.n == 5 and grid.dx == 0.25
    np.testing.assert_array_equal(grid.u, np.linspace(0.0, 1.0, 5))
    assert frozen.x == 1 and frozen.tags == [2]
    assert slotted.a == 3 and slotted.b == 2.5
    assert recorded_state(private) == {"_Private__secret": 7, "public": "p"}  # an unset slot is not state
    assert recorded_state(state) == {"a": 1}                                   # what __getstate__ returned
    assert color.name == "RED" and color.value == 1
    assert (point.x, point.y) == (1, 2) and tuple(point) == (1, 2) and point[1] == 2 and len(point) == 2
    assert pair.left == 4 and pair.right == "r"


def test_a_view_says_what_it_is_and_how_to_get_the_object(db_of):
    (grid,) = _args(db_of(Grid(3)))
    assert repr(grid).startswith(f"<recorded {HERE}.Grid (read-only view): n=3, u=")
    with pytest.raises(RecordedViewError) as e:
        grid.solve()
    message = str(e.value)
    assert f"{HERE}.Grid.solve" in message and "read-only view" in message
    assert "n, u, dx" in message and f"allow_import=[{HERE!r}]" in message
    assert isinstance(e.value, AttributeError)      # hasattr() and getattr(v, n, default) keep working
    assert not hasattr(grid, "solve") and getattr(grid, "missing", 5) == 5
    with pytest.raises(RecordedViewError, match="read-only"):
        grid.n = 4
    assert dir(grid) == ["dx", "n", "u"]


def test_an_attribute_that_cannot_be_captured_becomes_a_placeholder_alone(db_of):
    grid = Grid(4)
    grid.lock = threading.Lock()
    db = db_of(grid)
    (view,) = _args(db)
    assert isinstance(view.lock, Unrestorable) and "lock" in view.lock.type_name
    assert "pickle" in view.lock.reason
    assert view.n == 4 and view.u.shape == (4,)
    assert db.stats["opaque"] == 1


def test_arrays_inside_objects_are_payloads_stored_once(db_of):
    big = np.arange(200_000, dtype=np.float64)    # 1.6 MB
    a, b = Grid(3), Grid(3)
    a.u = b.u = big                                # the same array in two objects
    c = Grid(3)
    c.u = big.copy()                               # equal bytes, another object
    db = db_of(a, b, c, {"nested": [c]})
    sizes = db.sizes
    assert sizes["blobs"] == 1, sizes
    assert big.nbytes <= sizes["blob_bytes"] < 1.1 * big.nbytes, sizes  # LMDB pages of one copy
    va, vb, vc, d = _args(db)
    np.testing.assert_array_equal(va.u, big)
    np.testing.assert_array_equal(d["nested"][0].u, big)
    assert vc is d["nested"][0]                   # one object: one view


def test_shared_and_cyclic_objects_keep_their_identity(db_of):
    g = Grid(3)
    g.me = g
    g.parts = [g]
    view, again = _args(db_of(g, g))
    assert view is again and view.me is view and view.parts[0] is view
    rebuilt, again = _args(db_of(g, g, allow_import=[HERE]), 2)
    assert type(rebuilt) is Grid and rebuilt is again and rebuilt.me is rebuilt and rebuilt.parts[0] is rebuilt


# -- rebuilding under opt-in -----------------------------------------------------------

def test_allow_import_rebuilds_every_class_kind_without_running_init(db_of):
    values = (Grid(5), Frozen(1, [2]), Slotted(3), Private(), WithState(), Color.GREEN, Level.LOW,
              Perm.R | Perm.W, Point(1, 2), Pair(4), Reduced(9))
    inits = len(INITS)
    db = db_of(*values, allow_import=[HERE])
    grid, frozen, slotted, private, state, color, level, perm, point, pair, reduced = _args(db)
    assert len(INITS) == inits                    # __init__ did not run
    assert type(grid) is Grid and grid.solve() == pytest.approx(2.5)
    assert frozen == Frozen(1, [2]) and slotted == Slotted(3)
    assert type(private) is Private and private.secret() == 7 and not hasattr(private, "unset")
    assert type(state) is WithState and state.restored and not hasattr(state, "cache")
    assert color is Color.GREEN and level is Level.LOW and perm == Perm.R | Perm.W
    assert point == Point(1, 2) and type(point) is Point and pair == Pair(4) and type(pair) is Pair
    assert type(reduced) is Reduced and reduced.v == 9   # its pickle, through the allowed module


def test_allow_pickle_rebuilds_too(db_of):
    (grid, color) = _args(db_of(Grid(3), Color.RED, allow_pickle=True))
    assert type(grid) is Grid and color is Color.RED


def test_allow_import_is_narrow(db_of):
    db = db_of(Grid(3), Reduced(1), allow_import=["numpy"])
    grid, reduced = _args(db)
    assert isinstance(grid, RecordedObject)
    assert isinstance(reduced, Unrestorable) and f"allow_import=[..., {HERE.split('.')[0]!r}]" in reduced.reason


def test_allow_import_refuses_a_bare_string(recorder):
    take(1)
    callmonitor.flush()
    with pytest.raises(TypeError, match=r"allow_import=\['mypkg'\]"):
        callmonitor.load(callmonitor.output_directory(), allow_import="mypkg")


# -- references by name ----------------------------------------------------------------

def test_functions_classes_and_modules_are_recorded_by_name(db_of):
    db = db_of(np.sum, int, Grid, np.linalg, len, lambda x: x)
    assert db.stats["pickled"] == 0 and db.stats["opaque"] == 0
    fsum, cls_int, cls_grid, linalg, length, lam = _args(db)
    assert fsum is np.sum and cls_int is int and cls_grid is Grid and linalg is np.linalg and length is len
    assert isinstance(lam, Unrestorable) and "defined inside a function" in lam.reason


def test_a_reference_to_a_module_not_imported_is_a_placeholder_until_allowed(tmp_path, run_recorder):
    (tmp_path / "farpkg.py").write_text("def kernel(x):\n    return x\n")
    check(run_recorder('''
        from callmonitor import intercept
        import farpkg
        intercept(lambda f: None)(farpkg.kernel)
    ''', tmp_path, env={"PYTHONPATH": tmp_path}))
    proc = check(run_recorder('''
        import sys, callmonitor
        db = callmonitor.load("call-monitor")
        fn = db.functions[0].full_name
        (ref,), _ = db.get(fn, 1)
        print(type(ref).__name__, "farpkg" in sys.modules, "allow_import=['farpkg']" in ref.reason)
        db = callmonitor.load("call-monitor", allow_import=["farpkg"])
        (ref,), _ = db.get(fn, 1)
        print(ref.__module__, ref.__name__, ref(3))
    ''', tmp_path, env={"PYTHONPATH": tmp_path}))
    assert proc.stdout == "Unrestorable False True\nfarpkg kernel 3\n", describe(proc)


# -- per-value failure -----------------------------------------------------------------

def test_unrestorable_attribute_access_says_it_is_a_placeholder():
    u = Unrestorable("mypkg.Grid", "<Grid>", "its class is missing")
    with pytest.raises(PlaceholderError, match="placeholder for a recorded mypkg.Grid.*its class is missing"):
        u.solve()
    assert not hasattr(u, "u") and u.recorded is None


def test_a_class_missing_in_the_reader_is_unrestorable_and_keeps_its_recorded_view(tmp_path, run_recorder):
    (tmp_path / "gonepkg.py").write_text(
        "class Thing:\n    def __init__(self):\n        self.v = 5\n")
    check(run_recorder('''
        from callmonitor import intercept
        import gonepkg
        intercept(lambda t, n: None)(gonepkg.Thing(), 7)
    ''', tmp_path, env={"PYTHONPATH": tmp_path}))
    (tmp_path / "gonepkg.py").write_text("# Thing was removed\n")
    proc = check(run_recorder('''
        import callmonitor
        db = callmonitor.load("call-monitor", allow_import=["gonepkg"])
        (thing, n), _ = db.get(db.functions[0].full_name, 1)
        print(type(thing).__name__, n, thing.recorded.v)
        print(thing.reason)
    ''', tmp_path, env={"PYTHONPATH": tmp_path}))
    first, reason = proc.stdout.splitlines()
    assert first == "Unrestorable 7 5", describe(proc)
    assert "gonepkg has no Thing" in reason and ".recorded" in reason


MAIN_SCRIPT = '''
import threading
import numpy as np
from callmonitor import intercept

class Model:                       # defined in the recorded script: __main__.Model
    def __init__(self):
        self.u = np.arange(4.0)
        self.lock = threading.Lock()

class Tricky:                      # pickled (custom __reduce__); its class is in __main__ too
    def __reduce__(self):
        return (Tricky, ())

@intercept
def step(model, tricky, dt):
    return dt * 2

step(Model(), Tricky(), 0.5)
'''


def test_show_allow_pickle_on_objects_of_the_recorded_script_loads_the_call(tmp_path):
    check(run_python(MAIN_SCRIPT, tmp_path))
    proc = check(cli("show", tmp_path / "call-monitor", "step", 1, "--allow-pickle", cwd=tmp_path))
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = {l.split("=")[0].strip(): l for l in proc.stdout.splitlines() if " = " in l}
    assert "<Unrestorable __main__.Model" in lines["model"] and "main script" in lines["model"], proc.stdout
    assert "<Unrestorable __main__.Tricky" in lines["tricky"] and "main script" in lines["tricky"], proc.stdout
    assert "dt = 0.5" in proc.stdout and "returned  1.0" in proc.stdout


def test_show_without_opt_in_prints_the_recorded_view(tmp_path):
    check(run_python(MAIN_SCRIPT, tmp_path))
    proc = check(cli("show", tmp_path / "call-monitor", "step", 1, cwd=tmp_path))
    line = next(l for l in proc.stdout.splitlines() if l.strip().startswith("model = "))
    assert "<recorded __main__.Model (read-only view): u=array([0., 1., 2., 3.])" in line, proc.stdout
    assert "lock=<Unrestorable _thread.lock" in line
    js = check(cli("show", tmp_path / "call-monitor", "step", 1, "--json", cwd=tmp_path)).stdout
    assert '"recorded": {' in js and '"class": "__main__.Model"' in js


def test_show_allow_import_rebuilds_objects_of_a_users_module(tmp_path):
    (tmp_path / "shapes.py").write_text(
        "class Box:\n    def __init__(self, w):\n        self.w = w\n"
        "    def __repr__(self):\n        return f'Box(w={self.w})'\n")
    check(run_python('''
        from callmonitor import intercept
        from shapes import Box

        @intercept
        def measure(b):
            pass

        measure(Box(3))
    ''', tmp_path, env={"PYTHONPATH": tmp_path}))
    fn = "measure"
    plain = check(cli("show", tmp_path / "call-monitor", fn, 1, cwd=tmp_path)).stdout
    assert "<recorded shapes.Box (read-only view): w=3>" in plain and "--allow-import" in plain, plain
    rebuilt = check(cli("show", tmp_path / "call-monitor", fn, 1, "--allow-import", "shapes", cwd=tmp_path)).stdout
    assert "b = Box(w=3)" in rebuilt, rebuilt


@intercept
def integrate(grid, how=np.sum):
    return how(grid.u) * grid.dx


def test_replay_rebuilds_the_object_and_the_function_reference(recorder):
    integrate(Grid(11))
    assert callmonitor.flush() is True
    with callmonitor.load(callmonitor.output_directory(), allow_import=[HERE]) as db:
        result = db.replay(f"{HERE}.integrate", 1)
        assert result.status == "passed", result
    with callmonitor.load(callmonitor.output_directory()) as db:  # a view is not the object
        result = db.replay(f"{HERE}.integrate", 1)
        assert result.status == "error" and f"allow_import=[{HERE!r}]" in result.error, result


def test_a_view_pickles_and_copies_as_a_view(db_of):
    import copy
    import pickle
    (view,) = _args(db_of(Grid(3)))
    for again in (pickle.loads(pickle.dumps(view)), copy.deepcopy(view)):
        assert isinstance(again, RecordedObject) and recorded_class(again) == f"{HERE}.Grid"
        assert again.n == 3 and list(again.u) == [0.0, 0.5, 1.0]


def test_api_derivation_types_objects_by_their_class(db_of):
    db = db_of(Grid(3), Grid, np.sum, Color.RED)
    take_api = db.api()[f"{HERE}.take"]
    types = take_api.parameters[0].types  # *values: one type per value
    assert types == {f"{HERE}.Grid": 1, f"type[{HERE}.Grid]": 1, "Callable[..., Any]": 1, f"{HERE}.Color": 1}, types
