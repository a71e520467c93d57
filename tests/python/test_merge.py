"""`callmonitor merge`: runs and writers of one machine (processes, declared ids, several
runs, 0.3-style handler files) consolidated into one database that reads back as the
originals did. (Merging MPI runs is in test_mpi.py.)"""
import shutil
import textwrap

import numpy as np
import pytest

import callmonitor
from _support import assert_same, check
from test_cli import cli
from test_handlers import LEGACY_MODULE, RECORD

PROGRAM = '''
import os, sys
import numpy as np
import pytest
from callmonitor import intercept

@intercept
def kernel(a, scale=1.0, *, tag=None):
    return a * scale

seed = int(sys.argv[1])
kernel(np.arange(12.0).reshape(3, 4) + seed, 2.0, tag=f"run {seed}")
kernel(np.full(300, seed, dtype=">i4"))                 # 1200 bytes: stored apart, as a blob
pid = os.fork()
if pid == 0:
    kernel(np.array([seed, -0.0, np.nan]), tag="child")
    os._exit(0)
os.waitpid(pid, 0)
'''


def record_two_runs(tmp_path, run_recorder):
    for seed in (1, 2):
        check(run_recorder(PROGRAM, tmp_path, args=(str(seed),)))
    return tmp_path / "call-monitor", tmp_path / "call-monitor-1"


def every_call(db):
    return [(c.writer, c.rank, c.pid, c.run, c.invocation, c.args, c.kwargs, c.result,
             c.thread, c.started_ns, c.duration_ns)
            for name in sorted({f.full_name for f in db.functions}) for c in db.calls(name)]


@pytest.mark.integration  # forks a recording child: real processes (test-sanitized.sh leaves them out)
def test_two_runs_with_forked_children_merge_into_one_database_that_reads_back_the_same(
        tmp_path, run_recorder):
    # GIVEN two runs, each with a main writer and a forked child's writer, holding arrays
    # inline and as blobs WHEN merged THEN the merge has the four writers, named by run, and
    # every call reads back bit for bit with its provenance.
    first, second = record_two_runs(tmp_path, run_recorder)
    proc = check(cli("merge", tmp_path / "merged", first, second))
    assert "writers copied" in proc.stdout and " 4" in proc.stdout
    with callmonitor.load(first) as a, callmonitor.load(second) as b, \
            callmonitor.load(tmp_path / "merged") as m:
        assert m.runs == ["call-monitor", "call-monitor-1"]
        assert m.writers == [f"call-monitor/{w}" for w in a.writers] + \
                            [f"call-monitor-1/{w}" for w in b.writers]
        assert len(m) == len(a) + len(b) == 6
        merged = every_call(m)
        originals = [(f"{run}/{c[0]}",) + c[1:] for run, db in (("call-monitor", a), ("call-monitor-1", b))
                     for c in every_call(db)]
        assert len(merged) == len(originals)
        for got, want in zip(merged, originals):
            assert got[:5] == want[:5]
            assert_same(list(got[5:]), list(want[5:]))
        blob = m.get("kernel", 2, writer="call-monitor-1/main")[0][0]
        assert blob.dtype.str == ">i4" and blob.shape == (300,) and (blob == 2).all()
        assert m.get("kernel", 1, writer="call-monitor/main")[1] == {"tag": "run 1"}


@pytest.mark.integration  # forks a recording child: real processes (test-sanitized.sh leaves them out)
def test_merging_a_merge_with_its_own_inputs_again_adds_nothing(tmp_path, run_recorder):
    # GIVEN a merge of two runs WHEN it is merged again together with one of those runs
    # THEN the result holds each writer once and reads back as the first merge.
    first, second = record_two_runs(tmp_path, run_recorder)
    check(cli("merge", tmp_path / "m1", first, second))
    proc = check(cli("merge", tmp_path / "m2", tmp_path / "m1", first, first / "main"))
    assert "skipped" in proc.stdout
    with callmonitor.load(tmp_path / "m1") as m1, callmonitor.load(tmp_path / "m2") as m2:
        assert m2.writers == m1.writers
        a, b = every_call(m1), every_call(m2)
        assert [c[:5] for c in a] == [c[:5] for c in b]
        assert_same([list(c[5:]) for c in a], [list(c[5:]) for c in b])


