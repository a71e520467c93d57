"""Helpers shared by the test modules: strict value comparison and running
Python code in a fresh process."""
import math
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


# The variables a recording process passes to the processes it starts.
_RUN_VARS = ("CALLMONITOR_PARENT_RUN_ID", "CALLMONITOR_PARENT_BASE", "CALLMONITOR_PARENT_PID",
             "CALLMONITOR_PARENT_RANK", "CALLMONITOR_PARENT_OUTPUT", "CALLMONITOR_PARENT_DIR_SEEN",
             "CALLMONITOR_RUN_ID")


def subprocess_env(extra=None, drop=("CALLMONITOR_DIR",) + _RUN_VARS):
    """os.environ with the tests folder appended to PYTHONPATH (so recorder
    scripts can `import sample_functions`); existing PYTHONPATH entries kept first."""
    env = dict(os.environ)
    for key in drop:
        env.pop(key, None)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if TESTS_DIR not in parts:
        parts.append(TESTS_DIR)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env["PYTHONFAULTHANDLER"] = "1"   # a crash prints a native traceback
    env.pop("PYTHONWARNINGS", None)
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def run_python(code, cwd, *, env=None, input=None, timeout=60, args=()):
    """Runs `code` (dedented) as a script file with sys.executable in `cwd`."""
    cwd = os.fspath(cwd)
    code = textwrap.dedent(code)
    script = os.path.join(cwd, f"_script_{abs(hash(code)) % 10**10}_{os.getpid()}.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(code)
    try:
        return subprocess.run([sys.executable, script, *args], cwd=cwd, env=subprocess_env(env),
                              input=input, capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(script)


def describe(proc):
    return (f"exit code {proc.returncode}\n--- stdout ---\n{proc.stdout}\n"
            f"--- stderr ---\n{proc.stderr}")


def check(proc, rc=0):
    assert proc.returncode == rc, describe(proc)
    return proc


def callmonitor_cli(*args, cwd=None, env=None, timeout=60):
    """Runs the real ``callmonitor`` console command (``python -m callmonitor``
    when it is not installed beside sys.executable) in a subprocess."""
    exe = os.path.join(os.path.dirname(sys.executable), "callmonitor")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "callmonitor"]
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=subprocess_env(env),
                          capture_output=True, text=True, timeout=timeout)


# -- strict comparison ---------------------------------------------------------------

def _float_bits(x):
    return struct.pack("<d", x)


def _has_padding(dtype):
    """long double (x87: 80 bits in 16 bytes): its padding bytes are undefined."""
    return (dtype.kind == "f" and dtype.itemsize > 8) or (dtype.kind == "c" and dtype.itemsize > 16)


def _assert_extended_equal(expected, actual, path):
    parts = (lambda a: (a.real, a.imag)) if expected.dtype.kind == "c" else (lambda a: (a,))
    for e, a in zip(parts(expected), parts(actual)):
        assert np.array_equal(e, a, equal_nan=True), f"{path}: {a!r} != {e!r}"
        assert (np.signbit(e) == np.signbit(a)).all(), f"{path}: sign of zero differs"


def assert_same(expected, actual, path="value"):
    """Type and value equal, recursively: floats bit for bit (nan == nan, -0.0 != 0.0),
    list != tuple, int != bool != float, dict key order, arrays by dtype.str, shape
    and bytes. Shared references and cycles are not handled here (test them apart)."""
    te, ta = type(expected), type(actual)
    assert ta is te, f"{path}: type {ta.__module__}.{ta.__qualname__} != expected {te.__qualname__}"
    if isinstance(expected, np.ndarray):
        assert actual.dtype.str == expected.dtype.str, f"{path}: dtype {actual.dtype.str} != {expected.dtype.str}"
        assert actual.dtype == expected.dtype, f"{path}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, f"{path}: shape {actual.shape} != {expected.shape}"
        if _has_padding(expected.dtype):
            _assert_extended_equal(expected, actual, path)
        else:
            assert actual.tobytes(order="C") == expected.tobytes(order="C"), f"{path}: array bytes differ"
    elif isinstance(expected, np.generic):
        assert actual.dtype.str == expected.dtype.str, f"{path}: dtype {actual.dtype.str} != {expected.dtype.str}"
        if _has_padding(expected.dtype):
            _assert_extended_equal(np.asarray(expected), np.asarray(actual), path)
        else:
            assert actual.tobytes() == expected.tobytes(), f"{path}: {actual!r} != {expected!r}"
    elif te is float:
        assert _float_bits(actual) == _float_bits(expected), f"{path}: {actual!r} != {expected!r}"
    elif te is complex:
        assert (_float_bits(actual.real), _float_bits(actual.imag)) == \
            (_float_bits(expected.real), _float_bits(expected.imag)), f"{path}: {actual!r} != {expected!r}"
    elif te in (list, tuple):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same(e, a, f"{path}[{i}]")
    elif te is dict:
        assert list(actual.keys()) == list(expected.keys()), \
            f"{path}: keys {list(actual.keys())!r} != {list(expected.keys())!r} (order matters)"
        for (ke, ve), (ka, va) in zip(expected.items(), actual.items()):
            assert_same(ke, ka, f"{path} key {ke!r}")
            assert_same(ve, va, f"{path}[{ke!r}]")
    elif te in (set, frozenset):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
        for e in expected:   # element types too (1 == 1.0 == True in a set)
            match = [a for a in actual if a == e]
            assert len(match) == 1 and type(match[0]) is type(e), f"{path}: element {e!r}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def is_nan_float(x):
    return type(x) is float and math.isnan(x)


def assert_fields(expected, actual, path):
    """Every field of `expected` equals the one in `actual` (extra fields in `actual` are
    allowed); lists of dicts element by element; {name: count} maps and empty dicts whole."""
    if isinstance(expected, dict) and isinstance(actual, dict) and not is_count_map(expected):
        for key, want in expected.items():
            assert key in actual, f"{path}: no field {key!r} (has {sorted(actual)})"
            assert_fields(want, actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict):
        assert len(actual) == len(expected), f"{path}: {len(actual)} entries, expected {len(expected)}: {actual}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_fields(e, a, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def is_count_map(d):
    """A {name: count} map (compared whole), not a record of fields; so is an empty dict."""
    return all(isinstance(v, int) and not isinstance(v, bool) for v in d.values())
