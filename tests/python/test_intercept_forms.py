"""@intercept on every kind of callable: behaviour unchanged, metadata kept, calls recorded."""
import asyncio
import functools
import inspect
import pickle

import numpy as np
import pytest

import callmonitor
import sample_functions as sf
from callmonitor import intercept
from _support import assert_same


def _exc_type_ok(recorded, cls):
    return recorded in (cls.__name__, cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}")


# -- plain functions and options ------------------------------------------------------

def test_plain_function_returns_value_and_records_args(recorder):
    assert sf.add(3) == 5
    assert sf.add(3, y=10) == 13
    db = recorder.load()
    assert_same(([3], {}), db.get(sf.add, 1))
    assert_same(([3], {"y": 10}), db.get(sf.add, 2))
    assert db.call(sf.add, 2).result == 13


def test_intercept_with_options_form_result_false_keeps_return_but_not_record(recorder):
    assert sf.no_result(21) == 42
    db = recorder.load()
    call = db.call(sf.no_result, 1)
    assert call.args == [21]
    assert call.result is None
    assert call.exception is None


def test_intercept_with_empty_parentheses_works_like_bare(recorder):
    @intercept()
    def local_fn(a):
        return a + 1

    assert local_fn(1) == 2
    assert recorder.load().call(local_fn, 1).result == 2


def test_closure_sees_its_free_variable_and_is_recorded(recorder):
    def make_adder(n):
        @intercept
        def adder(x):
            return x + n
        return adder

    add5, add7 = make_adder(5), make_adder(7)
    assert (add5(1), add7(1)) == (6, 8)
    assert add5.__qualname__.endswith("make_adder.<locals>.adder")
    db = recorder.load()
    total = sum(f.calls for f in db.functions if f.name == "adder")
    assert total == 2


def test_lambda_is_recorded_and_keeps_its_name(recorder):
    square = intercept(lambda x: x * x)
    assert square(9) == 81
    assert square.__name__ == "<lambda>"
    db = recorder.load()
    call = db.call(square, 1)
    assert (call.args, call.result) == ([9], 81)


# -- methods --------------------------------------------------------------------------

def test_instance_method_binds_self(recorder):
    obj = sf.Methods(base=1000)
    assert obj.instance(5) == 1005
    assert sf.Methods.instance(obj, 6) == 1006
    db = recorder.load()
    args, kwargs = db.get("Methods.instance", 1)
    assert len(args) == 2 and args[1] == 5 and kwargs == {}
    # self: a plain user object, recorded by its state; read back as a view (docs/objects.md)
    from callmonitor.read.objects import RecordedObject, recorded_class
    assert isinstance(args[0], RecordedObject) and args[0].base == 1000
    assert recorded_class(args[0]) == "sample_functions.Methods"
    assert db.get("Methods.instance", 2)[0][1] == 6


@pytest.mark.parametrize("name", ["class_above", "class_below"])
def test_classmethod_with_intercept_above_or_below(recorder, name):
    assert getattr(sf.Methods, name)(1) == ("Methods", 1)
    assert getattr(sf.Methods(), name)(2) == ("Methods", 2)
    assert getattr(sf.SubMethods, name)(3) == ("SubMethods", 3)
    db = recorder.load()
    calls = list(db.calls(f"Methods.{name}"))
    assert [c.args[-1] for c in calls] == [1, 2, 3]
    assert [c.result for c in calls] == [("Methods", 1), ("Methods", 2), ("SubMethods", 3)]


@pytest.mark.parametrize("name, op", [("static_above", lambda x, y: x - y),
                                      ("static_below", lambda x, y: x * y)])
def test_staticmethod_with_intercept_above_or_below(recorder, name, op):
    assert getattr(sf.Methods, name)(7) == op(7, 1)
    assert getattr(sf.Methods(), name)(7, y=3) == op(7, 3)
    db = recorder.load()
    assert_same(([7], {}), db.get(f"Methods.{name}", 1))
    assert_same(([7], {"y": 3}), db.get(f"Methods.{name}", 2))   # no self/cls inserted


@pytest.mark.parametrize("name", ["instance", "class_above", "class_below",
                                  "static_above", "static_below"])
def test_method_metadata_preserved(name):
    attr = inspect.getattr_static(sf.Methods, name)
    func = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
    assert func.__name__ == name
    assert func.__qualname__ == f"Methods.{name}"
    assert func.__module__ == "sample_functions"
    assert func.__doc__ and func.__doc__.strip()
    assert inspect.signature(getattr(sf.Methods, name)).parameters.keys() >= {"x"}


# -- async, generators -------------------------------------------------------------------

def test_async_function_runs_under_asyncio_and_is_recorded(recorder):
    assert inspect.iscoroutinefunction(sf.async_double) or inspect.iscoroutinefunction(
        sf.async_double.__wrapped__)
    assert asyncio.run(sf.async_double(21)) == 42
    db = recorder.load()
    assert_same(([21], {}), db.get(sf.async_double, 1))


def test_generator_yields_same_values_and_is_recorded(recorder):
    assert list(sf.count_up(4)) == [0, 1, 2, 3]
    db = recorder.load()
    assert_same(([4], {}), db.get(sf.count_up, 1))


# -- builtins, C functions, partial ---------------------------------------------------------

