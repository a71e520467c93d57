"""Reading a run through the core's run reader: several writers, folders of runs and merges,
damaged writers, the newest run, the recording process's own calls, a closed database, bad
call numbers, repr, functions that share a qualname, and the bound records."""
import inspect
import os
import re
import shutil
import warnings

import pytest

import callmonitor
from callmonitor import _core
from callmonitor._parameter_kinds import CODES, TO_INSPECT
from _support import check
from test_cli import cli

FORK = '''
import os, sys
from sample_functions import identity
identity("parent")
pid = os.fork()
if pid == 0:
    identity("child 1")
    identity("child 2")
    os._exit(0)
os.waitpid(pid, 0)
identity("parent again")
print(pid)
'''


def record_in(tmp_path, run_recorder, output, tag):
    check(run_recorder(f'''
        import callmonitor
        callmonitor.configure(output={output!r})
        from sample_functions import identity
        identity({tag!r} + " 1")
        identity({tag!r} + " 2")
    ''', tmp_path))


@pytest.mark.integration  # forks a recording child: real processes (test-sanitized.sh leaves them out)
def test_GIVEN_a_run_of_two_writers_WHEN_one_call_is_asked_without_a_writer_THEN_the_error_lists_them(
        tmp_path, run_recorder):
    child = int(check(run_recorder(FORK, tmp_path)).stdout)
    with callmonitor.load(tmp_path / "call-monitor") as db:
        with pytest.raises(callmonitor.AmbiguousWriterError) as e:
            db.get("identity", 1)
        text = str(e.value)
        assert "main: 2 calls" in text and f"pid-{child}: 2 calls" in text, text
        assert "per writer" in text and "writer=" in text and "pid=" in text, text
        assert isinstance(e.value, LookupError)
        with pytest.raises(callmonitor.AmbiguousWriterError):
            db.call("identity", -1)
        # choosing one works; invocation numbers are per writer
        assert db.get("identity", 1, writer="main") == (["parent"], {})
        assert db.get("identity", 1, pid=child) == (["child 1"], {})
        assert db.call("identity", 2, writer=f"pid-{child}").args == ["child 2"]
        # calls() walks both writers, the first started first
        assert [(c.writer, c.args[0]) for c in db.calls("identity")] == [
            ("main", "parent"), ("main", "parent again"),
            (f"pid-{child}", "child 1"), (f"pid-{child}", "child 2")]


def test_GIVEN_a_folder_of_runs_WHEN_calls_are_walked_THEN_writers_come_in_start_time_order(
        tmp_path, run_recorder):
    # The run named "b" is recorded first: listed second (by name), walked first (by start).
    folder = tmp_path / "results"
    folder.mkdir()
    record_in(folder, run_recorder, "b", "first")
    record_in(folder, run_recorder, "a", "second")
    with callmonitor.load(folder) as db:
        assert db.writers == ["a/main", "b/main"]
        assert db.runs == ["a", "b"]
        assert [c.args[0] for c in db.calls("identity")] == ["first 1", "first 2", "second 1", "second 2"]
        assert [c.run for c in db.calls("identity")] == ["b", "b", "a", "a"]


def test_GIVEN_a_folder_of_runs_and_merges_of_them_THEN_each_call_is_counted_once(tmp_path, run_recorder):
    folder = tmp_path / "results"
    folder.mkdir()
    record_in(folder, run_recorder, "call-monitor", "one")
    record_in(folder, run_recorder, "call-monitor", "two")     # -> call-monitor-1
    check(cli("merge", folder / "merged-first", folder / "call-monitor"))
    check(cli("merge", folder / "merged-both", folder / "call-monitor", folder / "call-monitor-1"))
    with callmonitor.load(folder) as db:
        assert db.writers == ["call-monitor/main", "call-monitor-1/main"]
        assert len(db) == 4
        assert sorted(c.args[0] for c in db.calls("identity")) == ["one 1", "one 2", "two 1", "two 2"]
        assert db.get("identity", 2, writer="call-monitor-1/main") == (["two 2"], {})
    # the merges alone (the runs deleted) still hold each call once
    shutil.rmtree(folder / "call-monitor")
    shutil.rmtree(folder / "call-monitor-1")
    with callmonitor.load(folder) as db:
        assert len(db) == 4 and len(list(db.calls("identity"))) == 4


