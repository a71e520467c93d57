"""The names callmonitor 0.3 exported keep working: rc, DB, CONTEXT.new(),
SETTINGS, NPHandler, DefaultHandler, Args, VERSION (legacy_api.py)."""
import inspect

import numpy as np
import pytest

import callmonitor
from _support import check
from test_mpi import mpirun_python


def test_version_is_a_tuple_of_the_package_version():
    assert callmonitor.VERSION == tuple(int(p) for p in callmonitor.__version__.split("."))


def test_db_is_the_class_load_returns(recorded_db):
    with callmonitor.load(recorded_db) as db:
        assert isinstance(db, callmonitor.DB)


def test_settings_is_the_settings_singleton():
    assert callmonitor.SETTINGS is callmonitor.Settings()


@pytest.mark.integration
def test_mpi_monitor_style_script_with_rc_under_mpirun(tmp_path):
    """0.3's test/mpi_monitor.py: `from callmonitor import intercept, rc`, then
    rc(multi_threading=True, pid=rank, tident=0) before the first call."""
    proc = mpirun_python("""
        from mpi4py import MPI
        from callmonitor import intercept, rc

        @intercept
        def test_fn_1(x, y, z=3):
            pass

        @intercept
        def test_fn_2(x, y=2, z=3):
            pass

        rc(multi_threading=True, pid=MPI.COMM_WORLD.Get_rank(), tident=0)
        test_fn_1(1, "two")
        test_fn_1(2, y="three", z=[])
        test_fn_2(10)
    """, tmp_path, n=2)
    check(proc)
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert db.writers == ["tid-0-0", "tid-1-0"]
        assert db.ranks == [0, 1]
        for rank in (0, 1):
            assert db.get("test_fn_1", 2, rank=rank) == ([2], {"y": "three", "z": []})
            assert db.get("test_fn_2", 1, rank=rank) == ([10], {})


def test_rc_pid_without_tident_and_rc_off(tmp_path, run_recorder):
    check(run_recorder("""
        import callmonitor
        from callmonitor import intercept, rc

        @intercept
        def f(x):
            pass

        rc(multi_threading=True, pid=3)
        f(1)
        callmonitor.CONTEXT.new()
        rc(multi_threading=False)
        f(2)
    """, tmp_path))
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert db.writers == ["tid-3"]
    with callmonitor.load(tmp_path / "call-monitor-1") as db:
        assert db.writers == ["main"] and db.get("f", 1) == ([2], {})


def test_context_new_starts_a_new_database(tmp_path, run_recorder):
    proc = check(run_recorder("""
        import callmonitor
        from callmonitor import intercept

        @intercept
        def f(x):
            pass

        assert not callmonitor.CONTEXT.initialized
        f(1)
        f(2)
        assert callmonitor.CONTEXT.initialized
        print(len(callmonitor.CONTEXT.db), callmonitor.CONTEXT.root)
        callmonitor.CONTEXT.new()
        f(3)
        callmonitor.snapshot()
        f(4)
    """, tmp_path))
    assert proc.stdout.split()[0] == "2", proc.stdout
    assert proc.stdout.split()[1].endswith("call-monitor")
    for folder, xs in (("call-monitor", [1, 2]), ("call-monitor-1", [3]), ("call-monitor-2", [4])):
        with callmonitor.load(tmp_path / folder) as db:
            assert [c.args[0] for c in db.calls("f")] == xs


def test_np_handler_keeps_arrays_native_and_default_handler_restores_the_default(recorder):
    callmonitor.REGISTRY.add(np.ndarray, callmonitor.NPHandler)
    assert callmonitor.REGISTRY.get(np.ndarray) is callmonitor.NDArrayHandler

    class Point:
        pass

    class PointHandler:
        def encode(self, obj):
            return b"p"

        def decode(self, data):
            return "decoded by PointHandler"

    callmonitor.REGISTRY.add(Point, PointHandler)
    callmonitor.REGISTRY.add(Point, callmonitor.DefaultHandler)
    try:
        assert callmonitor.REGISTRY.get(Point) is None
        assert issubclass(callmonitor.DefaultHandler, callmonitor.Handler)

        @callmonitor.intercept
        def f(a):
            pass

        f(np.arange(3, dtype=np.int16))
        (a,), _ = recorder.load().get(f, 1)
        assert a.dtype == np.int16 and a.tolist() == [0, 1, 2]
    finally:
        callmonitor.REGISTRY.remove(Point)


def test_args_follows_0_3_positional_then_keyword_then_default():
    def f(x, y=2, z=3):
        pass
    a = callmonitor.Args(inspect.getfullargspec(f), [1], {"z": 9})
    assert (a.x, a.y, a.z) == (1, 2, 9)
    assert repr(a) == "dict_keys(['x', 'y', 'z'])"
    with pytest.raises(TypeError, match="'x'"):
        callmonitor.Args(inspect.getfullargspec(f), [], {})
