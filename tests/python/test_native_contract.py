"""The dicts the Python side hands the native recorder (capture/session.py's writer
settings, capture/describe.py's function record with its parameters) are read field by
field: a misspelt or mistyped field is an error naming it, never a field silently left at
its default, and the user's program runs on."""
import pytest

import callmonitor
from _support import check, describe, run_python

pytestmark = pytest.mark.integration  # each case is a fresh process: the warning is logged once per process

PROGRAM = '''
import sys
import callmonitor
from callmonitor import _hooks, intercept
from callmonitor.capture import describe, session

real_describe, real_open = describe.describe, session.open_session
case = sys.argv[1]
if case == "function-misspelt":
    describe.describe = lambda f: {**real_describe(f), "qualnme": "typo"}
elif case == "function-mistyped":
    describe.describe = lambda f: {**real_describe(f), "line": "12"}
elif case == "parameter-misspelt":
    def misspelt(f):
        d = real_describe(f)
        d["parameters"][0]["kynd"] = d["parameters"][0].pop("kind")
        return d
    describe.describe = misspelt
elif case == "settings-misspelt":
    session.open_session = lambda *a: {**real_open(*a), "buffer_byte": 1 << 20}
elif case == "settings-mistyped":
    session.open_session = lambda *a: {**real_open(*a), "durability": 1}
_hooks.install()

@intercept
def f(a):
    return a + 1

print("result", f(1), f(2), flush=True)
print("flushed", callmonitor.flush(), callmonitor.stats()["capture_errors"], flush=True)
'''


@pytest.mark.parametrize("case,message", [
    ("function-misspelt", "the function record of capture/describe.py has an unknown field 'qualnme'"),
    ("function-mistyped", "the function record of capture/describe.py field 'line' is not an int"),
    ("parameter-misspelt", "a parameter of capture/describe.py has an unknown field 'kynd'"),
    ("settings-misspelt", "the writer settings of capture/session.py has an unknown field 'buffer_byte'"),
    ("settings-mistyped", "the writer settings of capture/session.py field 'durability' is not a str"),
])
def test_a_misspelt_or_mistyped_field_is_an_error_naming_it_and_the_program_runs_on(tmp_path, case, message):
    proc = check(run_python(PROGRAM, tmp_path, args=(case,)))
    assert "result 2 3" in proc.stdout, describe(proc)
    assert message in proc.stderr, describe(proc)
    assert proc.stderr.count("callmonitor: warning:") == 1 and "Traceback" not in proc.stderr, describe(proc)
    if not case.startswith("settings"):  # the writer is fine: the calls are counted as capture errors
        assert "flushed True 2" in proc.stdout, describe(proc)
        assert callmonitor.load(tmp_path / "call-monitor").functions == []
    else:  # no writer: nothing claimed is left behind
        assert "flushed False" in proc.stdout, describe(proc)
        assert not (tmp_path / "call-monitor").exists() or not any((tmp_path / "call-monitor").iterdir())


def test_the_fields_callmonitor_itself_sends_are_all_known(tmp_path):
    proc = check(run_python(PROGRAM, tmp_path, args=("none",)))
    assert proc.stderr == "" and "flushed True 0" in proc.stdout, describe(proc)
    db = callmonitor.load(tmp_path / "call-monitor")
    assert [list(c.args) for c in db.calls("f")] == [[1], [2]]
    (f,) = db.functions
    assert str(f.signature) == "(a)" and f.line == PROGRAM.splitlines().index("@intercept") + 1
