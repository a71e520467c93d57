"""Databases written in format version 1 (by b0c2ee2's code, committed in
tests/fixtures/format-v1/) read back exactly as they were recorded: every
call's inputs, results, outcomes, exceptions, threads, callers, writers,
ranks, pids and merge sources. This is the v1 compatibility contract: a
reader of a newer format must pass it unchanged.

The expected inputs and results are rebuilt by format_v1_expected.py (the
code that made them); facts only known once recorded are in expected.json.
The committed files are never opened in place (a reader creates lock files):
each test reads a copy.
"""
import datetime
import inspect
import json
import os
import shutil
import sys
from collections import defaultdict

import numpy as np
import pytest

import callmonitor
from format_v1_compare import assert_identical, assert_identical_inputs

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "fixtures", "format-v1")
if FIXTURES not in sys.path:
    sys.path.insert(0, FIXTURES)     # the pickled and handled classes, the expected values

import format_v1_expected as fx                    # noqa: E402
import format_v1_functions                         # noqa: E402
from format_v1_objects import register_handlers, unregister_handlers  # noqa: E402

with open(os.path.join(FIXTURES, "expected.json"), encoding="utf-8") as _f:
    EXPECTED = json.load(_f)
SCENARIOS = EXPECTED["scenarios"]
RECORDED_SCENARIOS = ("values", "functions", "handlers", "pending", "threads", "fork", "ranks")
OUTCOME_NAMES = {"returned": "returned", "raised": "raised", "result_skipped": "result-skipped",
                 "pending": "pending"}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """A private copy of the committed fixture folder (only the databases)."""
    dest = tmp_path_factory.mktemp("format-v1")
    for name in list(RECORDED_SCENARIOS) + ["merged"]:
        shutil.copytree(os.path.join(FIXTURES, name), dest / name)
    return dest


@pytest.fixture
def handlers():
    """The handlers the `handlers` scenario was recorded with, registered while a test reads."""
    register_handlers(callmonitor.REGISTRY)
    yield
    unregister_handlers(callmonitor.REGISTRY)


def open_db(fixtures, scenario, allow_pickle=True):
    return callmonitor.load(fixtures / scenario, allow_pickle=allow_pickle)


def writer_facts(scenario):
    return {w["role"]: w for w in SCENARIOS[scenario]["writers"]}


def read_back(value, allow_pickle, scenario="values"):
    reprs = {}
    if scenario == "values":
        reprs["_thread.lock"] = SCENARIOS["values"]["opaque_lock_repr"]
    return fx.read_back(value, allow_pickle=allow_pickle, pickle_sizes=EXPECTED["pickle_sizes"],
                        opaque_reprs=reprs)


def by_function(planned):
    """{qualname: [Planned]} in invocation order."""
    out = defaultdict(list)
    for c in planned:
        out[c.function].append(c)
    return dict(out)


def raw_outcome(db, call):
    """The outcome stored in the record: "returned", "raised", "result-skipped"
    or "pending". (The Call API tells a skipped result from a returned None
    only through this; v1 records hold it as outcome byte 3.)"""
    return call.outcome


def assert_call(db, call, planned, *, allow_pickle, thread, scenario, where):
    """`call` (read back) is the planned call, exactly."""
    args = read_back(planned.args, allow_pickle, scenario)
    kwargs = read_back(planned.kwargs, allow_pickle, scenario)
    assert_identical_inputs(args, kwargs, call.args, call.kwargs, where)
    assert raw_outcome(db, call) == OUTCOME_NAMES[planned.outcome], where
    if planned.outcome == fx.RETURNED:
        assert call.completed is True and call.exception is None, where
        assert_identical(read_back(planned.result, allow_pickle, scenario), call.result, f"{where} result")
    elif planned.outcome == fx.RAISED:
        assert call.completed is True and call.result is None, where
        assert call.exception == callmonitor.ExceptionInfo(*planned.exception), where
    elif planned.outcome == fx.RESULT_SKIPPED:
        assert call.completed is True and call.result is None and call.exception is None, where
    else:
        assert call.completed is False and call.result is None and call.exception is None, where
        assert call.duration_ns is None and call.duration is None, where
    assert call.thread_name == planned.thread, where
    assert call.thread == thread[planned.thread]["ident"], where
    assert call.caller == planned.caller, where


