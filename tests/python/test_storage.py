"""Where runs are written, when, by which writer, and what survives flush / kill / growth."""
import json
import os
import signal
import subprocess
import sys

import numpy as np

import callmonitor
import sample_functions as sf
from _support import check, describe, subprocess_env

RECORD_ONE = '''
import sys
from callmonitor import intercept

@intercept
def f(x):
    return x

f(sys.argv[1] if len(sys.argv) > 1 else "{tag}")
'''


def _calls_of(run_dir, fn="f"):
    with callmonitor.load(run_dir) as db:
        return [c.args for c in db.calls(fn)]


def test_default_output_never_overwrites_earlier_runs(tmp_path, run_recorder):
    for tag in ("run0", "run1", "run2"):
        check(run_recorder(RECORD_ONE.format(tag=tag), tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("call-monitor")) == \
        ["call-monitor", "call-monitor-1", "call-monitor-2"]
    assert _calls_of(tmp_path / "call-monitor") == [["run0"]]
    assert _calls_of(tmp_path / "call-monitor-1") == [["run1"]]
    assert _calls_of(tmp_path / "call-monitor-2") == [["run2"]]


def test_nothing_is_created_before_the_first_recorded_call(tmp_path, run_recorder):
    proc = check(run_recorder('''
        import os
        import callmonitor
        import sample_functions                 # decorated functions, never called
        from callmonitor import intercept

        @intercept
        def f(x):
            return x

        print(callmonitor.output_directory())
        print(sorted(os.listdir(".")))
        f(1)
        print(callmonitor.output_directory())
    ''', tmp_path))
    lines = proc.stdout.splitlines()
    assert lines[0] == "None"
    assert not any(n.startswith("call-monitor") for n in eval(lines[1]))
    assert os.path.realpath(lines[2]) == os.path.realpath(tmp_path / "call-monitor")


def test_import_and_decorate_only_creates_nothing(tmp_path, run_recorder):
    check(run_recorder('''
        import callmonitor, sample_functions
        callmonitor.flush()
    ''', tmp_path))
    assert not any(p.name.startswith("call-monitor") for p in tmp_path.iterdir())


def test_callmonitor_dir_environment_variable(tmp_path, run_recorder):
    out = tmp_path / "elsewhere" / "from-env"
    check(run_recorder(RECORD_ONE.format(tag="env"), tmp_path, env={"CALLMONITOR_DIR": out}))
    assert not (tmp_path / "call-monitor").exists()
    assert _calls_of(out) == [["env"]]
    check(run_recorder(RECORD_ONE.format(tag="env2"), tmp_path, env={"CALLMONITOR_DIR": out}))
    assert _calls_of(f"{out}-1") == [["env2"]]


def test_configure_output(tmp_path, run_recorder):
    check(run_recorder('''
        import callmonitor
        callmonitor.configure(output="custom/out")
        from sample_functions import identity
        identity("configured")
    ''', tmp_path))
    assert not (tmp_path / "call-monitor").exists()
    assert _calls_of(tmp_path / "custom" / "out", "identity") == [["configured"]]


def test_flush_commits_and_close_starts_a_new_run_directory(recorder):
    sf.identity("a")
    assert callmonitor.flush() is True
    first = callmonitor.output_directory()
    assert os.path.realpath(first) == os.path.realpath(recorder.base)
    assert _calls_of(first, "identity") == [["a"]]
    callmonitor.close()
    sf.identity("b")
    assert callmonitor.flush() is True
    second = callmonitor.output_directory()
    assert os.path.realpath(second) == os.path.realpath(f"{recorder.base}-1")
    assert _calls_of(second, "identity") == [["b"]]
    assert _calls_of(first, "identity") == [["a"]]


def test_durability_sync_commits_before_the_function_runs(tmp_path, run_recorder):
    proc = run_recorder('''
        import os, signal
        import callmonitor
        from callmonitor import intercept
        callmonitor.configure(durability="sync")

        @intercept
        def f(x):
            return x

        @intercept
        def die(x):
            os.kill(os.getpid(), signal.SIGKILL)

        f(1)
        f(2)
        die("last words")
    ''', tmp_path)
    assert proc.returncode == -signal.SIGKILL, describe(proc)
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert [c.args for c in db.calls("f")] == [[1], [2]]
        call = db.call("die", 1)
        assert call.args == ["last words"]
        assert call.completed is False


def test_sigkill_after_flush_keeps_every_flushed_call(tmp_path, run_recorder):
    proc = run_recorder('''
        import os, signal
        import numpy as np
        import callmonitor
        from callmonitor import intercept

        @intercept
        def f(i, arr):
            return i

        for i in range(500):
            f(i, np.full(100, i, dtype=np.int32))
        assert callmonitor.flush() is True
        os.kill(os.getpid(), signal.SIGKILL)
    ''', tmp_path)
    assert proc.returncode == -signal.SIGKILL, describe(proc)
    with callmonitor.load(tmp_path / "call-monitor") as db:
        calls = list(db.calls("f"))
        assert len(calls) == 500
        for n, call in enumerate(calls, start=1):
            assert call.invocation == n
            assert call.args[0] == n - 1
            assert (call.args[1] == n - 1).all() and call.args[1].shape == (100,)
            assert call.result == n - 1


def test_periodic_flush_without_explicit_flush(tmp_path, run_recorder):
    proc = run_recorder('''
        import os, signal, time
        from callmonitor import intercept

        @intercept
        def f(i):
            return i

        for i in range(10):
            f(i)
        time.sleep(1.0)          # the writer commits at least every 100 ms
        os.kill(os.getpid(), signal.SIGKILL)
    ''', tmp_path)
    assert proc.returncode == -signal.SIGKILL, describe(proc)
    assert _calls_of(tmp_path / "call-monitor") == [[i] for i in range(10)]


def test_reader_on_a_live_writer(tmp_path):
    script = tmp_path / "live.py"
    script.write_text('''
import sys
import callmonitor
from callmonitor import intercept

@intercept
def f(i):
    return i

for i in range(5):
    f(i)
assert callmonitor.flush()
print("ready", flush=True)
sys.stdin.readline()
for i in range(5, 12):
    f(i)
assert callmonitor.flush()
print("more", flush=True)
sys.stdin.readline()
print("bye", flush=True)
''')
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=subprocess_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        db = callmonitor.load(tmp_path / "call-monitor")
        assert len(db) == 5
        assert [c.args[0] for c in db.calls("f")] == list(range(5))
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "more\n"
        assert len(db) == 12                             # the same reader sees new commits
        assert db.get("f", -1) == ([11], {})
        db2 = callmonitor.load(tmp_path / "call-monitor")
        assert len(db2) == 12
        proc.stdin.write("done\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == "bye\n"
    assert len(callmonitor.load(tmp_path / "call-monitor")) == 12


def test_recorded_in_one_process_read_in_another(tmp_path, run_recorder):
    check(run_recorder('''
        import numpy as np
        from sample_functions import two_args, identity
        two_args(np.arange(4.0), {"k": (1, 2.5, "s")})
        identity(None)
    ''', tmp_path))
    with callmonitor.load(tmp_path / "call-monitor") as db:
        args, kwargs = db.get("two_args", 1)
        assert args[0].dtype == np.float64 and args[0].tolist() == [0.0, 1.0, 2.0, 3.0]
        assert args[1] == {"k": (1, 2.5, "s")} and kwargs == {}
        assert db.get("identity", 1) == ([None], {})
        assert {f.module for f in db.functions} == {"sample_functions"}
    proc = check(run_recorder('''
        import callmonitor
        db = callmonitor.load("call-monitor")
        print(db.get("two_args", 1)[0][1], len(db))
    ''', tmp_path))
    assert proc.stdout == "{'k': (1, 2.5, 's')} 2\n"


def test_eight_threads_times_ten_thousand_calls_share_one_writer_with_unique_invocations(tmp_path, run_recorder):
    proc = check(run_recorder('''
        import json, threading
        from callmonitor import intercept

        @intercept
        def f(t, i):
            return None

        N_THREADS, N_CALLS = 8, 10_000
        idents = {}
        barrier = threading.Barrier(N_THREADS)

        def work(t):
            idents[t] = threading.get_ident()
            barrier.wait()
            for i in range(N_CALLS):
                f(t, i)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(N_THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        print(json.dumps(idents))
    ''', tmp_path))
    idents = {int(k): v for k, v in json.loads(proc.stdout).items()}
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert len(db) == 80_000
        seen = set()
        invocations = []
        for call in db.calls("f"):
            t, i = call.args
            assert call.thread == idents[t], (call.invocation, t, call.thread)
            seen.add((t, i))
            invocations.append(call.invocation)
        assert invocations == list(range(1, 80_001))
        assert seen == {(t, i) for t in range(8) for i in range(10_000)}
        per_thread = {}
        for call in db.calls("f"):        # each thread's calls are in its own order
            per_thread.setdefault(call.args[0], []).append(call.args[1])
        assert all(v == list(range(10_000)) for v in per_thread.values())


def test_settings_enable_multi_threading_uses_its_own_writer_directory(tmp_path, run_recorder):
    check(run_recorder('''
        from callmonitor import Settings
        settings = Settings()
        settings.enable_multi_threading(3)
        from sample_functions import identity
        identity("tid three")
    ''', tmp_path))
    run_dir = tmp_path / "call-monitor"
    assert (run_dir / "tid-3" / "data.mdb").is_file()
    assert not (run_dir / "main").exists()
    with callmonitor.load(run_dir) as db:
        assert db.writers == ["tid-3"]
        assert db.get("identity", 1) == (["tid three"], {})
        assert db.call("identity", 1).writer == "tid-3"
    with callmonitor.load(run_dir / "tid-3") as db:
        assert db.get("identity", 1) == (["tid three"], {})


def test_map_grows_by_itself(tmp_path, run_recorder):
    proc = check(run_recorder('''
        import numpy as np
        import callmonitor
        from callmonitor import intercept
        callmonitor.configure(map_size=1 << 20)

        @intercept
        def f(i, arr):
            return float(arr[0])

        for i in range(50):
            f(i, np.full(1 << 17, i, dtype=np.float64))     # 1 MiB each, ~50 MB in all
        print(callmonitor.flush(), callmonitor.stats()["dropped_calls"])
    ''', tmp_path), 0)
    assert proc.stdout == "True 0\n"
    assert "warning" not in proc.stderr
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert len(db) == 50
        for n, call in enumerate(db.calls("f"), start=1):
            i, arr = call.args
            assert i == n - 1
            assert arr.shape == (1 << 17,) and arr.dtype == np.float64
            assert arr[0] == i and arr[-1] == i and (arr == i).all()
            assert call.result == float(i)
