"""Bad databases raise a DatabaseError subclass saying what and where (never crash);
an unwritable output location costs one warning, not the program."""
import os
import random
import shutil

import pytest

import callmonitor
from callmonitor import CorruptError, DatabaseError, NotADatabaseError, NotFoundError, VersionError
from _support import check, describe

# Loads everything a database holds; prints the error class on DatabaseError (exit 1).
LOAD_ALL = '''
import sys
import callmonitor
try:
    with callmonitor.load(sys.argv[1]) as db:
        n = 0
        for fn in db.functions:
            for call in db.calls(f"{fn.module}.{fn.qualname}"):
                call.args, call.kwargs, call.result
                n += 1
        repr(db)
        print("loaded", n)
except callmonitor.DatabaseError as e:
    print(type(e).__name__)
    print(e)
    sys.exit(1)
'''


def _record_small_db(tmp_path, run_recorder, n=300):
    check(run_recorder(f'''
        import numpy as np
        from callmonitor import intercept

        @intercept
        def f(i, arr, s):
            return i

        for i in range({n}):
            f(i, np.arange(64) * i, "x" * (i % 50))
    ''', tmp_path))
    return tmp_path / "call-monitor"


def _load_in_subprocess(run_recorder, cwd, path):
    proc = run_recorder(LOAD_ALL, cwd, args=[str(path)])
    assert proc.returncode in (0, 1), "the reader crashed: " + describe(proc)
    assert "Traceback" not in proc.stderr, describe(proc)
    return proc


def test_missing_path_raises_not_found_naming_the_path(tmp_path):
    missing = tmp_path / "no-such-run"
    with pytest.raises(NotFoundError) as info:
        callmonitor.load(missing)
    assert isinstance(info.value, DatabaseError)
    assert str(missing) in str(info.value)


def test_plain_directory_raises_not_a_database(tmp_path):
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    (plain / "notes.txt").write_text("hello")
    with pytest.raises(NotADatabaseError) as info:
        callmonitor.load(plain)
    assert isinstance(info.value, DatabaseError)
    assert str(plain) in str(info.value)