def assert_writer_calls(db, planned, writer_id, facts, *, allow_pickle, scenario):
    """Every function of the writer has exactly the planned calls, in order."""
    expected = by_function(planned)
    functions = {f.qualname: f for f in db.functions if f.writer == writer_id}
    assert sorted(functions) == sorted(expected), writer_id
    for qualname, calls in expected.items():
        f = functions[qualname]
        assert f.calls == len(calls), f"{writer_id} {qualname}"
        got = list(db.calls(f.full_name, writer=writer_id))
        assert [c.invocation for c in got] == list(range(1, len(calls) + 1))
        for n, (call, p) in enumerate(zip(got, calls), start=1):
            where = f"{scenario} {writer_id} {qualname} call {n}"
            assert call.writer == writer_id and call.function.qualname == qualname, where
            assert call.pid == facts["pid"] and call.rank == facts["rank"], where
            assert_call(db, call, p, allow_pickle=allow_pickle, thread=facts["threads"],
                        scenario=scenario, where=where)
            single = db.call(f.full_name, n, writer=writer_id)     # random access agrees
            assert single.invocation == n and single.started_ns == call.started_ns, where
            args, kwargs = db.get(f.full_name, n, writer=writer_id)
            assert_identical_inputs(call.args, call.kwargs, args, kwargs, where)


# -- values -----------------------------------------------------------------------------------

@pytest.mark.parametrize("allow_pickle", [True, False], ids=["allow_pickle", "no_pickle"])
def test_every_value_kind_reads_back_type_and_bit_exact(fixtures, allow_pickle):
    # GIVEN the v1 `values` database (echo(value) for every kind, shared and cyclic values,
    # numpy arrays inline and as blobs, pickles, Opaque placeholders) WHEN read THEN every
    # argument and every result is exactly the recorded value; without allow_pickle the
    # pickles are Unrestorable placeholders naming their type and size.
    facts = writer_facts("values")["main"]
    with open_db(fixtures, "values", allow_pickle) as db:
        assert_writer_calls(db, fx.plans()["values"]["main"], "main", facts,
                            allow_pickle=allow_pickle, scenario="values")


def test_value_cases_cover_every_tag_of_format_v1():
    # GIVEN the value cases WHEN classified THEN each tag of docs/format.md (v1) but the
    # handler tags (handlers scenario) is held by at least one case.
    kinds = set()
    for v in fx.value_cases().values():
        if isinstance(v, np.ndarray) and not fx.is_pickled(v):
            kinds.add(fx.array_stored_as(v))
        elif isinstance(v, np.generic) and not fx.is_pickled(v):
            kinds.add("npscalar")
        elif fx.is_pickled(v):
            kinds.add("pickle")
        elif type(v) in fx.OPAQUE_REASONS:
            kinds.add("opaque")
        elif type(v) is int:
            kinds.add("int" if -2**63 <= v < 2**63 else "bigint")
        else:
            kinds.add(type(v).__name__)
    assert kinds >= {"NoneType", "bool", "int", "bigint", "float", "complex", "str", "bytes",
                     "bytearray", "list", "tuple", "dict", "set", "frozenset", "inline", "blob",
                     "npscalar", "pickle", "opaque"}


def test_arrays_over_512_bytes_were_stored_as_blobs(fixtures):
    # GIVEN the values database WHEN its sizes are read THEN it holds one blob per distinct
    # array argument over 512 bytes (results are inline in v1; a shared array is one blob).
    distinct = {}
    for c in fx.plans()["values"]["main"]:
        stack = [c.args, c.kwargs]
        seen = set()
        while stack:
            v = stack.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            if isinstance(v, np.ndarray) and fx.array_stored_as(v) == "blob":
                distinct[(c.case, id(v))] = v
            elif type(v) in (list, tuple):
                stack.extend(v)
            elif type(v) is dict:
                stack.extend(v.values())
    with open_db(fixtures, "values") as db:
        assert db.sizes["blobs"] == len(distinct) == 8
        assert db.sizes["calls"] == len(fx.plans()["values"]["main"])


