"""load(): get / get_args / call / calls / functions / len / repr / with, and how functions are named."""
import collections.abc
import datetime
import inspect
import re
import threading
import time

import pytest

import callmonitor
import sample_functions as sf
from _support import assert_same


# -- on a database written by another process (conftest.recorded_db) ----------------------

def test_get_returns_args_list_and_kwargs_dict(recorded_db):
    db = callmonitor.load(recorded_db)
    assert_same(([1], {}), db.get("f", 1))
    assert_same(([2, 3, 4, 5], {"z": 6, "extra": 7}), db.get("f", 2))
    assert_same(([], {"x": 3}), db.get("f", 3))


def test_get_args_has_one_attribute_per_parameter_with_defaults(recorded_db):
    db = callmonitor.load(recorded_db)
    a = db.get_args("f", 1)
    assert (a.x, a.y, a.rest, a.z, a.kw) == (1, 2, (), 3, {})
    b = db.get_args("f", 2)
    assert (b.x, b.y, b.rest, b.z, b.kw) == (2, 3, (4, 5), 6, {"extra": 7})
    c = db.get_args("f", 3)
    assert (c.x, c.y, c.z) == (3, 2, 3)


def test_function_named_by_bare_name_and_module_qualname(recorded_db):
    db = callmonitor.load(recorded_db)
    assert db.get("__main__.f", 2) == db.get("f", 2)
    assert db.get("__main__.g", 1) == ([1], {})


def test_invocation_numbers_start_at_one(recorded_db):
    db = callmonitor.load(recorded_db)
    assert [c.invocation for c in db.calls("f")] == [1, 2, 3]
    assert db.call("f", 1).invocation == 1
    with pytest.raises(IndexError):
        db.get("f", 0)


def test_negative_n_counts_from_the_end(recorded_db):
    db = callmonitor.load(recorded_db)
    assert db.get("f", -1) == db.get("f", 3)
    assert db.get("f", -3) == db.get("f", 1)
    assert db.call("g", -1).invocation == 2


@pytest.mark.parametrize("n", [4, 100, -4])
def test_n_out_of_range_raises_index_error_naming_the_range(recorded_db, n):
    db = callmonitor.load(recorded_db)
    with pytest.raises(IndexError) as info:
        db.get("f", n)
    assert re.search(r"\b1\s*(\.\.|-|to|…)\s*3\b", str(info.value)), str(info.value)
    with pytest.raises(IndexError):
        db.call("f", n)


def test_unknown_function_raises_unknown_function_error(recorded_db):
    db = callmonitor.load(recorded_db)
    with pytest.raises(callmonitor.UnknownFunctionError) as info:
        db.get("nope", 1)
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, callmonitor.DatabaseError)
    assert "nope" in str(info.value)


def test_len_functions_and_counts(recorded_db):
    db = callmonitor.load(recorded_db)
    assert len(db) == 5
    funcs = {f.qualname: f for f in db.functions}
    assert set(funcs) == {"f", "g"}
    f = funcs["f"]
    assert (f.module, f.name, f.calls) == ("__main__", "f", 3)
    assert funcs["g"].calls == 2
    assert f.file.endswith(".py") and isinstance(f.line, int) and f.line > 1
    assert str(f.signature) == "(x, y=2, *rest, z=3, **kw)"


def test_argspec_is_inspect_fullargspec(recorded_db):
    db = callmonitor.load(recorded_db)
    spec = {f.qualname: f for f in db.functions}["f"].argspec
    assert isinstance(spec, inspect.FullArgSpec)
    assert spec == inspect.FullArgSpec(args=["x", "y"], varargs="rest", varkw="kw",
                                       defaults=(2,), kwonlyargs=["z"],
                                       kwonlydefaults={"z": 3}, annotations={})


def test_calls_is_lazy_and_in_invocation_order(recorded_db):
    db = callmonitor.load(recorded_db)
    it = db.calls("f")
    assert isinstance(it, collections.abc.Iterator)
    first = next(it)
    assert first.invocation == 1 and first.args == [1]
    assert [c.invocation for c in it] == [2, 3]


def test_call_record_of_a_raising_call(recorded_db):
    db = callmonitor.load(recorded_db)
    ok, bad = db.call("g", 1), db.call("g", 2)
    assert ok.result == 1 and ok.exception is None and ok.completed
    assert bad.exception is not None
    assert bad.exception.type in ("ValueError", "builtins.ValueError")
    assert bad.exception.message == "negative"
    assert bad.result is None and bad.completed


def test_repr_mentions_functions_calls_args_defaults(recorded_db):
    text = repr(callmonitor.load(recorded_db))
    for needle in ("f", "g", "calls", "args", "defaults", "['x', 'y']"):
        assert needle in text, (needle, text)
    assert re.search(r"defaults\W+\(?2\b", text), text
    assert re.search(r"calls\W+3", text) and re.search(r"calls\W+2", text), text


