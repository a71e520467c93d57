"""Types for users: Debian's mypy passes on the package (with the compiled
module's _core.pyi) and on a typed script using the public API, catches a
wrong call, and the wheel ships py.typed and _core.pyi."""
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MYPY = ["/usr/bin/python3", "-m", "mypy"]   # Debian's python3-mypy, never a pip one

USER_SCRIPT = """
    import inspect
    from typing import Any, Optional

    import numpy as np
    import numpy.typing as npt

    import callmonitor
    from callmonitor import Call, Database, intercept, load


    @intercept
    def step(u: npt.NDArray[np.float64], alpha: float, *,
             boundary: float = 0.0) -> npt.NDArray[np.float64]:
        return u * alpha


    @intercept(result=False)
    def log(message: str) -> None:
        pass


    new: npt.NDArray[np.float64] = step(np.ones(3), 0.5)       # the decorated function keeps its type
    log("x")
    callmonitor.configure(output="call-monitor", durability="sync")
    ok: bool = callmonitor.flush()
    where: Optional[str] = callmonitor.output_directory()

    db: Database = load("call-monitor")
    args, kwargs = db.get("step", 1, rank=0)
    first: Any = args[0]
    call: Call = db.call(step, -1)
    seconds: Optional[float] = call.duration
    sig: Optional[inspect.Signature] = call.function.signature
    names: list[str] = db.writers
    for c in db.calls("step", writer="main"):
        print(c.invocation, c.started.isoformat())
    with load("call-monitor") as same:
        print(len(same))
"""


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mypy-cache"))


def _mypy(*args, cwd, cache):
    env = dict(os.environ, MYPYPATH=os.path.join(REPO, "python"))
    return subprocess.run(MYPY + ["--cache-dir", cache, "--no-error-summary", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_mypy_passes_on_the_package(tmp_path, mypy_cache):
    proc = _mypy("-p", "callmonitor", cwd=tmp_path, cache=mypy_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_passes_on_a_typed_user_script_and_catches_a_wrong_call(tmp_path, mypy_cache):
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent(USER_SCRIPT))
    proc = _mypy("--strict", "--follow-imports=silent", str(script), cwd=tmp_path, cache=mypy_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wrong = tmp_path / "wrong.py"
    wrong.write_text(textwrap.dedent("""
        import callmonitor
        db = callmonitor.load("call-monitor")
        db.get("step", "1")                 # n is an int
        callmonitor.configure(durability=1)  # durability is a str
        x: int = callmonitor.flush()         # fine: bool is an int
        y: str = callmonitor.output_directory()
    """))
    proc = _mypy("--follow-imports=silent", str(wrong), cwd=tmp_path, cache=mypy_cache)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["4", "5", "7"], proc.stdout


@pytest.mark.integration   # builds a wheel (CMake)
def test_the_wheel_ships_py_typed_and_the_core_stub(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                           "-q", "-w", str(tmp_path), REPO], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = [p for p in os.listdir(tmp_path) if p.endswith(".whl")]
    names = set(zipfile.ZipFile(tmp_path / wheel).namelist())
    for needed in ("callmonitor/py.typed", "callmonitor/_core.pyi"):
        assert needed in names, sorted(names)
    assert any(n.startswith("callmonitor/_core") and n.endswith(".so") for n in names)


@pytest.mark.parametrize("name", ["load", "configure", "flush", "close", "output_directory"])
def test_public_functions_are_annotated(name):
    import callmonitor
    import inspect
    fn = getattr(callmonitor, name)
    target = inspect.unwrap(fn)
    sig = inspect.signature(target)
    assert sig.return_annotation is not inspect.Signature.empty, name
    assert all(p.annotation is not p.empty for p in sig.parameters.values()), sig