def test_shared_and_cyclic_values_keep_their_identity(fixtures):
    # GIVEN values holding one object twice, or themselves WHEN read THEN the copies are one
    # object again (spelled out here besides the general comparison).
    with open_db(fixtures, "values") as db:
        calls = {p.case: c for p, c in zip(by_function(fx.plan_values())["echo"], db.calls("echo"))}
        shared = calls["shared_list"].args[0]
        assert shared[0] is shared[1] is shared[2]["k"]
        cyclic = calls["cyclic_list"].args[0]
        assert cyclic[2] is cyclic and calls["cyclic_list"].result[2] is calls["cyclic_list"].result
        selfdict = calls["cyclic_dict"].args[0]
        assert selfdict["self"] is selfdict
        tup = calls["cycle_through_tuple"].args[0]
        assert tup[0][0] is tup
        big = calls["shared_big_array"].args[0]
        assert big[0] is big[1]
        pair = list(db.calls("pair"))
        assert pair[0].args[0] is pair[0].args[1]
        assert pair[1].args[0] is pair[1].kwargs["b"]          # one memo for args and kwargs
        assert pair[2].args[0] is not pair[2].args[1]


def test_capture_counters_are_kept(fixtures):
    # GIVEN each recorded writer's capture counters as the recording process saw them
    # WHEN the database is read THEN its stats are the same.
    for scenario in RECORDED_SCENARIOS:
        with open_db(fixtures, scenario) as db:
            total = defaultdict(int)
            for w in SCENARIOS[scenario]["writers"]:
                for k, v in w["stats"].items():
                    total[k] += v
            assert db.stats == dict(total), scenario
    assert SCENARIOS["values"]["writers"][0]["stats"]["opaque"] == 3


# -- functions --------------------------------------------------------------------------------

def original_signature(qualname):
    """The signature of the recorded function itself (format_v1_functions is frozen)."""
    obj = format_v1_functions
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return inspect.signature(inspect.unwrap(obj))


def test_function_descriptions_are_kept(fixtures):
    # GIVEN every writer of every scenario WHEN its functions are read THEN module, names,
    # file, line, kind and the full signature (parameter kinds, defaults bit-exact,
    # annotations as text) are those of the recorded function.
    described = EXPECTED["functions"]
    seen = set()
    for scenario in RECORDED_SCENARIOS + ("merged",):
        with open_db(fixtures, scenario) as db:
            for f in db.functions:
                e = described[f.qualname]
                seen.add(f.qualname)
                where = f"{scenario} {f.writer} {f.qualname}"
                assert (f.module, f.qualname, f.name, f.file, f.line, f.kind) == \
                    (e["module"], e["qualname"], e["name"], e["file"], e["line"], e["kind"]), where
                assert f.full_name == f"format_v1_functions.{f.qualname}"
                sig = f.signature
                assert sig is not None, where
                params = list(sig.parameters.values())
                assert [(p.name, p.kind.name) for p in params] == \
                    [(p["name"], p["kind"]) for p in e["parameters"]], where
                assert [p.default is not p.empty for p in params] == \
                    [p["has_default"] for p in e["parameters"]], where
                assert [p.annotation if p.annotation is not p.empty else "" for p in params] == \
                    [p["annotation"] for p in e["parameters"]], where
                ret = sig.return_annotation
                assert (ret if ret is not sig.empty else "") == e["return_annotation"], where
                original = original_signature(f.qualname)
                for p in params:
                    if p.default is not p.empty:
                        assert_identical(original.parameters[p.name].default, p.default,
                                         f"{where} default of {p.name}")
                raw = {r.name: r for r in f._record.parameters}
                for p in e["parameters"]:
                    assert raw[p["name"]].default_repr == p["default_repr"], where
    assert seen == set(described)


def test_every_signature_kind_and_outcome_reads_back(fixtures):
    # GIVEN the `functions` database (plain, positional-only, keyword-only, *args/**kwargs,
    # annotated, a method with a pickled self, a staticmethod, a generator, a coroutine,
    # raised exceptions of several types, result=False, a nested call) WHEN read THEN each
    # call is exactly the one made, with its outcome and caller module.
    facts = writer_facts("functions")["main"]
    for allow_pickle in (True, False):
        with open_db(fixtures, "functions", allow_pickle) as db:
            assert_writer_calls(db, fx.plans()["functions"]["main"], "main", facts,
                                allow_pickle=allow_pickle, scenario="functions")


