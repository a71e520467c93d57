"""Processes: os.fork, multiprocessing (fork, spawn, forkserver), ProcessPoolExecutor and
subprocesses record into one run directory, each process into a writer of its own; and a
recording process that is terminated by a signal keeps its calls."""
import json
import os
import signal

import pytest

import callmonitor
from _support import check, describe

pytestmark = pytest.mark.integration  # real processes: mpirun, forks, kills


def run_dirs(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("call-monitor"))


def assert_recorded_once(db, fn, expected_args):
    """Every expected argument tuple is recorded exactly once, and each writer's
    invocation numbers are 1..n without gaps."""
    seen = sorted((tuple(c.args) for c in db.calls(fn)), key=repr)
    assert seen == sorted(expected_args, key=repr)
    for w in db.writers:
        invocations = [c.invocation for c in db.calls(fn, writer=w)]
        assert invocations == list(range(1, len(invocations) + 1)), w


def test_forked_child_records_into_its_own_writer_and_the_parents_data_stays_intact(
        tmp_path, run_recorder):
    # GIVEN a recording parent that forks WHEN parent and child both record
    # THEN the child writes pid-<child>/ in the parent's run, the parent's main/ holds its own
    # calls, numbered on without a gap, and nothing of the child's.
    proc = check(run_recorder('''
        import os, json
        import callmonitor
        from sample_functions import identity
        for i in range(100):
            identity(("parent", i))
        callmonitor.flush()
        pid = os.fork()
        if pid == 0:
            for i in range(300):
                identity(("child", i))
            callmonitor.flush()
            os._exit(0)
        for i in range(100, 200):
            identity(("parent", i))
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"child": pid, "status": status}))
    ''', tmp_path))
    out = json.loads(proc.stdout)
    assert out["status"] == 0
    assert run_dirs(tmp_path) == ["call-monitor"]
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert db.writers == ["main", f"pid-{out['child']}"]
        parent = [tuple(c.args[0]) for c in db.calls("identity", writer="main")]
        child = [tuple(c.args[0]) for c in db.calls("identity", pid=out["child"])]
        assert parent == [("parent", i) for i in range(200)]
        assert child == [("child", i) for i in range(300)]
        assert db.call("identity", 300, pid=out["child"]).pid == out["child"]


def test_child_forked_before_the_parent_records_joins_the_parents_run(tmp_path, run_recorder):
    # GIVEN a parent that forks before its first recorded call WHEN both record
    # THEN there is one run directory: main/ for the parent, pid-N/ for the child.
    proc = check(run_recorder('''
        import os
        from sample_functions import identity
        pid = os.fork()
        if pid == 0:
            identity("child")
            os._exit(0)          # skips atexit: callmonitor commits before os._exit
        os.waitpid(pid, 0)
        identity("parent")
        print(pid)
    ''', tmp_path))
    child = int(proc.stdout)
    assert run_dirs(tmp_path) == ["call-monitor"]
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert db.writers == ["main", f"pid-{child}"]
        assert db.get("identity", 1, writer="main") == (["parent"], {})
        assert db.get("identity", 1, pid=child) == (["child"], {})


POOL = '''
import multiprocessing as mp, sys
from sample_functions import identity

if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    with ctx.Pool(4) as pool:         # leaving the block terminates the workers (SIGTERM)
        out = pool.map(identity, range(4000), chunksize=25)
    assert out == list(range(4000))
    print("ok")
'''


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_of_four_workers_times_a_thousand_calls_records_every_call_once(
        tmp_path, run_recorder, method):
    # GIVEN a multiprocessing pool of 4 workers mapping an intercepted function over 4000
    # inputs, left with `with` (which terminates the workers) WHEN the program ends
    # THEN every call is in the one run directory exactly once, each worker in its own pid-N/.
    check(run_recorder(POOL, tmp_path, args=(method,), timeout=120))
    assert run_dirs(tmp_path) == ["call-monitor"]
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert db.writers and all(w.startswith("pid-") for w in db.writers)
        assert len(db.writers) <= 4
        assert_recorded_once(db, "identity", [(i,) for i in range(4000)])
        assert {c.pid for c in db.calls("identity")} == {int(w[4:]) for w in db.writers}


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool_executor_runs_an_intercepted_task(tmp_path, run_recorder, method):
    # GIVEN concurrent.futures.ProcessPoolExecutor with an intercepted function as the task
    # WHEN the parent also records THEN results are right and every call is recorded once,
    # the parent's in main/, the workers' in pid-N/.
    check(run_recorder('''
        import multiprocessing as mp, sys
        from concurrent.futures import ProcessPoolExecutor
        from sample_functions import identity
        if __name__ == "__main__":
            identity("parent")
            with ProcessPoolExecutor(4, mp_context=mp.get_context(sys.argv[1])) as ex:
                out = list(ex.map(identity, range(1000), chunksize=10))
            assert out == list(range(1000))
    ''', tmp_path, args=(method,), timeout=120))
    assert run_dirs(tmp_path) == ["call-monitor"]
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert db.writers[0] == "main"
        assert db.get("identity", 1, writer="main") == (["parent"], {})
        assert_recorded_once(db, "identity", [("parent",)] + [(i,) for i in range(1000)])