def test_legacy_handler_files_travel_with_the_merge(tmp_path, run_recorder):
    # GIVEN a run whose values were saved by a callmonitor 0.3-style handler into files
    # WHEN it is merged and the originals are deleted THEN the merge still reads them.
    (tmp_path / "legacy_blob.py").write_text(textwrap.dedent(LEGACY_MODULE))
    check(run_recorder(RECORD, tmp_path, env={"ACCUMULATOR_MARKER": tmp_path / "marker"}))
    check(cli("merge", tmp_path / "merged", tmp_path / "call-monitor"))
    shutil.rmtree(tmp_path / "call-monitor")
    proc = check(run_recorder('''
        import callmonitor
        from legacy_blob import Blob, BlobHandler
        callmonitor.REGISTRY.add(Blob, BlobHandler)
        db = callmonitor.load("merged")
        args, kwargs = db.get("take", 1)
        print(args[0].payload, kwargs["k"].payload, db.get("take", 2)[0][0].payload)
    ''', tmp_path))
    assert proc.stdout == "first keyword second\n"


@pytest.mark.integration  # forks a recording child: real processes (test-sanitized.sh leaves them out)
def test_merge_refuses_an_existing_output_and_reports_bad_inputs(tmp_path, run_recorder):
    # GIVEN an existing OUT, a missing input and a directory that is no database
    # WHEN merged THEN each fails with one clear line and exit code 1, and OUT is untouched.
    first, _ = record_two_runs(tmp_path, run_recorder)
    (tmp_path / "taken").mkdir()
    proc = cli("merge", tmp_path / "taken", first)
    assert proc.returncode == 1 and "exists" in proc.stderr and "Traceback" not in proc.stderr
    assert list((tmp_path / "taken").iterdir()) == []
    proc = cli("merge", tmp_path / "out", first, tmp_path / "nowhere")
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = cli("merge", tmp_path / "out", tmp_path / "empty")
    assert proc.returncode == 1 and "not a callmonitor database" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.integration  # forks a recording child: real processes (test-sanitized.sh leaves them out)
def test_merge_from_python_returns_the_counts(tmp_path, run_recorder):
    first, second = record_two_runs(tmp_path, run_recorder)
    from callmonitor.cli.merge import merge
    result = merge(tmp_path / "out", [first, second])
    # payloads: the two 1200-byte arguments and their (float64) results
    assert result["writers"] == 4 and result["calls"] == 6 and result["blobs"] == 4
    with callmonitor.load(tmp_path / "out") as db:
        assert np.array_equal(db.get("kernel", 1, writer="call-monitor/main")[0][0],
                              np.arange(12.0).reshape(3, 4) + 1)


POLICY_PROGRAM = '''
import sys
import callmonitor
from callmonitor import intercept

callmonitor.configure(seed=int(sys.argv[1]))

@intercept(every=3)
def step(x):
    return x

@intercept(sample=0.5)
def noisy(x):
    return x

for i in range(10):
    step(i)
    noisy(i)
'''


def test_merge_keeps_the_policy_counts_per_source_and_why_calls_were_dropped(tmp_path, run_recorder):
    # GIVEN two runs with capture policies (different seeds) WHEN merged (and the merge
    # merged again) THEN each source keeps its seen / kept / dropped counts and seed, the
    # run sums them, and a dropped call still names the policy that dropped it.
    for seed in (11, 12):
        check(run_recorder(POLICY_PROGRAM, tmp_path, args=(str(seed),)))
    first, second = tmp_path / "call-monitor", tmp_path / "call-monitor-1"
    check(cli("merge", tmp_path / "merged", first, second))
    check(cli("merge", tmp_path / "again", tmp_path / "merged"))
    with callmonitor.load(first) as a, callmonitor.load(tmp_path / "merged") as m, \
            callmonitor.load(tmp_path / "again") as m2:
        for db in (m, m2):
            steps = [f for f in db.functions if f.name == "step"]
            assert [(f.seen, f.kept, f.dropped, f.policy) for f in steps] == \
                [(10, 4, {"every": 6}, "every=3")] * 2
            seeds = sorted(w.policy.seed for w in db._writers)
            assert seeds == [11, 12]
            assert "8 calls recorded of 20 (every=3)" in str(db)
            with pytest.raises(callmonitor.CallNotRecordedError, match="every=3"):
                db.get("step", 2, writer="call-monitor/main")
            noisy = [f for f in db.functions if f.name == "noisy" and f.writer == "call-monitor/main"][0]
            want = [f for f in a.functions if f.name == "noisy"][0]
            assert (noisy.seen, noisy.kept, noisy.dropped) == (want.seen, want.kept, want.dropped)
            missing = next(n for n in range(1, 11)
                           if n not in [c.invocation for c in db.calls("noisy", writer="call-monitor/main")])
            with pytest.raises(callmonitor.CallNotRecordedError, match="sample=0.5.*seed 11"):
                db.get("noisy", missing, writer="call-monitor/main")