def test_exceptions_keep_type_and_message(fixtures):
    with open_db(fixtures, "functions") as db:
        got = [(c.exception.type, c.exception.message) if c.exception else None
               for c in db.calls("fail")]
    assert got == [("ValueError", "bad value: ü"), ("KeyError", "'missing'"),
                   ("format_v1_objects.FixtureError", "custom é"), ("RuntimeError", ""),
                   ("ZeroDivisionError", "division by zero"), None]


def test_bound_arguments_fill_in_recorded_defaults(fixtures):
    with open_db(fixtures, "functions") as db:
        a = db.get_args("gather", 2)
        assert (a.first, a.rest, a.sep, a.flag, a.nothing, a.big) == (1, (2, 3), "-", True, None, 2**70)
        assert a.options == {"extra": [1], "more": {"k": None}}
        b = db.get_args("annotated", 1)
        assert (b.a, b.b, b.c) == (3, [1.0], 2.5)
        c = db.get_args("scale", 2)
        assert (c.values, c.factor, c.label) == ([1.5], 1.5, "×")


# -- handlers ---------------------------------------------------------------------------------

def test_handler_values_read_back_through_their_handlers(fixtures, handlers):
    # GIVEN values recorded by a new-style handler (bytes inline) and a 0.3-style handler
    # (state in the record, files beside the database) WHEN read with both registered
    # THEN the objects come back equal.
    facts = writer_facts("handlers")["main"]
    with open_db(fixtures, "handlers") as db:
        assert_writer_calls(db, fx.plans()["handlers"]["main"], "main", facts,
                            allow_pickle=False, scenario="handlers")
    files = sorted(p.relative_to(fixtures / "handlers" / "main").as_posix()
                   for p in (fixtures / "handlers" / "main").rglob("blob_*.txt"))
    assert files == ["handlers/handled/1/blob_k.txt", "handlers/handled/2/blob_0.txt"]


def test_handler_values_without_their_handler_say_which_to_register(fixtures):
    with open_db(fixtures, "handlers") as db:
        for n in (1, 2):
            args, kwargs = db.get("handled", n)
            value = (list(args) + list(kwargs.values()))[0]
            assert isinstance(value, callmonitor.Unrestorable), value
            assert "Handler" in value.reason and "REGISTRY.add" in value.reason


# -- outcomes of interrupted processes --------------------------------------------------------

def test_a_call_that_never_returned_is_pending_with_its_inputs(fixtures):
    # GIVEN a process (durability="sync") that SIGKILLed itself inside die() WHEN read
    # THEN the calls before it are complete and die's call has its inputs, no outcome.
    facts = writer_facts("pending")["main"]
    with open_db(fixtures, "pending") as db:
        assert_writer_calls(db, fx.plans()["pending"]["main"], "main", facts,
                            allow_pickle=False, scenario="pending")
        call = db.call("die", 1)
        assert call.completed is False and call.args == ["last words"]


# -- threads, processes, ranks, merges --------------------------------------------------------

def test_calls_from_several_threads_keep_their_thread(fixtures):
    # GIVEN calls from the main thread and two named threads into one writer WHEN read
    # THEN each call names its thread (ident, name) as recorded.
    facts = writer_facts("threads")["main"]
    with open_db(fixtures, "threads") as db:
        assert_writer_calls(db, fx.plans()["threads"]["main"], "main", facts,
                            allow_pickle=False, scenario="threads")
        assert [c.thread_name for c in db.calls("work")] == \
            ["MainThread", "worker-A", "worker-A", "worker-B", "worker-B", "MainThread"]
        threads = list(db._reader.threads(db._writers[0].index).values())
    assert [(t.name, t.ident, t.native_id) for t in threads] == \
        [(name, facts["threads"][name]["ident"], facts["threads"][name]["native_id"])
         for name in ("MainThread",) + fx.THREAD_NAMES]