@pytest.mark.integration  # forks a recording child: real processes (test-sanitized.sh leaves them out)
def test_GIVEN_one_damaged_writer_THEN_the_rest_opens_with_a_warning_naming_it_and_strict_raises(
        tmp_path, run_recorder):
    child = int(check(run_recorder(FORK, tmp_path)).stdout)
    damaged = tmp_path / "call-monitor" / f"pid-{child}"
    (damaged / "data.mdb").write_bytes(b"\x00garbage" * 1024)
    with pytest.warns(callmonitor.DamagedWriterWarning, match=re.escape(str(damaged))):
        db = callmonitor.load(tmp_path / "call-monitor")
    with db:
        assert db.writers == ["main"]
        assert db.get("identity", 2) == (["parent again"], {})
        assert [d for d, _ in db.damaged] == [str(damaged)]
    with pytest.raises(callmonitor.DatabaseError):
        callmonitor.load(tmp_path / "call-monitor", strict=True)


def test_GIVEN_no_path_THEN_load_opens_the_newest_run_in_the_current_directory(
        tmp_path, run_recorder, monkeypatch):
    record_in(tmp_path, run_recorder, "call-monitor", "old")
    record_in(tmp_path, run_recorder, "call-monitor", "new")
    monkeypatch.chdir(tmp_path)
    with callmonitor.load() as db:
        assert os.path.basename(db.path) == "call-monitor-1"
        assert db.get("identity", 1) == (["new 1"], {})
    monkeypatch.chdir(tmp_path / "call-monitor")
    with pytest.raises(callmonitor.NotFoundError, match="no callmonitor run"):
        callmonitor.load()


def test_GIVEN_a_recording_process_WHEN_it_loads_its_run_THEN_it_sees_every_call_so_far(recorder):
    from sample_functions import identity
    callmonitor.close()
    callmonitor.configure(output=str(recorder.base), flush_interval=60)  # no periodic commit in time
    for i in range(5):
        identity(i)
    db = callmonitor.load(callmonitor.output_directory())   # no flush() of our own
    try:
        assert len(db) == 5 and db.get(identity, -1) == ([4], {})
    finally:
        db.close()


def test_GIVEN_a_closed_database_THEN_using_it_says_it_is_closed(recorded_db):
    db = callmonitor.load(recorded_db)
    assert db.get("f", 1) == ([1], {})
    db.close()
    assert db.closed and "closed" in repr(db)
    for use in (lambda: db.get("f", 1), lambda: db.call("f", 1), lambda: list(db.calls("f")),
                lambda: db.functions, lambda: db.writers, lambda: len(db), lambda: db.stats):
        with pytest.raises(callmonitor.DatabaseClosedError, match="is closed"):
            use()
    with pytest.raises(ValueError):  # as for a closed file
        db.get("f", 1)


def test_GIVEN_a_call_number_that_is_not_an_int_THEN_the_error_says_n_must_be_an_int(recorded_db):
    with callmonitor.load(recorded_db) as db:
        for bad in ("1", 1.0, None, True):
            with pytest.raises(TypeError, match="n must be an int"):
                db.get("f", bad)
            with pytest.raises(TypeError, match="n must be an int"):
                db.call("f", bad)
        import numpy as np
        assert db.get("f", np.int64(1)) == ([1], {})


def test_repr_lists_every_parameter_with_its_kind_and_says_1_call(tmp_path, run_recorder):
    check(run_recorder('''
        from callmonitor import intercept
        @intercept
        def f(a, /, x, y=2, *rest, z=3, **kw):
            return x
        f(0, 1)
    ''', tmp_path))
    with callmonitor.load(tmp_path / "call-monitor") as db:
        text = repr(db)
    assert "1 function, 1 call, 1 writer" in text, text
    assert "calls: 1 call\n" in text, text
    assert "parameters: a (positional-only), x, y=2, *rest, z=3 (keyword-only), **kw" in text, text