def test_regular_file_raises_not_a_database(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(NotADatabaseError):
        callmonitor.load(f)


def test_exception_hierarchy():
    for cls in (NotFoundError, NotADatabaseError, VersionError, CorruptError,
                callmonitor.UnknownFunctionError):
        assert issubclass(cls, DatabaseError)
    assert issubclass(callmonitor.UnknownFunctionError, LookupError)


@pytest.mark.parametrize("size", [0, 100, 8192, 65536])
def test_garbage_data_mdb_is_a_database_error(tmp_path, run_recorder, size):
    writer = tmp_path / "garbage" / "main"
    writer.mkdir(parents=True)
    rng = random.Random(size)
    (writer / "data.mdb").write_bytes(bytes(rng.getrandbits(8) for _ in range(size)))
    proc = _load_in_subprocess(run_recorder, tmp_path, tmp_path / "garbage")
    assert proc.returncode == 1, describe(proc)
    kind, message = proc.stdout.split("\n", 1)
    assert kind in ("CorruptError", "NotADatabaseError")
    assert "garbage" in message                      # says where


@pytest.mark.parametrize("cut", ["tiny", "half", "last_page"])
def test_truncated_data_mdb_is_a_database_error_not_a_crash(tmp_path, run_recorder, cut):
    run_dir = _record_small_db(tmp_path, run_recorder)
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    data = broken / "main" / "data.mdb"
    size = data.stat().st_size
    assert size > 3 * 4096
    new_size = {"tiny": 100, "half": size // 2, "last_page": size - 4096}[cut]
    os.truncate(data, new_size)
    proc = _load_in_subprocess(run_recorder, tmp_path, broken)
    assert proc.returncode == 1, "a truncated database loaded without error: " + describe(proc)
    kind, message = proc.stdout.split("\n", 1)
    assert kind in ("CorruptError", "NotADatabaseError"), proc.stdout
    assert "broken" in message


def test_intact_copy_of_the_same_database_loads(tmp_path, run_recorder):
    run_dir = _record_small_db(tmp_path, run_recorder)
    proc = _load_in_subprocess(run_recorder, tmp_path, run_dir)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout == "loaded 300\n"


def test_newer_format_version_raises_version_error(tmp_path, run_recorder):
    run_dir = _record_small_db(tmp_path, run_recorder, n=3)
    setter = getattr(callmonitor._core, "_set_format_version_for_tests", None)
    if setter is None:
        pytest.fail("callmonitor._core._set_format_version_for_tests(writer_dir, version) "
                    "is missing: the lead promised it for this test")
    setter(str(run_dir / "main"), 9999)
    with pytest.raises(VersionError) as info:
        callmonitor.load(run_dir)
    message = str(info.value)
    assert isinstance(info.value, DatabaseError)
    assert "9999" in message
    assert str(run_dir) in message


def test_older_format_version_raises_version_error_naming_both_versions(tmp_path, run_recorder):
    # GIVEN meta["format"] holding version 0 (below kOldestFormatVersion), WHEN loaded,
    # THEN VersionError naming the stored and the oldest supported version, and the path.
    run_dir = _record_small_db(tmp_path, run_recorder, n=3)
    callmonitor._core._set_format_version_for_tests(str(run_dir / "main"), 0)
    with pytest.raises(VersionError) as info:
        callmonitor.load(run_dir)
    message = str(info.value)
    assert "version 0" in message and f"({callmonitor._core.OLDEST_FORMAT_VERSION})" in message, message
    assert str(run_dir) in message and "record it again" in message, message


def test_legacy_03_database_is_not_mistaken(tmp_path):
    old = tmp_path / "call-monitor"
    (old / "f" / "1").mkdir(parents=True)
    (old / "db.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(DatabaseError):
        callmonitor.load(old)


# -- unwritable output location -----------------------------------------------------------

UNWRITABLE = '''
import sys
import callmonitor
from callmonitor import intercept

@intercept
def f(x):
    return x * 2

total = 0
for i in range(200):
    total += f(i)
print("program output", total, callmonitor.flush(), callmonitor.stats()["dropped_calls"])
sys.exit(3)
'''


def _warnings(stderr):
    return [line for line in stderr.splitlines() if "callmonitor: warning:" in line]


def test_output_beneath_a_regular_file_warns_once_and_program_runs_on(tmp_path, run_recorder):
    blocker = tmp_path / "x" / "file"
    blocker.parent.mkdir()
    blocker.write_text("I am a file")
    code = f'import callmonitor\ncallmonitor.configure(output={str(blocker / "out")!r})\n' + UNWRITABLE
    proc = run_recorder(code, tmp_path)
    assert proc.returncode == 3, describe(proc)
    # Truthful accounting: flush() says nothing was stored; all 200 calls count as dropped.
    assert proc.stdout == "program output 39800 False 200\n", describe(proc)
    assert len(_warnings(proc.stderr)) == 1, describe(proc)
    assert _warnings(proc.stderr)[0].startswith("callmonitor: warning:")
    assert str(blocker / "out") in _warnings(proc.stderr)[0], describe(proc)
    assert "Traceback" not in proc.stderr
    assert blocker.read_text() == "I am a file"


def test_unwritable_callmonitor_dir_env_warns_once(tmp_path, run_recorder):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    proc = run_recorder(UNWRITABLE, tmp_path, env={"CALLMONITOR_DIR": blocker / "sub" / "out"})
    assert proc.returncode == 3, describe(proc)
    assert proc.stdout == "program output 39800 False 200\n", describe(proc)
    assert len(_warnings(proc.stderr)) == 1, describe(proc)
    assert "Traceback" not in proc.stderr


def test_full_location_warns_once_and_keeps_committed_data(tmp_path, run_recorder):
    # GIVEN 10 calls committed, WHEN the disk is "full" (RLIMIT_FSIZE just above the
    # current file size, SIGXFSZ ignored so writes fail with EFBIG) and 1 MiB calls follow,
    # THEN one warning, the program ends with its own exit code, and the 10 calls stay readable.
    proc = run_recorder('''
        import glob, os, resource, signal, sys
        import numpy as np
        import callmonitor
        from callmonitor import intercept

        @intercept
        def f(x):
            return 0

        for i in range(10):
            f(i)
        assert callmonitor.flush()
        data = os.path.join(callmonitor.output_directory(), "main", "data.mdb")
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = os.path.getsize(data) + 65536
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        for i in range(10, 20):
            f(np.full(1 << 17, i, dtype=np.float64))
        callmonitor.flush()
        for i in range(20, 30):
            f(i)
        callmonitor.flush()
        print("program ran on")
        sys.exit(5)
    ''', tmp_path)
    assert proc.returncode == 5, describe(proc)
    assert proc.stdout == "program ran on\n", describe(proc)
    assert len(_warnings(proc.stderr)) == 1, describe(proc)
    assert "Traceback" not in proc.stderr, describe(proc)
    with callmonitor.load(tmp_path / "call-monitor") as db:
        calls = [c.args for c in db.calls("f")]
    assert [a[0] for a in calls[:10]] == list(range(10))
    assert len(calls) == 10         # capture stopped for this writer: nothing later was added


def test_a_writer_that_never_committed_says_so(tmp_path):
    # GIVEN a writer directory whose LMDB environment was created but never committed to
    # (a program killed between opening its writer and its first commit), WHEN it is loaded,
    # THEN a CorruptError says nothing was recorded in it (not "copy it with mdb_copy").
    import ctypes
    lmdb = ctypes.CDLL("liblmdb.so.0")
    writer = tmp_path / "call-monitor" / "main"
    writer.mkdir(parents=True)
    env = ctypes.c_void_p()
    assert lmdb.mdb_env_create(ctypes.byref(env)) == 0
    assert lmdb.mdb_env_open(env, str(writer).encode(), 0, 0o644) == 0
    lmdb.mdb_env_close(env)
    with pytest.raises(CorruptError, match="no committed transaction") as e:
        callmonitor.load(str(writer))
    assert "nothing was recorded" in str(e.value)