def test_a_forked_childs_calls_are_in_its_own_pid_writer(fixtures):
    # GIVEN a process that forked a recording child WHEN the run is read THEN it has the
    # parent's writer and the child's pid-N writer, each with its own calls and pid.
    facts = writer_facts("fork")
    child = facts["child"]
    assert SCENARIOS["fork"]["writer_dirs"] == ["main", f"pid-{child['pid']}"]
    with open_db(fixtures, "fork") as db:
        assert db.writers == ["main", f"pid-{child['pid']}"]
        assert db.ranks == [] and db.runs == ["fork"]
        assert [(w["id"], w["pid"], w["rank"], w["host"], w["calls"]) for w in db.writer_info()] == \
            [("main", facts["main"]["pid"], -1, facts["main"]["host"], 3),
             (f"pid-{child['pid']}", child["pid"], -1, child["host"], 2)]
        plans = fx.plans()["fork"]
        assert_writer_calls(db, plans["main"], "main", facts["main"], allow_pickle=False,
                            scenario="fork")
        assert_writer_calls(db, plans["child"], f"pid-{child['pid']}", child, allow_pickle=False,
                            scenario="fork")
        assert [c.writer for c in db.calls("work")] == ["main", "main", f"pid-{child['pid']}"]
        assert db.get("work", 1, pid=child["pid"]) == ([2], {"tag": "child"})


def test_two_ranks_read_as_one_database_with_their_ranks(fixtures):
    # GIVEN a run of 2 MPI ranks (launcher environment) WHEN read THEN it has ranks [0, 1],
    # writers rank-0000 and rank-0001, and each rank's own calls.
    facts = writer_facts("ranks")
    with open_db(fixtures, "ranks") as db:
        assert db.ranks == [0, 1] and db.writers == ["rank-0000", "rank-0001"]
        for r in (0, 1):
            assert_writer_calls(db, fx.plan_rank(r), f"rank-{r:04d}", facts[f"rank{r}"],
                                allow_pickle=False, scenario="ranks")
            assert db.get("work", 1, rank=r) == ([r], {"tag": f"rank {r}"})
            assert db.call("echo", 1, rank=r).rank == r
    assert SCENARIOS["ranks"]["run_id"] == f"job:{fx.RANK_JOB}"


def test_a_merged_environment_keeps_every_source_and_its_provenance(fixtures, handlers):
    # GIVEN `callmonitor merge merged fork ranks handlers` (one environment, meta "sources")
    # WHEN read THEN it holds each source writer, named run/writer, with its rank, pid, run,
    # threads, callers and every call exactly; 0.3 handler files are found in the merge.
    sources = SCENARIOS["merged"]["sources"]
    plans = fx.plans()
    with open_db(fixtures, "merged") as db:
        assert db.runs == sorted(fx.MERGED_SOURCES)
        expected_writers = sorted(sources, key=lambda s: (s["run"], s["writer_id"]))
        assert db.writers == [f"{s['run']}/{s['writer_id']}" for s in expected_writers]
        assert db.ranks == [0, 1]
        raw_sources = db._reader.environment_sources(db._writers[0].index)
        assert [(s.run, s.writer.writer_id) for s in raw_sources] == \
            [(s["run"], s["writer_id"]) for s in sources]
        for s in sources:
            facts = writer_facts(s["run"])[s["role"]]
            wid = f"{s['run']}/{s['writer_id']}"
            assert_writer_calls(db, plans[s["run"]][s["role"]], wid, facts, allow_pickle=False,
                                scenario=s["run"])
            assert {c.run for f in db.functions if f.writer == wid
                    for c in db.calls(f.full_name, writer=wid)} == {s["run"]}
        assert db.stats == {k: sum(w["stats"][k] for run in fx.MERGED_SOURCES
                                   for w in SCENARIOS[run]["writers"])
                            for k in ("opaque", "pickled", "capture_errors", "dropped_calls")}


# -- writer metadata and timing ---------------------------------------------------------------

def test_writer_metadata_is_that_of_the_recording_process(fixtures):
    for scenario in RECORDED_SCENARIOS:
        with open_db(fixtures, scenario) as db:
            infos = [(db._reader.format_version(w.index), w.info) for w in db._writers]
        for (version, info), w in zip(infos, SCENARIOS[scenario]["writers"]):
            where = f"{scenario} {w['writer_id']}"
            assert version == 1, where
            for key in ("host", "pid", "rank", "writer_id", "python_version", "package_version",
                        "argv", "cwd", "run_id"):
                assert getattr(info, key) == w[key], f"{where} {key}"
        assert len(infos) == len(SCENARIOS[scenario]["writers"]), scenario


