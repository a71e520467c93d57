"""The usage flows of callmonitor 0.3's README keep working (test_fn_1, test_fn_2, test_np_1)."""
import re

import numpy as np

import callmonitor
from _support import assert_same, check

# README: "decorate any function with the @intercept decorator" -> call-monitor/test_fn_2/...
# and the Data Structure section: call-monitor with test_fn_1 (2 calls) and test_fn_2 (1 call).
FLOW_FN = '''
from callmonitor import intercept

@intercept
def test_fn_1(x, y):
    pass

@intercept
def test_fn_2(x, y=2, z=3):
    pass

test_fn_1(1, 2)
test_fn_1("a", y=[1, 2])
test_fn_2(1)
'''

# README: test_np_1 with args ['x', 'n'], defaults None, 2 calls, written to call-monitor-1;
# call 1 has the array as positional argument 1, call 2 as keyword n.
FLOW_NP = '''
import numpy as np
from callmonitor import intercept

@intercept
def test_np_1(x, n):
    return x * n

test_np_1(2, np.arange(5))
test_np_1(3, n=np.linspace(0, 1, 4))
'''


def _run_both_flows(tmp_path, run_recorder):
    check(run_recorder(FLOW_FN, tmp_path))
    check(run_recorder(FLOW_NP, tmp_path))
    return tmp_path / "call-monitor", tmp_path / "call-monitor-1"


def test_fn_flow_get_args_and_kwargs(tmp_path, run_recorder):
    first, _ = _run_both_flows(tmp_path, run_recorder)
    db = callmonitor.load(first)
    args, kwargs = db.get("test_fn_1", 1)
    assert_same(([1, 2], {}), (args, kwargs))
    assert_same((["a"], {"y": [1, 2]}), db.get("test_fn_1", 2))
    assert_same(([1], {}), db.get("test_fn_2", 1))
    a = db.get_args("test_fn_2", 1)
    assert (a.x, a.y, a.z) == (1, 2, 3)
    assert len(db) == 3
    assert sorted(f.name for f in db.functions) == ["test_fn_1", "test_fn_2"]


def test_second_run_goes_to_call_monitor_1(tmp_path, run_recorder):
    first, second = _run_both_flows(tmp_path, run_recorder)
    assert [f.name for f in callmonitor.load(second).functions] == ["test_np_1"]
    assert sorted(f.name for f in callmonitor.load(first).functions) == ["test_fn_1", "test_fn_2"]


def test_np_flow_arrays_positional_and_keyword(tmp_path, run_recorder):
    _, second = _run_both_flows(tmp_path, run_recorder)
    db = callmonitor.load(second)
    args, kwargs = db.get("test_np_1", 1)
    assert_same([2, np.arange(5)], args)
    assert kwargs == {}
    args, kwargs = db.get("test_np_1", 2)
    assert_same([3], args)
    assert_same({"n": np.linspace(0, 1, 4)}, kwargs)
    assert_same(np.arange(5) * 2, db.call("test_np_1", 1).result)


def test_repr_of_db_summarises_functions_calls_args_defaults(tmp_path, run_recorder):
    first, second = _run_both_flows(tmp_path, run_recorder)
    text = repr(callmonitor.load(second))
    assert "test_np_1" in text
    assert re.search(r"calls\W+2\b", text), text
    assert "['x', 'n']" in text, text
    assert re.search(r"defaults\W+None", text), text
    text = repr(callmonitor.load(first))
    assert "test_fn_1" in text and "test_fn_2" in text
    assert "['x', 'y', 'z']" in text and re.search(r"defaults\W+\(?2, 3", text), text


def test_registry_repr_shows_the_ndarray_handler():
    text = repr(callmonitor.REGISTRY)
    assert "numpy.ndarray" in text and "NDArrayHandler" in text


def test_settings_flow_multi_threading_before_first_call(tmp_path, run_recorder):
    check(run_recorder('''
        from callmonitor import Settings, intercept

        settings = Settings()
        settings.enable_multi_threading(7)

        @intercept
        def test_fn_2(x, y=2, z=3):
            pass

        test_fn_2(1, z=9)
    ''', tmp_path))
    db = callmonitor.load(tmp_path / "call-monitor")
    assert db.writers == ["tid-7"]
    assert db.get("test_fn_2", 1) == ([1], {"z": 9})