def test_GIVEN_two_functions_sharing_a_qualname_THEN_the_function_object_finds_its_own_calls(recorder):
    namespace = {"intercept": callmonitor.intercept, "__name__": "twins"}
    exec(compile("@intercept\ndef twin(x):\n    return x\nfirst = twin\n", "twins.py", "exec"), namespace)
    exec(compile("\n\n\n@intercept\ndef twin(x):\n    return -x\nsecond = twin\n", "twins.py", "exec"), namespace)
    first, second = namespace["first"], namespace["second"]
    first(1)
    second(2)
    second(3)
    db = recorder.load()
    assert db.get(first, 1) == ([1], {})
    assert [c.args for c in db.calls(second)] == [[2], [3]]
    assert db.call(second, -1).result == -3
    with pytest.raises(callmonitor.UnknownFunctionError, match="twins.py:1.*twins.py:4|pass the function"):
        db.get("twin", 1)


def test_GIVEN_a_result_not_recorded_THEN_result_recorded_is_false_unlike_a_returned_none(recorder):
    @callmonitor.intercept(result=False)
    def unrecorded(x):
        return x

    @callmonitor.intercept
    def returns_none(x):
        return None

    unrecorded(5)
    returns_none(6)
    db = recorder.load()
    skipped, none = db.call(unrecorded, 1), db.call(returns_none, 1)
    assert skipped.completed and not skipped.result_recorded and skipped.result is None
    assert none.completed and none.result_recorded and none.result is None
    assert "result not recorded" in repr(skipped)
    assert (skipped.outcome, none.outcome) == ("result-skipped", "returned")


def test_records_are_bound_classes_and_parameter_kinds_have_one_table(recorded_db):
    with callmonitor.load(recorded_db) as db:
        f = next(f for f in db.functions if f.name == "f")
        record = f._record
        assert isinstance(record, _core.FunctionRecord)
        with pytest.raises(AttributeError):
            record.qualnme   # a misspelt field is an error, not a silent default
        kinds = [p.kind for p in record.parameters]
        assert kinds == [_core.ParameterKind.POSITIONAL_OR_KEYWORD, _core.ParameterKind.POSITIONAL_OR_KEYWORD,
                         _core.ParameterKind.VAR_POSITIONAL, _core.ParameterKind.KEYWORD_ONLY,
                         _core.ParameterKind.VAR_KEYWORD]
        assert [p.kind for p in f.signature.parameters.values()] == [TO_INSPECT[k] for k in kinds]
    assert set(TO_INSPECT.values()) == set(type(inspect.Parameter.KEYWORD_ONLY))  # every inspect kind
    assert {CODES[TO_INSPECT[k]] for k in TO_INSPECT} == {0, 1, 2, 3, 4}
    from callmonitor.capture import describe
    assert describe._KINDS is CODES


ARRAYS = '''
import numpy as np
from callmonitor import intercept

@intercept
def kernel(a, small, scale=1.0):
    return a * scale

for i in range(200):
    kernel(np.full((64, 32), float(i)), np.arange(3), scale=2.0)
'''


def _map_pin(array):
    base = array
    while base is not None and not isinstance(base, _core.MapPin):
        base = getattr(base, "base", None)
    return base