def test_timings_read_back_as_recorded(fixtures, handlers):
    # GIVEN the timings b0c2ee2's reader returned WHEN read again THEN they are the same
    # integers; every completed call took > 0 ns; on each thread starts increase in call order.
    for scenario, writers in EXPECTED["v1_reader_timings"].items():
        with open_db(fixtures, scenario) as db:
            for w in db._writers:
                e = writers[w.id]
                assert w.info.started_unix_ns == e["started_unix_ns"]
                for f in w.functions:
                    calls = list(db.calls(f.full_name, writer=w.id))
                    assert [[c.started_ns, c.duration_ns] for c in calls] == e["calls"][f.qualname]
                    for c in calls:
                        assert c.started == datetime.datetime.fromtimestamp(
                            (e["started_unix_ns"] + c.started_ns) / 1e9, tz=datetime.timezone.utc)
                        assert c.duration_ns is None if not c.completed else c.duration_ns > 0
    for scenario in RECORDED_SCENARIOS:
        with open_db(fixtures, scenario) as db:
            for w in db._writers:
                role = next(x["role"] for x in SCENARIOS[scenario]["writers"] if x["writer_id"] == w.id)
                planned = fx.plans()[scenario][role]
                nth = defaultdict(int)
                last = {}
                for p in planned:      # planned calls are in the order they were made
                    nth[p.function] += 1
                    c = db.call(f"format_v1_functions.{p.function}", nth[p.function], writer=w.id)
                    assert c.started_ns > last.get(c.thread, -1), f"{scenario} {p.function}"
                    last[c.thread] = c.started_ns


def test_the_committed_fixtures_hold_no_lock_files_and_stay_small():
    total = 0
    for root, _, files in os.walk(FIXTURES):
        assert "lock.mdb" not in files, root
        total += sum(os.path.getsize(os.path.join(root, n)) for n in files)
    assert total < 3 << 20


def test_a_merge_of_v1_writers_is_itself_format_version_1(fixtures):
    with open_db(fixtures, "merged") as db:
        assert {db._reader.format_version(w.index) for w in db._writers} == {1}


def _shared_pair():
    inner = [1]
    return [inner, inner]


def _cyclic():
    a = [1]
    a.append(a)
    return a


WRONG_READS = {
    # what a wrong reader might return: (expected, actual)
    "negative zero lost": (-0.0, 0.0),
    "nan payload lost": (fx._float_from_bits(0x7FF8000000000123), float("nan")),
    "tuple read as list": ((1, 2), [1, 2]),
    "bool read as int": (True, 1),
    "int read as float": (2, 2.0),
    "dict key order": ({"b": 1, "a": 2}, {"a": 2, "b": 1}),
    "dict key type": ({1: "x"}, {1.0: "x"}),
    "byte order lost": (np.arange(3, dtype=">i4"), np.arange(3, dtype="<i4")),
    "fortran order lost": (np.asfortranarray(np.ones((2, 3))), np.ones((2, 3))),
    "shape lost": (np.zeros((2, 3)), np.zeros(6)),
    "0-d read as 1-d": (np.array(1.5), np.array([1.5])),
    "array bytes differ": (np.arange(4.0), np.array([0.0, 1.0, 2.0, np.nextafter(3.0, 4.0)])),
    "datetime unit lost": (np.array([1], dtype="M8[D]"), np.array([1], dtype="M8[s]")),
    "numpy scalar read as python float": (np.float64(1.5), 1.5),
    "numpy scalar dtype": (np.float32(1.5), np.float64(1.5)),
    "sharing lost": (_shared_pair(), [[1], [1]]),
    "sharing invented": ([[1], [1]], _shared_pair()),
    "cycle lost": (_cyclic(), [1, [1, []]]),
    "set element type": ({1}, {1.0}),
    "bytearray read as bytes": (bytearray(b"a"), b"a"),
    "placeholder reason": (callmonitor.Unrestorable("t", "r", "why"),
                           callmonitor.Unrestorable("t", "r", "other")),
}


@pytest.mark.parametrize("expected,actual", list(WRONG_READS.values()), ids=list(WRONG_READS))
def test_the_comparison_catches_a_wrong_read(expected, actual):
    with pytest.raises(AssertionError):
        assert_identical(expected, actual)