def test_subprocess_of_a_recording_process_joins_its_run_unless_it_records_elsewhere(
        tmp_path, run_recorder):
    # GIVEN a recording program that starts two Python subprocesses, one with the same
    # output and one with another WHEN all record THEN the first is pid-N/ of the parent's
    # run and the second has a run of its own.
    proc = check(run_recorder('''
        import os, subprocess, sys
        from sample_functions import identity
        identity("parent")
        child = "from sample_functions import identity; import os; identity(os.getpid()); print(os.getpid())"
        same = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
        other = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True,
                               env=dict(os.environ, CALLMONITOR_DIR="elsewhere"))
        print(same.stdout.strip(), other.stdout.strip())
    ''', tmp_path))
    same, other = (int(p) for p in proc.stdout.split())
    assert run_dirs(tmp_path) == ["call-monitor"]
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert db.writers == ["main", f"pid-{same}"]
        assert db.get("identity", 1, pid=same) == ([same], {})
    with callmonitor.load(tmp_path / "elsewhere") as db:
        assert db.writers == ["main"]
        assert db.get("identity", 1) == ([other], {})


def test_sigterm_commits_every_call_and_still_ends_the_process_by_sigterm(tmp_path, run_recorder):
    # GIVEN a recording program without a SIGTERM handler, blocked after 5000 calls (well
    # inside one flush interval) WHEN it is sent SIGTERM THEN it ends by SIGTERM as it would
    # without capture, and all 5000 calls are on disk.
    proc = run_recorder('''
        import os, signal, sys, callmonitor
        callmonitor.configure(flush_interval=30)    # no periodic commit would come in time
        from sample_functions import identity
        for i in range(5000):
            identity(i)
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pause()
    ''', tmp_path)
    assert proc.returncode == -signal.SIGTERM, describe(proc)
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert len(db) == 5000
        assert db.get("identity", -1) == ([4999], {})


def test_a_programs_own_sigterm_handler_is_left_alone(tmp_path, run_recorder):
    # GIVEN a program that installs its own SIGTERM handler before recording WHEN it gets
    # SIGTERM THEN its handler runs (capture installs nothing over it).
    proc = check(run_recorder('''
        import os, signal
        from sample_functions import identity
        got = []
        signal.signal(signal.SIGTERM, lambda *a: got.append("mine"))
        identity(1)
        os.kill(os.getpid(), signal.SIGTERM)
        print(got)
    ''', tmp_path))
    assert proc.stdout.strip() == "['mine']"


def test_close_then_record_in_a_child_starts_a_new_shared_run(tmp_path, run_recorder):
    # GIVEN a parent that records, closes its session and forks WHEN parent and child
    # record again THEN both go to the next run directory (call-monitor-1), not back into
    # the closed one.
    proc = check(run_recorder('''
        import os, callmonitor
        from sample_functions import identity
        identity("first run")
        callmonitor.close()
        pid = os.fork()
        if pid == 0:
            identity("child")
            os._exit(0)
        os.waitpid(pid, 0)
        identity("second run")
        print(pid)
    ''', tmp_path))
    child = int(proc.stdout)
    assert run_dirs(tmp_path) == ["call-monitor", "call-monitor-1"]
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert db.writers == ["main"] and len(db) == 1
    with callmonitor.load(tmp_path / "call-monitor-1") as db:
        assert db.writers == ["main", f"pid-{child}"]
        assert db.get("identity", 1, writer="main") == (["second run"], {})