def test_GIVEN_copy_false_THEN_arrays_are_read_only_views_of_the_map_that_outlive_the_database(
        tmp_path, run_recorder):
    import gc
    import numpy as np
    check(run_recorder(ARRAYS, tmp_path))
    db = callmonitor.load(tmp_path / "call-monitor")
    args, kwargs = db.get("kernel", 7, copy=False)
    a, small = args
    assert np.array_equal(a, np.full((64, 32), 6.0)) and a.dtype == np.float64
    assert not a.flags.writeable and not a.flags.owndata and _map_pin(a) is not None
    with pytest.raises(ValueError):
        a[0, 0] = 1.0                       # the database is never written through a view
    assert not small.flags.writeable        # small arrays are stored inline: read-only copies
    call = db.call("kernel", 8, copy=False)
    assert _map_pin(call.args[0]) is not None
    assert not call.result.flags.writeable   # inline (small) or a view: read-only either way
    assert np.array_equal(call.result, np.full((64, 32), 14.0))
    copied = db.get("kernel", 7)[0][0]
    assert copied.flags.writeable and _map_pin(copied) is None
    # Many views at once share reader slots (LMDB has 126 per environment).
    views = [db.get("kernel", n, copy=False)[0][0] for n in range(1, 201)]
    db.close()
    del args, kwargs, call
    gc.collect()
    # After close the views still hold the snapshot, the map and its pages.
    assert [float(v[5, 5]) for v in views] == [float(i) for i in range(200)]
    assert float(a.sum()) == 6.0 * 64 * 32


def test_GIVEN_the_recording_process_WHEN_it_reads_its_own_run_with_copy_false_THEN_recording_goes_on(
        recorder):
    # Views of the own writer's environment would keep it from growing its map: they are
    # read-only copies, so holding them while recording much more cannot hang.
    import numpy as np
    from test_same_process import record_block
    callmonitor.close()
    callmonitor.configure(output=str(recorder.base), map_size=1 << 16)
    record_block(0, np.zeros(4096))
    db = recorder.load()
    held = db.get(record_block, 1, copy=False)[0][1]
    assert not held.flags.writeable and _map_pin(held) is None
    for i in range(1, 129):
        record_block(i, np.full(4096, float(i)))
    assert callmonitor.flush()
    assert db.get(record_block, -1, copy=False)[0][1][0] == 128.0
    assert held[0] == 0.0
    # Once this process's writer is closed, its run is read with views again.
    run_dir = callmonitor.output_directory()
    db.close()
    callmonitor.close()
    with callmonitor.load(run_dir) as again:
        assert _map_pin(again.get(record_block, -1, copy=False)[0][1]) is not None


def test_GIVEN_v2_record_content_THEN_calls_expose_site_label_parent_traceback_and_exception_args(tmp_path):
    # The capture side does not write these fields yet: a fixture writer does (see
    # _write_record_content_fixture_for_tests in python/src/read/reader_bindings.cpp).
    _core._write_record_content_fixture_for_tests(str(tmp_path / "run" / "main"))
    with callmonitor.load(tmp_path / "run" / "main") as db:
        outer = db.call("outer", 1)
        assert (outer.site.file, outer.site.line, outer.site.function) == ("app.py", 12, "main")
        assert outer.label == "test_solver" and outer.parent is None and outer.traceback is None
        assert outer.result_recorded and outer.result == 2
        raised = db.call("inner", 1)
        assert raised.parent.function.full_name == "fixture.outer" and raised.parent.invocation == 1
        assert raised.exception.type == "ValueError" and raised.exception.args == ("bad", 3)
        assert raised.traceback.startswith("Traceback") and "ValueError: bad" in raised.traceback
        assert raised.site is None and raised.label is None and not raised.result_recorded
        skipped = db.call("inner", 2)
        assert skipped.completed and not skipped.result_recorded and skipped.outcome == "result-skipped"


def test_GIVEN_a_real_recording_THEN_site_label_traceback_and_exception_args_read_back(tmp_path, run_recorder):
    check(run_recorder('''
        import callmonitor
        callmonitor.configure(label="nightly")
        @callmonitor.intercept
        def parse(x):
            if x < 0:
                raise ValueError("negative", x)
            return x
        def main():
            parse(1)
            try:
                parse(-2)
            except ValueError:
                pass
        main()
    ''', tmp_path))
    with callmonitor.load(tmp_path / "call-monitor") as db:
        ok, bad = db.calls("parse")
    assert ok.site.function == "main" and ok.site.file.endswith(".py") and ok.site.line > 0
    assert ok.label == bad.label == "nightly"
    assert ok.traceback is None and ok.exception is None and ok.result_recorded
    assert bad.exception.args == ("negative", -2) and "ValueError" in bad.traceback
