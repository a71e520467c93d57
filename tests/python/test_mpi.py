"""MPI jobs (real `mpirun` processes) and the pieces they rest on: rank/job
detection from launcher variables, and the run directory the ranks of a job
agree on without talking to each other. mpirun and mpi4py are test
dependencies (tools/setup.sh installs openmpi-bin and python3-mpi4py): when
either is missing these tests fail, they are never skipped."""
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import types

import numpy as np
import pytest

import callmonitor
from callmonitor.capture import launcher, run_directory
from _support import assert_same, check, describe, subprocess_env
from test_cli import cli

pytestmark = pytest.mark.integration  # real processes: mpirun, forks, kills

RANKS = 4
MPI_TIMEOUT_S = 120      # a hanging job fails its test instead of hanging CI
RUN = "call-monitor"


# -- running a job -----------------------------------------------------------------------

def _mpirun():
    path = shutil.which("mpirun")
    assert path, "mpirun not found on PATH: tools/setup.sh installs openmpi-bin"
    return path


def mpirun_python(code, cwd, *, n=RANKS, env=None, timeout=MPI_TIMEOUT_S):
    """Runs `code` (dedented) under `mpirun -n n` with sys.executable in `cwd`;
    a job still running after `timeout` seconds is killed and fails the test."""
    script = os.path.join(os.fspath(cwd), "..", f"_mpi_job_{os.getpid()}_{time.time_ns()}.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(textwrap.dedent(code))
    cmd = [_mpirun(), "-n", str(n), "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [sys.executable, os.path.abspath(script)]
    proc = subprocess.Popen(cmd, cwd=cwd, env=subprocess_env(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()             # mpirun tears its ranks down on SIGTERM ...
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)   # ... or the whole session goes
            out, err = proc.communicate()
        pytest.fail(f"the MPI job did not finish within {timeout} s\n--- stdout ---\n{out}\n"
                    f"--- stderr ---\n{err}")
    finally:
        os.unlink(script)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _rank_reports(proc):
    """{rank: dict} from the flat JSON objects the ranks print (mpirun may run
    the ranks' lines together)."""
    found = {}
    for text in re.findall(r"\{[^{}]*\}", proc.stdout):
        d = json.loads(text)
        found[d["rank"]] = d
    return found


def _run_dirs(cwd):
    return sorted(p.name for p in cwd.iterdir() if p.name.startswith(RUN))


def _rank_writer(r):
    return f"rank-{r:04d}"


# -- what each rank passes: the same code runs in the ranks and in the test ---------------

RANK_INPUTS = '''
import numpy as np

def kernel(u, alpha, *, scale=1.0):
    return float(u[-1].sum()) * float(scale), alpha

def label(rank, name, tags):
    return {"rank": rank, "name": name}

def kernel_calls(rank):
    """(args, kwargs) of every kernel call of `rank`: rank + 2 calls, each its own arrays."""
    rng = np.random.default_rng(1000 + rank)
    calls = []
    for i in range(rank + 2):
        u = rng.standard_normal((3, 4 + rank))
        if i == 0:
            u[0, 0], u[0, 1], u[0, 2] = -0.0, np.nan, np.inf
        if i % 2:
            u = np.asfortranarray(u)
        alpha = np.float32(rank) / np.float32(3) + np.float32(i)
        calls.append(((u, alpha), {"scale": rank * 0.1 + i}))
    calls.append(((np.arange(rank + 1, dtype=np.int16)[::-1].copy(), complex(rank, -0.0)),
                  {"scale": 2 ** 70 + rank}))
    return calls

def label_calls(rank):
    return [((rank, f"rank {rank}", [rank] * rank), {})]
'''
_inputs = types.ModuleType("rank_inputs")
exec(RANK_INPUTS, _inputs.__dict__)

FUNCTIONS = {"kernel": (_inputs.kernel, _inputs.kernel_calls),
             "label": (_inputs.label, _inputs.label_calls)}

MPI4PY_JOB = RANK_INPUTS + '''
import json, os
from mpi4py import MPI
import callmonitor
from callmonitor import intercept

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
recorded = {"kernel": intercept(kernel), "label": intercept(label)}
count = 0
for name, calls in (("kernel", kernel_calls), ("label", label_calls)):
    for args, kwargs in calls(rank):
        recorded[name](*args, **kwargs)
        count += 1
total = comm.allreduce(count, op=MPI.SUM)
assert callmonitor.flush() is True
print(json.dumps({"rank": rank, "pid": os.getpid(), "total": total,
                  "job": os.environ["OMPI_MCA_ess_base_jobid"],
                  "run_dir": callmonitor.output_directory()}), flush=True)
'''


@pytest.fixture(scope="module")
def mpi4py_job(tmp_path_factory):
    """A 4-rank mpi4py job's cwd and the ranks' reports, run once for this module."""
    assert importlib.util.find_spec("mpi4py") is not None, \
        "mpi4py is not importable: tools/setup.sh installs python3-mpi4py"
    cwd = tmp_path_factory.mktemp("mpi4py-job")
    proc = check(mpirun_python(MPI4PY_JOB, cwd))
    reports = _rank_reports(proc)
    assert sorted(reports) == list(range(RANKS)), describe(proc)
    return cwd, reports


def _expected_calls(fn, rank):
    function, calls = FUNCTIONS[fn]
    return [(list(args), kwargs, function(*args, **kwargs)) for args, kwargs in calls(rank)]


# -- 1. a real mpi4py program --------------------------------------------------------------

def test_GIVEN_mpi4py_job_of_4_ranks_WHEN_loaded_THEN_one_writer_per_rank_with_its_own_calls(
        mpi4py_job):
    cwd, reports = mpi4py_job
    expected_total = sum(len(FUNCTIONS[fn][1](r)) for fn in FUNCTIONS for r in range(RANKS))
    assert {d["total"] for d in reports.values()} == {expected_total}   # allreduce ran
    assert {os.path.realpath(d["run_dir"]) for d in reports.values()} == \
        {os.path.realpath(cwd / RUN)}
    with callmonitor.load(cwd / RUN) as db:
        assert db.writers == [_rank_writer(r) for r in range(RANKS)]
        assert db.ranks == list(range(RANKS))
        assert len(db) == expected_total
        for r in range(RANKS):
            for fn in FUNCTIONS:
                expected = _expected_calls(fn, r)
                for n, (args, kwargs, result) in enumerate(expected, start=1):
                    got_args, got_kwargs = db.get(fn, n, rank=r)
                    assert_same(args, got_args, f"rank {r} {fn} #{n} args")
                    assert_same(kwargs, got_kwargs, f"rank {r} {fn} #{n} kwargs")
                with pytest.raises(IndexError):
                    db.get(fn, len(expected) + 1, rank=r)
                calls = list(db.calls(fn, rank=r))
                assert [c.invocation for c in calls] == list(range(1, len(expected) + 1))
                for c, (args, kwargs, result) in zip(calls, expected):
                    assert (c.rank, c.pid, c.writer, c.run) == \
                        (r, reports[r]["pid"], _rank_writer(r), RUN)
                    assert c.completed and c.exception is None
                    assert_same(args, c.args, f"rank {r} {fn} #{c.invocation} args")
                    assert_same(result, c.result, f"rank {r} {fn} #{c.invocation} result")
        text = repr(db)
    assert f"{RANKS} writers (ranks 0-{RANKS - 1})" in text, text
    kernel_counts = ", ".join(f"{_rank_writer(r)}: {r + 3}" for r in range(RANKS))
    assert f"per writer: {kernel_counts}" in text, text
    for r in range(RANKS):
        assert (f"{_rank_writer(r)}: rank {r}, pid {reports[r]['pid']} on "
                f"{os.uname().nodename}, {r + 4} calls") in text, text


def test_GIVEN_mpi4py_job_THEN_one_run_directory_with_one_marker_of_the_job(mpi4py_job):
    cwd, reports = mpi4py_job
    assert _run_dirs(cwd) == [RUN]
    assert sorted(os.listdir(cwd)) == [RUN], "nothing else is created in the cwd"
    markers = [os.path.relpath(os.path.join(d, f), cwd)
               for d, _, files in os.walk(cwd) for f in files if f == run_directory.MARKER]
    assert markers == [os.path.join(RUN, run_directory.MARKER)]
    assert sorted(os.listdir(cwd / RUN)) == \
        [run_directory.MARKER] + [_rank_writer(r) for r in range(RANKS)]
    (job,) = {d["job"] for d in reports.values()}
    assert run_directory.read_run_id(cwd / RUN) == f"job:{job}"


# -- 2. a rank that never records; no mpi4py ----------------------------------------------

ENV_RANK_JOB = '''
import json, os, sys
import callmonitor
from callmonitor import intercept

@intercept
def f(rank, i):
    return rank * 100 + i

rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
if rank not in SILENT:
    for i in range(CALLS + rank):
        f(rank, i)
assert "mpi4py" not in sys.modules and "mpi4py.MPI" not in sys.modules
print(json.dumps({"rank": rank, "pid": os.getpid()}), flush=True)
'''


def _env_rank_job(silent=(), calls=3):
    return f"SILENT = {tuple(silent)!r}\nCALLS = {calls}\n" + ENV_RANK_JOB


def _f_calls_by_rank(db):
    return {r: [(c.invocation, c.args, c.result) for c in db.calls("f", rank=r)]
            for r in db.ranks}


def _expected_f_calls(rank, calls=3):
    return [(i + 1, [rank, i], rank * 100 + i) for i in range(calls + rank)]


def test_GIVEN_a_rank_that_never_records_and_no_mpi4py_WHEN_job_runs_THEN_it_ends_without_it(
        tmp_path):
    proc = check(mpirun_python(_env_rank_job(silent=[2]), tmp_path))
    pids = {r: d["pid"] for r, d in _rank_reports(proc).items()}
    assert sorted(pids) == list(range(RANKS)), describe(proc)
    assert _run_dirs(tmp_path) == [RUN]
    assert sorted(os.listdir(tmp_path / RUN)) == \
        [run_directory.MARKER, "rank-0000", "rank-0001", "rank-0003"]
    with callmonitor.load(tmp_path / RUN) as db:
        assert db.writers == ["rank-0000", "rank-0001", "rank-0003"]
        assert db.ranks == [0, 1, 3]
        assert _f_calls_by_rank(db) == {r: _expected_f_calls(r) for r in (0, 1, 3)}
        assert {c.pid for c in db.calls("f", rank=3)} == {pids[3]}


# -- 3. a rank killed by SIGKILL -------------------------------------------------------------

KILLED_RANK_JOB = '''
import os, signal, time
import numpy as np
from mpi4py import MPI
import callmonitor
from callmonitor import intercept

KILLED, EXTRA = 1, 5

@intercept
def f(rank, i, arr):
    return i

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
flushed = 40 + 10 * rank
for i in range(flushed):
    f(rank, i, np.full(16, i, dtype=np.int64))
assert callmonitor.flush() is True
comm.Barrier()                       # every rank has flushed
if rank == KILLED:
    for i in range(flushed, flushed + EXTRA):
        f(rank, i, np.full(16, i, dtype=np.int64))
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(100)                      # until mpirun tears the job down
'''


def _check_f_prefix(db, rank, count):
    """Checks that `rank`'s calls of f are 1..m without a gap, the first `count`
    of them complete; returns m."""
    calls = list(db.calls("f", rank=rank))
    for n, c in enumerate(calls, start=1):
        assert c.invocation == n, f"rank {rank}: gap before call {c.invocation}"
        assert c.args[:2] == [rank, n - 1]
        assert_same(np.full(16, n - 1, dtype=np.int64), c.args[2], f"rank {rank} #{n}")
        if n <= count:
            assert c.completed and c.result == n - 1, f"rank {rank} #{n}: {c!r}"
    return len(calls)


def test_GIVEN_a_rank_killed_by_sigkill_WHEN_job_torn_down_THEN_every_flushed_call_is_readable(
        tmp_path):
    proc = mpirun_python(KILLED_RANK_JOB, tmp_path, timeout=60)
    assert proc.returncode != 0, describe(proc)
    assert "rank 1 " in proc.stderr and "signal 9" in proc.stderr, describe(proc)
    killed, extra = 1, 5
    flushed = {r: 40 + 10 * r for r in range(RANKS)}
    assert _run_dirs(tmp_path) == [RUN]
    for r in range(RANKS):           # each writer opens on its own ...
        with callmonitor.load(tmp_path / RUN / _rank_writer(r)) as db:
            assert db.ranks == [r]
    with callmonitor.load(tmp_path / RUN) as db:      # ... and all together
        assert db.ranks == list(range(RANKS))
        for r in range(RANKS):
            got = _check_f_prefix(db, r, flushed[r])
            if r == killed:
                assert flushed[r] <= got <= flushed[r] + extra, got
            else:
                assert got == flushed[r]


# -- 4. two jobs in one cwd ------------------------------------------------------------------

def _snapshot(run_dir):
    """Every file (lock files by name only: readers use them) and every call."""
    files = {}
    for d, _, names in os.walk(run_dir):
        for name in names:
            path = os.path.join(d, name)
            rel = os.path.relpath(path, run_dir)
            if name == "lock.mdb":
                files[rel] = None
            else:
                with open(path, "rb") as f:
                    files[rel] = hashlib.sha256(f.read()).hexdigest()
    with callmonitor.load(run_dir) as db:
        return files, _f_calls_by_rank(db)


def test_GIVEN_two_jobs_one_after_the_other_THEN_the_second_gets_its_own_run_directory(tmp_path):
    check(mpirun_python(_env_rank_job(calls=2), tmp_path))
    first = _snapshot(tmp_path / RUN)
    assert first[1] == {r: _expected_f_calls(r, 2) for r in range(RANKS)}
    check(mpirun_python(_env_rank_job(calls=5), tmp_path))
    assert _run_dirs(tmp_path) == [RUN, f"{RUN}-1"]
    assert _snapshot(tmp_path / RUN) == first
    second_id = run_directory.read_run_id(tmp_path / f"{RUN}-1")
    assert second_id and second_id.startswith("job:")
    assert second_id != run_directory.read_run_id(tmp_path / RUN)
    with callmonitor.load(tmp_path / f"{RUN}-1") as db:
        assert db.writers == [_rank_writer(r) for r in range(RANKS)]
        assert _f_calls_by_rank(db) == {r: _expected_f_calls(r, 5) for r in range(RANKS)}


def test_GIVEN_a_recording_driver_script_that_runs_mpirun_THEN_the_ranks_still_write_rank_writers(
        tmp_path):
    # GIVEN a Python driver that imported callmonitor and recorded a call (so it publishes its
    # run to its children) WHEN it starts an MPI job THEN the ranks are not taken for its
    # children: the job has a run of its own with rank-NNNN writers.
    job = tmp_path / "_job.py"
    job.write_text(_env_rank_job(calls=2))
    driver = textwrap.dedent(f"""
        import subprocess, sys
        from sample_functions import identity
        identity("driver")
        cmd = [{_mpirun()!r}, "-n", "{RANKS}", "--oversubscribe"]
        cmd += ["--allow-run-as-root"] if {os.geteuid() == 0} else []
        subprocess.run(cmd + [sys.executable, {str(job)!r}], check=True, timeout={MPI_TIMEOUT_S})
    """)
    check(subprocess.run([sys.executable, "-c", driver], cwd=tmp_path, env=subprocess_env(),
                         capture_output=True, text=True, timeout=MPI_TIMEOUT_S + 10))
    assert _run_dirs(tmp_path) == [RUN, f"{RUN}-1"]
    by_writers = {}
    for run in (RUN, f"{RUN}-1"):
        with callmonitor.load(tmp_path / run) as db:
            by_writers[tuple(db.writers)] = db.ranks
    assert by_writers == {("main",): [], tuple(_rank_writer(r) for r in range(RANKS)): list(range(RANKS))}


# -- 5. merging a 4-rank run -----------------------------------------------------------------

def _content(db):
    """Everything a reader sees, per writer and function, provenance included."""
    out = {"writers": db.writers, "ranks": db.ranks, "runs": db.runs, "calls": len(db)}
    for info in db.writer_info():
        for fn in sorted({f.qualname for f in db.functions if f.writer == info["id"]}):
            out[(info["id"], fn)] = [
                (c.invocation, c.args, c.kwargs, c.result, c.exception, c.completed, c.rank,
                 c.pid, c.writer, c.run, c.thread, c.thread_name, c.caller, c.started,
                 c.started_ns, c.duration_ns, c.duration)
                for c in db.calls(fn, writer=info["id"])]
    return out


def _assert_same_run(original, merged):
    with callmonitor.load(original) as a, callmonitor.load(merged) as b:
        assert (a.writers, a.ranks) == (b.writers, b.ranks)
        for r in a.ranks:
            for fn in FUNCTIONS:
                count = len(list(a.calls(fn, rank=r)))
                assert count == len(list(b.calls(fn, rank=r))) > 0
                for n in [*range(1, count + 1), -1]:
                    assert_same(a.get(fn, n, rank=r), b.get(fn, n, rank=r),
                                f"{merged}: rank {r} {fn} #{n}")
        content = _content(a)
        assert_same(content, _content(b), str(merged))
        return content


def test_GIVEN_4_rank_run_WHEN_merged_THEN_reads_back_identical_and_merging_again_changes_nothing(
        mpi4py_job, tmp_path):
    cwd, _ = mpi4py_job
    run, out, out2 = cwd / RUN, tmp_path / "merged", tmp_path / "merged-again"
    proc = check(cli("merge", out, run))
    assert f"merged into {out}" in proc.stdout
    content = _assert_same_run(run, out)
    assert content["writers"] == [_rank_writer(r) for r in range(RANKS)]

    proc = check(cli("merge", out2, out, run))
    assert "already there" in proc.stdout
    assert_same(content, _assert_same_run(run, out2), "merge of the merge")

    proc = cli("merge", out, run)
    assert proc.returncode == 1, describe(proc)
    assert "exists" in proc.stderr and str(out) in proc.stderr and "Traceback" not in proc.stderr
    assert_same(content, _assert_same_run(run, out), "after the refused merge")


# -- 6. launcher detection (in process) ------------------------------------------------------

_LAUNCH_VARS = (launcher._RANK_VARS + launcher._SIZE_VARS + launcher._JOB_VARS +
                ("SLURM_PROCID", "SLURM_STEP_ID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS",
                 "SLURM_JOB_ID", launcher.RUN_ID_VAR))


@pytest.fixture
def launch_env(monkeypatch):
    """A process outside any launcher and without mpi4py; set() adds variables."""
    for name in list(os.environ):
        if name in _LAUNCH_VARS or name.startswith(("OMPI_", "PMIX_", "PMI_", "SLURM_")):
            monkeypatch.delenv(name)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)

    def set_vars(**values):
        for k, v in values.items():
            monkeypatch.setenv(k, str(v))
    return set_vars


def _ppid_job():
    return f"ppid-{os.uname().nodename}-{os.getppid()}"


@pytest.mark.parametrize("variables, expected", [
    ({}, launcher.Launch(-1, 0, "")),
    ({"OMPI_COMM_WORLD_RANK": 3, "OMPI_COMM_WORLD_SIZE": 4, "OMPI_MCA_ess_base_jobid": 123},
     launcher.Launch(3, 4, "123")),
    ({"PMIX_RANK": 1, "PMIX_NAMESPACE": "prterun-x-1@1"}, launcher.Launch(1, 0, "prterun-x-1@1")),
    ({"PMI_RANK": 2, "PMI_SIZE": 8, "PMI_KVSNAME": "kvs_77_0"}, launcher.Launch(2, 8, "kvs_77_0")),
    ({"SLURM_PROCID": 5, "SLURM_STEP_ID": 0, "SLURM_STEP_NUM_TASKS": 8, "SLURM_JOB_ID": 777},
     launcher.Launch(5, 8, "slurm-777.0")),
    ({"SLURM_PROCID": 0, "SLURM_NTASKS": 8, "SLURM_JOB_ID": 777}, launcher.Launch(-1, 0, "")),
    ({"SLURM_PROCID": 0, "SLURM_STEP_ID": "batch", "SLURM_NTASKS": 8, "SLURM_JOB_ID": 777},
     launcher.Launch(-1, 0, "")),
    ({"SLURM_PROCID": 0, "SLURM_STEP_ID": 2, "SLURM_STEP_NUM_TASKS": 1, "SLURM_JOB_ID": 777},
     launcher.Launch(-1, 0, "")),
    ({"CALLMONITOR_RUN_ID": "nightly-42"}, launcher.Launch(-1, 0, "nightly-42")),
    ({"CALLMONITOR_RUN_ID": "nightly-42", "OMPI_COMM_WORLD_RANK": 1,
      "OMPI_MCA_ess_base_jobid": 9}, launcher.Launch(1, 0, "nightly-42")),
    ({"OMPI_COMM_WORLD_RANK": "not-a-number"}, launcher.Launch(-1, 0, "")),
], ids=["none", "openmpi", "pmix", "pmi", "slurm-step", "slurm-batch-script",
        "slurm-batch-step", "slurm-one-task-step", "run-id", "run-id-over-job", "bad-rank"])
def test_GIVEN_launcher_variables_WHEN_detect_THEN_rank_size_and_job(launch_env, variables,
                                                                    expected):
    launch_env(**variables)
    assert launcher.detect() == expected


def test_GIVEN_a_rank_without_job_id_WHEN_detect_THEN_job_is_the_launcher_process(launch_env):
    launch_env(PMI_RANK=1, PMI_SIZE=2)
    assert launcher.detect() == launcher.Launch(1, 2, _ppid_job())


def _fake_mpi(monkeypatch, rank, size, initialized=True):
    comm = types.SimpleNamespace(Get_rank=lambda: rank, Get_size=lambda: size)
    mpi = types.SimpleNamespace(Is_initialized=lambda: initialized, Is_finalized=lambda: False,
                                COMM_WORLD=comm)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", mpi)


@pytest.mark.parametrize("rank, size, initialized, expected_rank", [
    (2, 4, True, 2), (0, 1, True, -1), (2, 4, False, -1)],
    ids=["initialized-world-of-4", "singleton", "not-initialized"])
def test_GIVEN_mpi4py_imported_by_the_program_WHEN_detect_THEN_its_rank_when_initialized(
        launch_env, monkeypatch, rank, size, initialized, expected_rank):
    _fake_mpi(monkeypatch, rank, size, initialized)
    launch = launcher.detect()
    assert launch.rank == expected_rank
    assert launch == (launcher.Launch(rank, size, _ppid_job()) if expected_rank >= 0
                      else launcher.Launch(-1, 0, ""))


# -- 6. claiming run directories -------------------------------------------------------------

def test_GIVEN_claimed_runs_WHEN_claimed_again_THEN_own_is_joined_and_others_move_on(tmp_path):
    base = os.fspath(tmp_path / RUN)
    assert run_directory.claim_run(base, "job:A") == base
    assert run_directory.claim_run(base, "job:B") == f"{base}-1"
    assert run_directory.claim_run(base, "job:A") == base
    assert run_directory.claim_run(base, "job:B") == f"{base}-1"
    assert run_directory.claim_run(base, "job:A#1") == f"{base}-2"
    assert [run_directory.read_run_id(f"{base}{s}") for s in ("", "-1", "-2")] == \
        ["job:A", "job:B", "job:A#1"]
    assert sorted(os.listdir(base)) == [run_directory.MARKER]


CLAIM_RACE = '''
import os, sys, time
import callmonitor
from callmonitor import intercept

@intercept
def f(rank):
    return rank

while not os.path.exists(sys.argv[1]):   # start together
    time.sleep(0.001)
f(int(os.environ["OMPI_COMM_WORLD_RANK"]))
print(callmonitor.output_directory())
'''


def test_GIVEN_8_ranks_starting_together_past_foreign_directories_THEN_all_share_the_next_free(
        tmp_path):
    cwd = tmp_path / "cwd"
    (cwd / RUN).mkdir(parents=True)
    run_directory._write_marker(os.fspath(cwd / RUN), "job:someone-else")
    (cwd / f"{RUN}-1").mkdir()                          # no marker, and old: not a run
    old = time.time() - 3600
    os.utime(cwd / f"{RUN}-1", (old, old))
    script, go = tmp_path / "claim.py", tmp_path / "go"
    script.write_text(CLAIM_RACE)
    procs = [subprocess.Popen([sys.executable, os.fspath(script), os.fspath(go)], cwd=cwd,
                              env=subprocess_env({"OMPI_COMM_WORLD_RANK": i,
                                                  "OMPI_COMM_WORLD_SIZE": 8,
                                                  "OMPI_MCA_ess_base_jobid": "4242"}),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(8)]
    time.sleep(0.5)                  # let every interpreter get to the start line
    go.touch()
    outputs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        assert p.returncode == 0, f"exit code {p.returncode}\n{out}\n{err}"
        outputs.append(out.strip())
    assert {os.path.realpath(o) for o in outputs} == {os.path.realpath(cwd / f"{RUN}-2")}
    assert _run_dirs(cwd) == [RUN, f"{RUN}-1", f"{RUN}-2"]
    assert sorted(os.listdir(cwd / RUN)) == [run_directory.MARKER]
    assert os.listdir(cwd / f"{RUN}-1") == []
    assert sorted(os.listdir(cwd / f"{RUN}-2")) == \
        [run_directory.MARKER] + [_rank_writer(r) for r in range(8)]
    assert run_directory.read_run_id(cwd / f"{RUN}-2") == "job:4242"
    with callmonitor.load(cwd / f"{RUN}-2") as db:
        assert db.ranks == list(range(8))
        assert {r: [c.args for c in db.calls("f", rank=r)] for r in db.ranks} == \
            {r: [[r]] for r in range(8)}
