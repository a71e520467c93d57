"""Callables passed as values, recorded without pickle: bound methods (of objects,
of classes, of built-in types), method descriptors, functools.partial,
staticmethod/classmethod objects, and lambdas/closures as placeholders
(docs/objects.md, "Callables")."""
import functools
import threading

import numpy as np
import pytest

import callmonitor
from callmonitor import Unrestorable
from callmonitor.read.objects import RecordedCallable, RecordedObject, RecordedViewError
from _support import check, describe
from test_object_values import _args, db_of  # noqa: F401  (db_of: the fixture, recording take(*values))

HERE = __name__


class Model:
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return float(np.sum((x - self.w) ** 2))

    @classmethod
    def create(cls, w):
        return cls(w)

    @staticmethod
    def helper(x):
        return x + 1


def scale(x, k=1, *, offset=0):
    return x * k + offset


# -- bound methods ---------------------------------------------------------------------

def test_a_bound_method_is_its_function_by_name_and_its_self_by_state(db_of):
    model = Model(np.arange(4.0))
    db = db_of(model.loss)
    assert db.stats["pickled"] == 0 and db.stats["opaque"] == 0
    (view,) = _args(db)
    # without opt-in: a view that says what it is; its __self__ is the object's view
    assert isinstance(view, RecordedCallable) and isinstance(view, RecordedObject)
    assert repr(view).startswith(f"<recorded bound method Model.loss of <recorded {HERE}.Model (read-only view): w=")
    assert isinstance(view.__self__, RecordedObject)
    np.testing.assert_array_equal(view.__self__.w, np.arange(4.0))
    assert view.__name__ == "loss" and view.__qualname__ == "Model.loss"
    with pytest.raises(RecordedViewError) as e:
        view(np.zeros(4))
    assert "bound method" in str(e.value) and f"allow_import=[{HERE!r}]" in str(e.value)
    # with opt-in: the real bound method of a rebuilt Model
    (real,) = _args(callmonitor.load(callmonitor.output_directory(), allow_import=[HERE]))
    assert real.__func__ is Model.loss and type(real.__self__) is Model
    assert real(np.zeros(4)) == model.loss(np.zeros(4)) == 14.0


def test_a_classmethod_bound_to_its_class_and_a_staticmethod_come_back_as_they_were(db_of):
    (create, helper), = [_args(db_of(Model.create, Model.helper))]
    assert create.__self__ is Model and create.__func__ is Model.create.__func__
    assert type(create(3)) is Model
    assert helper is Model.helper  # a plain function: a reference


def test_a_method_whose_self_holds_itself_keeps_the_cycle(db_of):
    model = Model(2.0)
    model.callback = model.loss
    (real,) = _args(db_of(model, allow_import=[HERE]))
    assert real.callback.__self__ is real and real.callback(np.array([3.0])) == 1.0


def test_a_method_of_an_object_with_an_uncapturable_attribute_keeps_the_rest(db_of):
    model = Model(1.5)
    model.lock = threading.Lock()
    db = db_of(model.loss)
    (view,) = _args(db)
    assert view.__self__.w == 1.5 and isinstance(view.__self__.lock, Unrestorable)
    assert db.stats["pickled"] == 0 and db.stats["opaque"] == 1


def test_built_in_methods_are_bound_to_their_recorded_self(db_of):
    array = np.arange(6.0)
    items = [1, 2]
    db = db_of(items.append, array.sum, dict.fromkeys, "-".join)
    assert db.stats["pickled"] == 0 and db.stats["opaque"] == 0
    append, total, fromkeys, join = _args(db)
    assert append.__self__ == [1, 2] and append.__name__ == "append"
    append(3)
    assert append.__self__ == [1, 2, 3] and items == [1, 2]  # the recorded list, not the caller's
    assert total() == 15.0 and isinstance(total.__self__, np.ndarray)
    assert fromkeys("ab") == {"a": None, "b": None}
    assert join(["x", "y"]) == "x-y"


def test_unbound_methods_of_c_types_are_references(db_of):
    db = db_of(np.ndarray.sum, list.append, object.__init__)
    assert db.stats["pickled"] == 0 and db.stats["opaque"] == 0
    nd_sum, append, init = _args(db)
    assert nd_sum is np.ndarray.sum and append is list.append and init is object.__init__