def test_with_statement_returns_the_database(recorded_db):
    with callmonitor.load(recorded_db) as db:
        assert isinstance(db, callmonitor.Database)
        assert len(db) == 5


def test_load_accepts_writer_directory_and_pathlike(recorded_db):
    by_writer = callmonitor.load(recorded_db / "main")
    by_str = callmonitor.load(str(recorded_db))
    assert by_writer.get("f", 2) == by_str.get("f", 2)
    assert callmonitor.load(recorded_db).writers == ["main"]


# -- in-process: naming by Class.method / function object, call record fields ----------------

def test_ambiguous_bare_name_lists_the_candidates(recorder):
    sf.TwinA().twin(1)
    sf.TwinB().twin(2)
    db = recorder.load()
    with pytest.raises(callmonitor.UnknownFunctionError) as info:
        db.get("twin", 1)
    assert isinstance(info.value, LookupError)
    msg = str(info.value)
    assert "TwinA.twin" in msg and "TwinB.twin" in msg, msg
    assert db.get("TwinA.twin", 1)[0][1] == 1                   # Class.method
    assert db.get("sample_functions.TwinB.twin", 1)[0][1] == 2  # module.qualname
    assert db.get(sf.TwinB.twin, 1)[0][1] == 2                  # the function object


def test_function_object_lookup(recorder):
    sf.add(1)
    sf.add(2)
    db = recorder.load()
    assert db.get(sf.add, 2) == ([2], {})
    assert db.get("plain_add", 2) == ([2], {})
    assert db.get("sample_functions.plain_add", 1) == ([1], {})


def test_call_record_fields(recorder):
    before = time.time()
    assert sf.sleepy(0.02) == 0.02
    after = time.time()
    db = recorder.load()
    call = db.call(sf.sleepy, 1)
    assert call.args == [0.02] and call.kwargs == {}
    assert call.result == 0.02 and call.exception is None
    assert call.completed is True
    assert call.invocation == 1
    assert isinstance(call.started, datetime.datetime)
    assert before - 0.05 <= call.started.timestamp() <= after + 0.05
    assert isinstance(call.started_ns, int)
    assert 0.02 <= call.duration < 5
    assert call.duration_ns > 0 and abs(call.duration_ns / 1e9 - call.duration) < 1e-6
    assert call.thread == threading.get_ident()
    assert call.thread_name == threading.current_thread().name
    assert call.caller == __name__
    assert call.function.qualname == "sleepy"
    assert call.writer == "main"


def test_caller_is_the_calling_module(recorder):
    sf.call_from_here(5)
    call = recorder.load().call(sf.called_from_sample_module, 1)
    assert call.caller == "sample_functions"


def test_thread_recorded_per_call(recorder):
    idents = []

    def worker():
        idents.append(threading.get_ident())
        sf.identity("from thread")

    t = threading.Thread(target=worker, name="worker-thread")
    t.start()
    t.join()
    sf.identity("from main")
    db = recorder.load()
    threaded, main = db.call(sf.identity, 1), db.call(sf.identity, 2)
    assert threaded.args == ["from thread"] and threaded.thread == idents[0]
    assert threaded.thread_name == "worker-thread"
    assert main.thread == threading.get_ident()


def test_bound_is_inspect_bound_arguments(recorder):
    sf.full_signature(1, 2, 3, z=4, w=5)
    bound = recorder.load().call(sf.full_signature, 1).bound
    assert isinstance(bound, inspect.BoundArguments)
    assert dict(bound.arguments) == {"x": 1, "y": 2, "rest": (3,), "z": 4, "kw": {"w": 5}}


def test_annotations_recorded_as_text(recorder):
    sf.annotated(1)
    db = recorder.load()
    info = next(f for f in db.functions if f.qualname == "annotated")
    spec = info.argspec
    assert spec.args == ["a", "b"] and spec.defaults == (1.5,)
    assert spec.kwonlyargs == ["arr"] and spec.kwonlydefaults == {"arr": None}
    assert set(spec.annotations) == {"a", "b", "arr", "return"}
    assert all(isinstance(v, str) for v in spec.annotations.values())
    assert spec.annotations["a"].endswith("int")
    assert spec.annotations["return"].endswith("float")
    assert spec.annotations["arr"].endswith("ndarray")
    assert info.file == sf.annotated.__wrapped__.__code__.co_filename
    assert info.line == sf.annotated.__wrapped__.__code__.co_firstlineno
    a = db.get_args("annotated", 1)
    assert (a.a, a.b, a.arr) == (1, 1.5, None)


def test_database_sees_calls_recorded_after_it_was_opened(recorder):
    sf.identity(1)
    db = recorder.load()
    assert len(db) == 1
    sf.identity(2)
    assert callmonitor.flush() is True
    assert len(db) == 2
    assert db.get(sf.identity, -1) == ([2], {})