def test_intercept_numpy_dot_builtin(recorder):
    dot = intercept(np.dot)
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(3.0)
    assert_same(np.dot(a, b), dot(a, b))
    assert dot.__name__ == "dot"
    db = recorder.load()
    args, kwargs = db.get(dot, 1)
    assert_same([a, b], args)
    assert kwargs == {}
    assert_same(np.dot(a, b), db.call(dot, 1).result)


def test_intercept_len_builtin(recorder):
    my_len = intercept(len)
    assert my_len([1, 2, 3]) == 3
    assert my_len.__name__ == "len"
    with pytest.raises(TypeError):
        my_len(5)
    db = recorder.load()
    assert db.get(my_len, 1) == ([[1, 2, 3]], {})
    assert db.call(my_len, 1).result == 3
    exc = db.call(my_len, 2).exception
    assert exc is not None and _exc_type_ok(exc.type, TypeError)


def test_functools_partial(recorder):
    p = intercept(functools.partial(sf.plain_add, 10))
    assert p(5) == 15
    assert p(y=1) == 11
    assert p.__wrapped__.func is sf.plain_add
    db = recorder.load()
    assert db.get(p, 1) == ([10, 5], {})         # the frozen argument is part of the call
    assert db.get(p, 2) == ([10], {"y": 1})
    assert db.call(p, 1).result == 15


# -- metadata ----------------------------------------------------------------------------

def test_function_metadata_is_preserved():
    assert sf.add.__name__ == "plain_add"
    assert sf.add.__qualname__ == "plain_add"
    assert sf.add.__module__ == "sample_functions"
    assert sf.add.__doc__ == sf.plain_add.__doc__
    assert sf.add.__wrapped__ is sf.plain_add
    assert inspect.signature(sf.add) == inspect.signature(sf.plain_add)


def test_signature_with_all_parameter_kinds_and_annotations():
    sig = inspect.signature(sf.full_signature)
    assert str(sig) == "(x, y=2, *rest, z=3, **kw)"
    assert inspect.signature(sf.annotated) == inspect.signature(sf.annotated.__wrapped__)
    assert str(inspect.signature(sf.annotated)) == \
        "(a: int, b: float = 1.5, *, arr: numpy.ndarray = None) -> float"


def test_module_level_interceptor_pickles_by_reference():
    # (sf.add = intercept(plain_add) is an alias under another name: like any
    # wrapper, it cannot pickle by reference.)
    for fn in (sf.identity, sf.annotated):
        data = pickle.dumps(fn)
        assert b"sample_functions" in data
        assert pickle.loads(data) is fn


def test_intercept_is_an_interceptor_type():
    assert isinstance(sf.identity, callmonitor._core.Interceptor)
    assert callable(sf.identity)


# -- behaviour unchanged -------------------------------------------------------------------

def test_return_value_is_the_same_object(recorder):
    obj = {"a": [1, 2]}
    assert sf.return_given(obj) is obj
    assert sf.identity(obj) is obj


def test_exception_propagates_unchanged_and_is_recorded(recorder):
    with pytest.raises(sf.CustomError) as info:
        sf.raise_custom()
    assert info.value is sf.THE_ERROR
    with pytest.raises(ValueError, match="^bad value 7$"):
        sf.raise_value_error("bad value 7")
    err = KeyError("k")
    with pytest.raises(KeyError) as info2:
        sf.raise_given(err)
    assert info2.value is err
    db = recorder.load()
    e1 = db.call(sf.raise_custom, 1).exception
    assert _exc_type_ok(e1.type, sf.CustomError) and e1.message == "the very same instance"
    e2 = db.call(sf.raise_value_error, 1).exception
    assert _exc_type_ok(e2.type, ValueError) and e2.message == "bad value 7"
    assert db.call(sf.raise_value_error, 1).result is None


def test_wrong_call_raises_the_same_typeerror_as_the_original(recorder):
    with pytest.raises(TypeError) as wrapped:
        sf.add()
    with pytest.raises(TypeError) as original:
        sf.plain_add()
    assert str(wrapped.value) == str(original.value)


def test_intercept_refuses_non_callable():
    with pytest.raises(TypeError):
        intercept(42)


# -- strict mode ---------------------------------------------------------------------------

def test_strict_intercept_raises_on_uncapturable_value(recorder):
    import threading

    ran = []

    @intercept(strict=True)
    def strict_fn(x):
        ran.append(x)
        return 1

    assert strict_fn(5) == 1
    with pytest.raises(TypeError):
        strict_fn(threading.Lock())
    assert ran == [5]                              # captured before the call: it did not run


def test_configure_strict_raises_and_non_strict_does_not(recorder):
    import threading

    @intercept
    def g(x):
        return "ran"

    assert g(threading.Lock()) == "ran"            # default: a placeholder, never raised
    callmonitor.close()                            # settings apply to the next session
    callmonitor.configure(strict=True)
    try:
        with pytest.raises(TypeError):
            g(threading.Lock())
    finally:
        callmonitor.close()
        callmonitor.configure(strict=False)


def test_stats_has_the_documented_counters(recorder):
    sf.identity(1)
    stats = callmonitor.stats()
    assert {"opaque", "pickled", "capture_errors", "dropped_calls"} <= set(stats)
    assert stats["dropped_calls"] == 0 and stats["capture_errors"] == 0
