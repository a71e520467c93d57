"""Safe loading by default: nothing in a database names code that the loader imports or
calls without the user's say-so. Pickles come back as Unrestorable unless allow_pickle=True
(--allow-pickle on the CLI); handler payloads are decoded only by a handler registered in
the reading process; native values always decode."""
import subprocess
import sys

import numpy as np

from _support import check, describe, subprocess_env

# A module whose import leaves a marker: the database names its handler classes.
EVIL_MODULE = '''
import os
open(os.environ["MARKER"] + ".imported", "w").close()

class CodecHandler:
    def encode(self, obj):
        return b"touch " + os.environ["MARKER"].encode() + b".decoded"
    def decode(self, data):
        open(os.environ["MARKER"] + ".decoded", "w").close()

class Thing:
    pass
'''

# Records: native values, a value handled by evil_mod.CodecHandler, one by a handler
# class that claims to be os.system, and a pickle whose unpickling would run a command.
RECORD = '''
import os
import numpy as np
from callmonitor import REGISTRY, intercept
import evil_mod

class Named:
    pass

class PosingAsOsSystem:
    def encode(self, obj):
        return b"touch " + os.environ["MARKER"].encode() + b".os-system"
    def decode(self, data):
        raise AssertionError("never called")
PosingAsOsSystem.__module__, PosingAsOsSystem.__qualname__ = "os", "system"

class RunsACommand:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ["MARKER"] + ".unpickled",))

REGISTRY.add(evil_mod.Thing, evil_mod.CodecHandler)
REGISTRY.add(Named, PosingAsOsSystem)

@intercept
def native(a, b, c, d):
    return None

@intercept
def handled(x):
    return None

@intercept
def posing(x):
    return None

@intercept
def pickled(x):
    return None

native(1, "two", [3.0, (4, {5: b"six"})], np.arange(6, dtype=np.int16))
handled(evil_mod.Thing())
posing(Named())
pickled(RunsACommand())
'''

# Reads every call with the default load(); prints what came back. Runs where evil_mod is
# importable (PYTHONPATH), so an import by the loader would leave its marker.
READ = '''
import sys
import callmonitor
db = callmonitor.load("call-monitor")
args, _ = db.get("native", 1)
print("native", args[:3], args[3].dtype.str, args[3].tolist())
for fn in ("handled", "posing"):
    (value,), _ = db.get(fn, 1)
    print(fn, type(value).__name__, getattr(value, "reason", ""))
(x,), _ = db.get("pickled", 1)
print("pickled", type(x).__name__, x.type_name, "allow_pickle=True" in x.reason)
print("modules", "evil_mod" in sys.modules)
'''


def _markers(tmp_path):
    return sorted(p.name.split(".", 1)[1] for p in tmp_path.glob("marker.*"))


def _record(tmp_path):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "evil_mod.py").write_text(EVIL_MODULE)
    env = {"MARKER": tmp_path / "marker", "PYTHONPATH": tmp_path / "mods"}
    script = tmp_path / "record.py"
    script.write_text(RECORD)
    check(subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=subprocess_env(env),
                         capture_output=True, text=True, timeout=60))
    (tmp_path / "marker.imported").unlink()      # recording imported it; reading must not
    assert _markers(tmp_path) == []
    return env


def test_loading_a_database_naming_handlers_and_pickles_runs_none_of_their_code(tmp_path, run_recorder):
    # GIVEN a database naming handler classes of an importable module with an import side
    # effect and of "os.system", and a pickle that runs a command, WHEN read with the
    # default load(), THEN native values decode, handler values are Unrestorable
    # placeholders naming the class to register, the pickle is an Unrestorable saying how
    # to allow it, and no module is imported, no handler or command runs.
    env = _record(tmp_path)
    proc = check(run_recorder(READ, tmp_path, env=env))
    lines = proc.stdout.splitlines()
    assert lines[0] == "native [1, 'two', [3.0, (4, {5: b'six'})]] <i2 [0, 1, 2, 3, 4, 5]", describe(proc)
    assert lines[1].startswith("handled Unrestorable") and "evil_mod.CodecHandler" in lines[1]
    assert lines[2].startswith("posing Unrestorable") and "os.system" in lines[2]
    assert lines[3] == "pickled Unrestorable __main__.RunsACommand True", describe(proc)
    assert lines[4] == "modules False", describe(proc)
    assert _markers(tmp_path) == []


def test_cli_show_unpickles_only_with_allow_pickle(tmp_path):
    # GIVEN the same database, WHEN `callmonitor show` prints the pickled call, THEN
    # without --allow-pickle nothing runs and the output says how to allow it; with
    # --allow-pickle (the user's say-so) the pickle is restored, and runs its command.
    env = _record(tmp_path)
    show = [sys.executable, "-m", "callmonitor", "show", "call-monitor", "pickled", "1"]
    safe = check(subprocess.run(show, cwd=tmp_path, env=subprocess_env(env), capture_output=True,
                                text=True, timeout=60))
    assert "x = <Unrestorable __main__.RunsACommand" in safe.stdout, describe(safe)
    assert "callmonitor show --allow-pickle" in safe.stdout, describe(safe)
    assert _markers(tmp_path) == []
    native = check(subprocess.run([*show[:5], "native", "1"], cwd=tmp_path, env=subprocess_env(env),
                                  capture_output=True, text=True, timeout=60))
    assert "ndarray <i2 shape=(6,)" in native.stdout, describe(native)
    assert _markers(tmp_path) == []
    allowed = check(subprocess.run([*show, "--allow-pickle"], cwd=tmp_path, env=subprocess_env(env),
                                   capture_output=True, text=True, timeout=60))
    assert _markers(tmp_path) == ["unpickled"], describe(allowed)
    assert "imported" not in _markers(tmp_path)


def test_native_values_decode_identically_with_and_without_allow_pickle(tmp_path):
    # GIVEN native values only, WHEN loaded with and without allow_pickle, THEN both give
    # the same values (the switch only concerns pickles).
    import callmonitor
    env = _record(tmp_path)
    with callmonitor.load(tmp_path / "call-monitor") as a, \
            callmonitor.load(tmp_path / "call-monitor", allow_pickle=True) as b:
        (x1, _), (x2, _) = a.get("native", 1), b.get("native", 1)
    assert x1[:3] == x2[:3] == [1, "two", [3.0, (4, {5: b"six"})]]
    assert np.array_equal(x1[3], x2[3]) and x1[3].dtype == np.int16
    assert env and _markers(tmp_path) == []
