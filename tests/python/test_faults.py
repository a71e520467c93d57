"""Fault injection with real processes: SIGKILL at random points, a full disk, a
read-only location, a map growing to gigabytes, a database copied while it is written.

What is promised (docs/robustness.md): every database opens afterwards; each function's
calls are a gap-free prefix 1..n of what the program called, each with the inputs it was
called with; every call committed before the fault (flush() returned True) is there; the
program keeps its own output and exit code, with one warning when the store fails.
"""
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import callmonitor
from _support import describe, subprocess_env

pytestmark = pytest.mark.integration  # real processes: mpirun, forks, kills

# -- helpers -------------------------------------------------------------------------------


def _warnings(stderr):
    return [line for line in stderr.splitlines() if "callmonitor: warning:" in line]


def _require_root(what):
    if os.geteuid() != 0:
        pytest.fail(f"{what} needs root to mount a tmpfs (CI runs as root); run the suite as root")


def _mount(*args):
    proc = subprocess.run(["mount", *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, f"mount {' '.join(map(str, args))} failed: {proc.stderr}"


@contextlib.contextmanager
def _tmpfs(path, size, readonly=False):
    """A tmpfs of `size` mounted at `path` (created), unmounted on exit."""
    _require_root("this test")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}" + (",ro" if readonly else ""), "tmpfs", path)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def _readonly_view(source, path):
    """`source` visible read-only at `path` (a read-only bind mount; root ignores chmod)."""
    _require_root("this test")
    path.mkdir(parents=True, exist_ok=True)
    _mount("--bind", source, path)
    try:
        _mount("-o", "remount,bind,ro", path)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def check_gap_free(run_dir, expected_arg, min_calls=None):
    """Opens `run_dir` and checks every function's calls are invocations 1..n with
    args[0] == expected_arg(fn, n). Returns {function qualname: n}."""
    counts = {}
    with callmonitor.load(run_dir) as db:
        for fn in db.functions:
            n = 0
            for call in db.calls(f"{fn.module}.{fn.qualname}"):
                n += 1
                assert call.invocation == n, f"{fn.qualname}: gap before call {call.invocation}"
                expected = expected_arg(fn.qualname, n)
                actual = call.args[0]
                assert actual == expected, f"{fn.qualname} call {n}: args[0] {actual!r} != {expected!r}"
                if len(call.args) > 1 and isinstance(call.args[1], np.ndarray):
                    arr = call.args[1]
                    assert (arr == expected).all(), f"{fn.qualname} call {n}: array bytes differ"
                if call.completed:
                    assert call.result == expected, f"{fn.qualname} call {n}: result {call.result!r}"
            assert n == fn.calls, f"{fn.qualname}: {n} calls iterated, {fn.calls} counted"
            counts[fn.qualname] = n
    for name, least in (min_calls or {}).items():
        assert counts.get(name, 0) >= least, \
            f"{name}: {counts.get(name, 0)} calls stored, but {least} were flushed before the fault"
    return counts


# -- SIGKILL at random points ---------------------------------------------------------------

# Records f (small), g (arrays stored as blobs), h (from a second thread); the map starts
# tiny so it grows while the kills land. After each successful flush() the counts it covers
# are printed: those calls must survive the kill.
KILLED_RECORDER = '''
import sys, threading
import numpy as np
import callmonitor
from callmonitor import intercept
callmonitor.configure(map_size=1 << 16, durability=sys.argv[1])

@intercept
def f(i):
    return i

@intercept
def g(i, arr):
    return i

@intercept
def h(i):
    return i

done_h = [0]
def other_thread():
    for i in range(1, 10**9):
        h(i)
        done_h[0] = i

print("ready", flush=True)
threading.Thread(target=other_thread, daemon=True).start()
for i in range(1, 10**9):
    f(i)
    g(i, np.full(200 + i % 300, i, dtype=np.int64))
    if i % 97 == 0:
        hs = done_h[0]
        if callmonitor.flush():
            print("flushed", i, hs, flush=True)
'''

# Each kill costs ~6 s (start, record, check); CI runs 16, a soak more:
# CALLMONITOR_FAULT_KILLS=200 (with CALLMONITOR_FAULT_SEED to repeat one).
KILLS = int(os.environ.get("CALLMONITOR_FAULT_KILLS", 16))


def _flushed_counts(stdout):
    # Only complete lines: the kill can land in the middle of a print.
    complete = stdout.split("\n")[:-1]
    last = [line.split() for line in complete if line.startswith("flushed ")]
    if not last:
        return {}
    _, fg, h = last[-1]
    return {"f": int(fg), "g": int(fg), "h": int(h)}


def _never_committed(data_mdb):
    """True when no transaction was ever committed to this LMDB file: both meta pages
    (pages 0 and 1) hold txnid 0 (mm_txnid: after the 16-byte page header, the magic,
    version, address, map size, two 48-byte MDB_db records and the last page number)."""
    page = os.sysconf("SC_PAGE_SIZE")   # LMDB's page size is the OS page size
    raw = data_mdb.read_bytes()[:page + 152]
    if len(raw) < page + 152:
        return True
    return all(int.from_bytes(raw[off + 144:off + 152], "little") == 0 for off in (0, page))


def test_sigkill_at_random_points_leaves_a_gap_free_prefix_with_every_flushed_call(tmp_path):
    # GIVEN a program recording from two threads into a growing map, WHEN it is SIGKILLed
    # at a random moment, KILLS times (seeded), THEN each database opens and holds a
    # gap-free prefix of each function's calls, including every call flushed before the kill.
    seed = int(os.environ.get("CALLMONITOR_FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_RECORDER)
    survived = 0
    for k in range(KILLS):
        where = tmp_path / f"run{k}"
        where.mkdir()
        durability = "sync" if k % 8 == 7 else "batch"
        delay = rng.uniform(0.0, 0.35)
        proc = subprocess.Popen([sys.executable, str(script), durability], cwd=where, env=subprocess_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline() == "ready\n", proc.stderr.read()
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        context = f"kill {k} (seed {seed}: rerun with CALLMONITOR_FAULT_SEED={seed}), " \
                  f"delay {delay:.3f}s, durability {durability}"
        assert proc.returncode == -signal.SIGKILL, f"{context}: exit code {proc.returncode}\n{err}"
        assert "Traceback" not in err and not _warnings(err), f"{context}\n{err}"
        run_dir = where / "call-monitor"
        data = run_dir / "main" / "data.mdb"
        if not data.exists() or _never_committed(data):
            continue   # killed before the writer's first commit: nothing to check
        try:
            check_gap_free(run_dir, lambda fn, n: n, _flushed_counts(out))
        except Exception as e:
            raise AssertionError(f"{context}: {e}") from e
        survived += 1
    print(f"survived {survived} of {KILLS} SIGKILLs with a database (seed {seed})")
    assert survived >= KILLS * 3 // 4, f"only {survived} kills landed while recording (seed {seed})"


# -- full disk ------------------------------------------------------------------------------

# Commits a few small calls, then records 64 KiB arrays until the 2 MiB file system is full,
# flushing now and then; ends with its own output and exit code.
FILLS_THE_DISK = '''
import sys
import numpy as np
import callmonitor
from callmonitor import intercept
callmonitor.configure(output=sys.argv[1], durability=sys.argv[2])

@intercept
def f(i, arr):
    return i

for i in range(1, 6):
    f(i, np.full(8, i, dtype=np.int64))
print("committed", 5 if callmonitor.flush() else 0, flush=True)
total = 0
for i in range(6, 301):
    total += f(i, np.full(8192, i, dtype=np.int64))
    if i % 10 == 0:
        callmonitor.flush()
print("program output", total)
print("stats", callmonitor.stats()["dropped_calls"])
sys.exit(7)
'''


@pytest.mark.parametrize("durability,prefill", [("batch", 0), ("sync", 0), ("batch", 1900)])
def test_full_disk_warns_once_program_finishes_and_committed_calls_stay(tmp_path, durability, prefill):
    # GIVEN a 2 MiB tmpfs (optionally nearly filled already), WHEN a program records more
    # than fits, THEN it prints its normal output and exits 7, with one warning, and every
    # call committed before the disk filled is readable.
    with _tmpfs(tmp_path / "disk", "2m") as disk:
        if prefill:
            (disk / "filler").write_bytes(b"\0" * (prefill * 1024))
        script = tmp_path / "fill.py"
        script.write_text(FILLS_THE_DISK)
        proc = subprocess.run([sys.executable, str(script), str(disk / "out"), durability], cwd=tmp_path,
                              env=subprocess_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 7, describe(proc)
        lines = proc.stdout.splitlines()
        assert lines[1] == f"program output {sum(range(6, 301))}", describe(proc)
        assert len(_warnings(proc.stderr)) == 1, describe(proc)
        assert "Traceback" not in proc.stderr, describe(proc)
        committed = int(lines[0].split()[1])
        if (disk / "out" / "main" / "data.mdb").exists():
            counts = check_gap_free(disk / "out", lambda fn, n: n, {"f": committed})
            assert counts["f"] < 300, "the disk never filled: the test did not test anything"
            assert int(lines[2].split()[1]) == 300 - counts["f"], \
                f"stats()['dropped_calls'] should count every call not stored: {describe(proc)}"
        else:
            assert prefill and committed == 0, describe(proc)


# -- read-only location ---------------------------------------------------------------------

RECORDS_TEN = '''
import sys
import callmonitor
from callmonitor import intercept
if len(sys.argv) > 1:
    callmonitor.configure(output=sys.argv[1])

@intercept
def f(i):
    return i

total = sum(f(i) for i in range(1, 11))
print("program output", total, callmonitor.flush(), callmonitor.stats()["dropped_calls"])
sys.exit(4)
'''


def test_read_only_location_warns_once_and_program_runs_on(tmp_path):
    # GIVEN a read-only file system as the output, WHEN a program records, THEN one warning,
    # its own output and exit code, and nothing is written there.
    with _tmpfs(tmp_path / "ro", "1m", readonly=True) as ro:
        script = tmp_path / "ten.py"
        script.write_text(RECORDS_TEN)
        proc = subprocess.run([sys.executable, str(script), str(ro / "out")], cwd=tmp_path,
                              env=subprocess_env(), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 4, describe(proc)
        # Truthful accounting: flush() says the calls were not stored, all 10 are counted.
        assert proc.stdout == "program output 55 False 10\n", describe(proc)
        assert len(_warnings(proc.stderr)) == 1, describe(proc)
        assert str(ro / "out") in _warnings(proc.stderr)[0], describe(proc)
        assert "Traceback" not in proc.stderr
        assert os.listdir(ro) == []


def test_database_on_a_read_only_bind_mount_stays_readable_and_recording_there_warns(tmp_path):
    # GIVEN a database recorded normally, WHEN its folder is seen through a read-only bind
    # mount, THEN it loads there, and a program recording into that folder warns once and
    # runs on.
    src = tmp_path / "src"
    src.mkdir()
    script = tmp_path / "ten.py"
    script.write_text(RECORDS_TEN)
    first = subprocess.run([sys.executable, str(script)], cwd=src, env=subprocess_env(),
                           capture_output=True, text=True, timeout=60)
    assert first.returncode == 4 and not _warnings(first.stderr), describe(first)
    with _readonly_view(src, tmp_path / "view") as view:
        assert check_gap_free(view / "call-monitor", lambda fn, n: n) == {"f": 10}
        proc = subprocess.run([sys.executable, str(script)], cwd=view, env=subprocess_env(),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 4, describe(proc)
        assert proc.stdout == "program output 55 False 10\n", describe(proc)
        assert len(_warnings(proc.stderr)) == 1, describe(proc)
        assert sorted(os.listdir(view)) == ["call-monitor"]


@pytest.mark.parametrize("room", [0, 4 * 1024])
def test_disk_full_from_the_start_counts_every_call_and_leaves_no_directory(tmp_path, room):
    # GIVEN a tmpfs with no room left (or room for the directories and the marker, not
    # for LMDB's lock file: it crashed the program with SIGBUS), WHEN a program records 10
    # calls, THEN it runs on with one warning naming the path, flush() returns False,
    # stats() counts 10 dropped calls, and no run directory is left behind for `summary`
    # to call "not a database".
    with _tmpfs(tmp_path / "disk", "1m") as disk:
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\1" * 4096)
        os.close(fd)
        if room:
            os.truncate(disk / "filler", os.path.getsize(disk / "filler") - room)
        script = tmp_path / "ten.py"
        script.write_text(RECORDS_TEN)
        proc = subprocess.run([sys.executable, str(script), str(disk / "out")], cwd=tmp_path,
                              env=subprocess_env(), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 4, describe(proc)
        assert proc.stdout == "program output 55 False 10\n", describe(proc)
        warnings = _warnings(proc.stderr)
        assert len(warnings) == 1 and str(disk / "out") in warnings[0], describe(proc)
        assert "no space left on device" in warnings[0].lower(), describe(proc)
        assert "Traceback" not in proc.stderr
        assert os.listdir(disk) == ["filler"], describe(proc)


# -- the map growing to gigabytes -----------------------------------------------------------

GB_OF_ARRAYS = '''
import sys, time
import numpy as np
import callmonitor
from callmonitor import intercept
callmonitor.configure(map_size=1 << 20)

@intercept
def f(i, arr):
    return i

n = int(sys.argv[1])
t = time.perf_counter()
for i in range(1, n + 1):
    f(i, np.full(1 << 20, i, dtype=np.int64))       # 8 MiB each
print(callmonitor.flush(), callmonitor.stats()["dropped_calls"], f"{time.perf_counter() - t:.1f}")
'''

GB_CALLS = 384   # 3 GiB of arrays


@pytest.mark.big_memory
def test_map_grows_from_one_mib_past_three_gib_of_arrays(tmp_path, run_recorder):
    # GIVEN a 1 MiB initial map, WHEN 384 calls pass 8 MiB arrays (3 GiB), THEN no warning,
    # nothing dropped, and every array reads back with its own values.
    proc = run_recorder(GB_OF_ARRAYS, tmp_path, args=[str(GB_CALLS)], timeout=300)
    assert proc.returncode == 0, describe(proc)
    flushed, dropped, seconds = proc.stdout.split()
    assert (flushed, dropped) == ("True", "0"), describe(proc)
    assert not _warnings(proc.stderr), describe(proc)
    data = tmp_path / "call-monitor" / "main" / "data.mdb"
    assert data.stat().st_size >= GB_CALLS << 23
    with callmonitor.load(tmp_path / "call-monitor") as db:
        n = 0
        for n, call in enumerate(db.calls("f"), start=1):
            i, arr = call.args
            assert i == n and call.result == n
            assert arr.shape == (1 << 20,) and arr.dtype == np.int64
            assert arr[0] == n and arr[-1] == n
            if n % 32 == 0:
                assert (arr == n).all()
        assert n == GB_CALLS
    print(f"3 GiB of arrays recorded in {seconds} s")


# -- copied while being written -------------------------------------------------------------

LIVE_RECORDER = '''
import time
import numpy as np
import callmonitor
from callmonitor import intercept

@intercept
def f(i, arr):
    return i

print("ready", flush=True)
for i in range(1, 10**9):
    f(i, np.full(100, i, dtype=np.int32))
    if i % 500 == 0:
        callmonitor.flush()
        time.sleep(0.005)           # ~50,000 calls/s: copies stay a few MB
'''

# Loads every call of a copy; prints "ok N" or the DatabaseError class. Exit 0 either way.
CHECK_COPY = '''
import sys
import callmonitor
try:
    with callmonitor.load(sys.argv[1]) as db:
        n = 0
        for n, call in enumerate(db.calls("f"), start=1):
            i, arr = call.args
            assert i == n == call.invocation, (i, n, call.invocation)
            assert arr.shape == (100,) and (arr == n).all(), n
        print("ok", n)
except callmonitor.DatabaseError as e:
    print(type(e).__name__, e)
'''

COPIES = 12


@pytest.mark.parametrize("how", ["plain copy", "mdb_copy"])
def test_database_copied_while_being_written(tmp_path, run_recorder, how):
    # GIVEN a program recording continuously, WHEN its writer directory is copied COPIES
    # times, THEN a plain file copy (no LMDB snapshot) either opens with a gap-free prefix of
    # correct calls or raises CorruptError saying how to copy a live database -- never a
    # crash, wrong data or "not a callmonitor database"; an mdb_copy copy always opens.
    script = tmp_path / "live.py"
    script.write_text(LIVE_RECORDER)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        writer = tmp_path / "call-monitor" / "main"
        while not (writer / "data.mdb").exists():
            time.sleep(0.01)
        for k in range(COPIES):
            time.sleep(0.05)
            copy = tmp_path / f"copy{k}" / "main"
            if how == "mdb_copy":
                copy.mkdir(parents=True)
                subprocess.run(["mdb_copy", str(writer), str(copy)], check=True, timeout=60)
            else:
                shutil.copytree(writer, copy)
    finally:
        proc.kill()
        proc.communicate()
    outcomes = []
    for k in range(COPIES):
        checked = run_recorder(CHECK_COPY, tmp_path, args=[str(tmp_path / f"copy{k}")])
        assert checked.returncode == 0, f"{how} {k}: " + describe(checked)
        outcome, rest = checked.stdout.split(maxsplit=1)
        outcomes.append(outcome)
        if outcome == "ok":
            assert int(rest) > 0, f"{how} {k}: " + describe(checked)
        else:
            assert how == "plain copy" and outcome == "CorruptError", f"{how} {k}: " + describe(checked)
            assert "copied" in rest or "copy" in rest, f"{how} {k}: " + describe(checked)
    print(f"{how}: ", {o: outcomes.count(o) for o in set(outcomes)})


# -- merge onto a full disk -------------------------------------------------------------------

RECORDS_ARRAYS = '''
import numpy as np
import callmonitor
from callmonitor import intercept

@intercept
def f(a):
    return float(a.sum())

rng = np.random.default_rng(5)
for i in range(300):
    f(rng.random(3000))   # 24 KB of distinct bytes each: ~7 MB, more than the disk holds
'''


@pytest.mark.parametrize("via", ["cli", "python"])
def test_merge_onto_a_full_disk_is_a_store_error_that_says_so_and_leaves_nothing(tmp_path, via):
    # GIVEN a run of ~7 MB and a 2 MiB tmpfs, WHEN it is merged onto the tmpfs (through the
    # CLI, or callmonitor.cli.merge from Python), THEN a clear error that says the file system
    # is full (no SIGBUS: exit code 1, not 135), and no OUT or OUT.partial-<pid> is left.
    script = tmp_path / "rec.py"
    script.write_text(RECORDS_ARRAYS)
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=subprocess_env(), check=True, timeout=120)
    with _tmpfs(tmp_path / "disk", "2m") as disk:
        out = disk / "merged"
        if via == "cli":
            proc = subprocess.run([sys.executable, "-m", "callmonitor", "merge", str(out), str(tmp_path / "call-monitor")],
                                  env=subprocess_env(), capture_output=True, text=True, timeout=120)
            assert proc.returncode == 1, describe(proc)
            assert "full" in proc.stderr and "Traceback" not in proc.stderr, describe(proc)
        else:
            code = ("import sys, callmonitor.cli.merge as m\n"
                    "try:\n    m.merge(sys.argv[1], [sys.argv[2]])\n"
                    "except callmonitor.StoreError as e:\n    print('StoreError', e)\n")
            proc = subprocess.run([sys.executable, "-c", "import callmonitor\n" + code, str(out),
                                   str(tmp_path / "call-monitor")],
                                  env=subprocess_env(), capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0 and proc.stdout.startswith("StoreError") and "full" in proc.stdout, \
                describe(proc)
        assert list(disk.iterdir()) == [], f"left behind: {list(disk.iterdir())}"