# -- functools.partial, staticmethod / classmethod objects -----------------------------

def test_a_partial_keeps_its_function_and_frozen_arguments(db_of):
    db = db_of(functools.partial(scale, 3, offset=1))
    assert db.stats["pickled"] == 0
    (p,) = _args(db)
    assert isinstance(p, functools.partial)
    assert p.func is scale and p.args == (3,) and p.keywords == {"offset": 1}
    assert p(k=2) == 7


def test_a_partial_of_a_view_is_a_view_until_allowed(db_of):
    model = Model(np.zeros(2))
    db = db_of(functools.partial(model.loss, np.ones(2)))
    (view,) = _args(db)
    assert isinstance(view, RecordedCallable)
    assert repr(view).startswith("<recorded functools.partial(<recorded bound method Model.loss of ")
    assert isinstance(view.func, RecordedCallable)
    np.testing.assert_array_equal(view.args[0], np.ones(2))
    with pytest.raises(RecordedViewError, match="its func is not rebuilt"):
        view()
    (real,) = _args(callmonitor.load(callmonitor.output_directory(), allow_import=[HERE]))
    assert isinstance(real, functools.partial) and real() == 2.0


def test_staticmethod_and_classmethod_objects_are_rebuilt_around_their_function(db_of):
    s, c = _args(db_of(staticmethod(scale), classmethod(scale)))
    assert type(s) is staticmethod and s.__func__ is scale
    assert type(c) is classmethod and c.__func__ is scale


def test_a_partial_with_attributes_of_its_own_keeps_the_pickle_path(db_of):
    p = functools.partial(scale, 2)
    p.note = "tagged"
    db = db_of(p, allow_pickle=True)
    (back,) = _args(db)
    assert db.stats["pickled"] == 1 and back.note == "tagged" and back(1) == 2


# -- what cannot be found by name --------------------------------------------------------

def test_lambdas_and_closures_are_placeholders_with_their_definition_site(db_of):
    def outer():
        def inner(x):
            return x
        return inner

    line = outer.__code__.co_firstlineno + 1
    db = db_of(lambda x: x, outer(), allow_pickle=True)
    lam, closure = _args(db)
    for value in (lam, closure):
        assert isinstance(value, Unrestorable) and value.type_name == "function"
        assert "defined inside a function" in value.reason and __file__ in value.reason
    assert "<lambda>" in lam.repr
    assert closure.repr == f"{HERE}.test_lambdas_and_closures_are_placeholders_with_their_definition_site" \
                           f".<locals>.outer.<locals>.inner defined at {__file__}:{line}"
    with pytest.raises(AttributeError, match="placeholder"):
        closure.__code__


# -- a real process: a pool maps a partial, an optimiser gets a bound method -------------

@pytest.mark.integration
def test_callables_of_a_script_are_views_in_another_process(tmp_path, run_recorder):
    check(run_recorder('''
        import functools
        from multiprocessing.pool import ThreadPool
        from callmonitor import intercept

        class Model:
            def __init__(self, w):
                self.w = w
            def loss(self, x):
                return (x - self.w) ** 2

        def power(x, k=1):
            return x ** k

        @intercept
        def minimize(fun, x0):
            return fun(x0)

        @intercept
        def run_map(fn, items):
            with ThreadPool(2) as pool:
                return pool.map(fn, items)

        minimize(fun=Model(2.0).loss, x0=5.0)
        run_map(functools.partial(power, k=2), [1, 2, 3])
    ''', tmp_path))
    proc = check(run_recorder('''
        import callmonitor
        db = callmonitor.load("call-monitor")
        _, kw = db.get("__main__.minimize", 1)
        print(repr(kw["fun"])[:61])
        print(kw["fun"].__self__.w)
        (fn, items), _ = db.get("__main__.run_map", 1)
        print(type(fn).__name__, fn.keywords, items)
        print(db.stats["pickled"])
    ''', tmp_path))
    lines = proc.stdout.splitlines()
    assert lines[0] == "<recorded bound method Model.loss of <recorded __main__.Model", describe(proc)
    assert lines[1:] == ["2.0", "RecordedCallable {'k': 2} [1, 2, 3]", "0"], describe(proc)