# A script whose own function runs in a pool: the workers (spawn, forkserver) import the
# script as "__mp_main__".
MAIN_SCRIPT_POOL = '''
import multiprocessing as mp, sys
import callmonitor

@callmonitor.intercept
def square(x):
    return x * x

if __name__ == "__main__":
    if len(sys.argv) > 2:
        callmonitor.configure(output=sys.argv[2])
    square(-1)
    with mp.get_context(sys.argv[1]).Pool(2) as pool:
        assert pool.map(square, range(200), chunksize=10) == [x * x for x in range(200)]
'''


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_functions_of_the_main_script_run_in_a_pool_are_recorded_under_main(
        tmp_path, run_recorder, method):
    # GIVEN a script whose own intercepted function is mapped by a spawn / forkserver pool
    # WHEN it runs THEN every call, the parent's and the workers', is one function
    # __main__.square (not __mp_main__.square beside it), found by its name.
    check(run_recorder(MAIN_SCRIPT_POOL, tmp_path, args=(method,), timeout=120))
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert {f.full_name for f in db.functions} == {"__main__.square"}
        assert len({(f.file, f.line) for f in db.functions}) == 1
        assert len(db.writers) > 1
        assert_recorded_once(db, "__main__.square", [(-1,)] + [(i,) for i in range(200)])


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_configured_output_reaches_spawn_and_forkserver_workers(tmp_path, run_recorder, method):
    # GIVEN configure(output="results/run") in the script, WHEN its pool workers record
    # THEN they are writers of the parent's run there, and no ./call-monitor appears.
    check(run_recorder(MAIN_SCRIPT_POOL, tmp_path, args=(method, "results/run"), timeout=120))
    assert run_dirs(tmp_path) == []
    assert sorted(os.listdir(tmp_path / "results")) == ["run"]
    with callmonitor.load(tmp_path / "results" / "run") as db:
        assert db.writers[0] == "main" and len(db.writers) > 1
        assert all(w.startswith("pid-") for w in db.writers[1:])
        assert_recorded_once(db, "square", [(-1,)] + [(i,) for i in range(200)])


def test_configured_output_reaches_subprocesses_and_their_children(tmp_path, run_recorder):
    # GIVEN configure(output=...) in a program that runs a Python subprocess (from another
    # working directory) which itself runs one, and one more subprocess given its own
    # CALLMONITOR_DIR, WHEN all record THEN the first two are writers of the parent's run
    # and the third records where it was told.
    (tmp_path / "elsewhere").mkdir()
    proc = check(run_recorder('''
        import os, subprocess, sys
        import callmonitor
        from sample_functions import identity
        callmonitor.configure(output="out")
        identity("parent")
        grandchild = "from sample_functions import identity; import os; identity(os.getpid())"
        child = ("from sample_functions import identity; import os, subprocess, sys; "
                 "identity(os.getpid()); "
                 f"subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)")
        subprocess.run([sys.executable, "-c", child], check=True, cwd="elsewhere")
        subprocess.run([sys.executable, "-c", grandchild], check=True,
                       env=dict(os.environ, CALLMONITOR_DIR="own"))
    ''', tmp_path))
    assert run_dirs(tmp_path) == [] and run_dirs(tmp_path / "elsewhere") == []
    with callmonitor.load(tmp_path / "out") as db:
        assert len(db.writers) == 3 and db.writers[0] == "main"
        assert [c.args for c in db.calls("identity", writer="main")] == [["parent"]]
        assert sorted(c.args[0] for c in db.calls("identity") if c.writer != "main") == \
            sorted(int(w[4:]) for w in db.writers[1:])
    with callmonitor.load(tmp_path / "own") as db:
        assert db.writers == ["main"]


# A script whose own (unrecorded) function calls a recorded one, in spawn / forkserver
# workers: the calling module is the script, "__mp_main__" in the workers.
MAIN_SCRIPT_CALLER_POOL = '''
import multiprocessing as mp, sys
from sample_functions import identity

def task(x):
    return identity(x)

if __name__ == "__main__":
    task(-1)
    with mp.get_context(sys.argv[1]).Pool(2) as pool:
        assert pool.map(task, range(50), chunksize=5) == list(range(50))
'''


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_calls_made_from_the_main_script_in_a_pool_have_caller_module_main(tmp_path, run_recorder, method):
    # GIVEN a script's own function that calls a recorded function, mapped by a spawn /
    # forkserver pool WHEN it runs THEN every call's caller module is __main__ (the
    # workers run the script as __mp_main__), in the calls and in the API derived.
    check(run_recorder(MAIN_SCRIPT_CALLER_POOL, tmp_path, args=(method,), timeout=120))
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert len(db.writers) > 1
        assert {c.caller for c in db.calls("identity")} == {"__main__"}
        assert db.api()["sample_functions.identity"].callers == {"__main__": 51}
