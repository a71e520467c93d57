"""`callmonitor replay` through the real console command, and db.replay()."""
import json
import os
import pty
import subprocess
import sys
import textwrap

import pytest

import callmonitor
from _support import check, describe, run_python, subprocess_env
from replay_scenarios import (MISBEHAVING, change_kernels, cli, record_kernels, record_script)


@pytest.fixture
def kernels_db(tmp_path):
    return record_kernels(tmp_path)


def replay_json(db, *args, cwd, rc=None):
    proc = cli("replay", db, *args, "--json", cwd=cwd)
    if rc is not None:
        assert proc.returncode == rc, describe(proc)
    return json.loads(proc.stdout), proc


def statuses(report):
    return {r["invocation"]: r["status"] for r in report["results"]}


def test_check_passes_on_unchanged_code(kernels_db, tmp_path):
    proc = cli("replay", kernels_db, "kernels.step", "--check", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert "6 passed" in proc.stdout, proc.stdout
    assert "PASS" in proc.stdout and "FAIL" not in proc.stdout
    assert proc.stdout.count("#") == 6, proc.stdout      # one row per call


def test_check_catches_a_changed_function(kernels_db, tmp_path):
    change_kernels(tmp_path, "np.roll(u, 1)", "np.roll(u, 2)")
    proc = cli("replay", kernels_db, "step", "--check", cwd=tmp_path)
    assert proc.returncode == 1, describe(proc)
    assert "FAIL" in proc.stdout and "elements differ" in proc.stdout, proc.stdout
    assert "max abs error" in proc.stdout and "first at [" in proc.stdout
    assert "call #2:\n  result: " in proc.stdout           # the whole difference, below the table
    report, _ = replay_json(kernels_db, "step", "--check", cwd=tmp_path, rc=1)
    got = statuses(report)
    assert got[1] == "passed"           # dt = 0: still the same
    assert got[2] == "failed" and got[6] == "passed"   # the raising call still raises


def test_check_catches_a_changed_exception_message(kernels_db, tmp_path):
    change_kernels(tmp_path, 'f"dt must be >= 0, got {dt}"', 'f"negative dt {dt}"')
    report, _ = replay_json(kernels_db, "step", "6", "--check", cwd=tmp_path, rc=1)
    [r] = report["results"]
    assert r["status"] == "failed" and "expected ValueError: dt must be >= 0" in r["differences"][0]


def test_without_check_runs_and_compares_nothing(kernels_db, tmp_path):
    change_kernels(tmp_path, "np.roll(u, 1)", "np.roll(u, 2)")
    report, _ = replay_json(kernels_db, "step", cwd=tmp_path, rc=0)
    assert set(statuses(report).values()) == {"ran"}
    assert report["check"] is False


def test_tolerances_from_the_command_line(kernels_db, tmp_path):
    change_kernels(tmp_path, "return r\n", "return r * (1 + 1e-6)\n")
    proc = cli("replay", kernels_db, "step", "--calls", "1:4", "--check", cwd=tmp_path)
    assert proc.returncode == 1, describe(proc)          # float64 default rtol 1e-9
    proc = cli("replay", kernels_db, "step", "--calls", "1:4", "--check", "--rtol", "1e-4",
               cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    proc = cli("replay", kernels_db, "step", "--calls", "2:4", "--check", "--rtol", "0",
               "--atol", "1", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)


PORTS = '''
import numpy as np

def good(u, dt, out=None):
    if dt < 0:
        raise ValueError(f"dt must be >= 0, got {dt}")
    r = u + dt * np.concatenate([u[-1:], u[:-1]])
    if out is not None:
        out[:] = r
    return r

def wrong(u, dt, out=None):
    return u + dt * u

def single(u, dt, out=None):
    return good(u, dt, out).astype(np.float32)
'''


def test_func_porting_check_passes_a_right_port_with_times(kernels_db, tmp_path):
    (tmp_path / "ports.py").write_text(PORTS)
    proc = cli("replay", kernels_db, "step", "--func", "ports:good", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    header = proc.stdout.splitlines()[0]
    for column in ("recorded", "replay", "ratio"):
        assert column in header, proc.stdout
    assert "x " in proc.stdout and "6 passed" in proc.stdout   # ratios like 0.93x
    report, _ = replay_json(kernels_db, "step", "--func", "ports:good", cwd=tmp_path, rc=0)
    assert all(r["ratio"] > 0 and r["replay_ns"] > 0 for r in report["results"])


def test_func_porting_check_catches_a_wrong_port(kernels_db, tmp_path):
    (tmp_path / "ports.py").write_text(PORTS)
    report, _ = replay_json(kernels_db, "step", "--func", "ports:wrong", cwd=tmp_path, rc=1)
    got = statuses(report)
    assert got[1] == "passed"                  # dt = 0 hides the bug
    assert got[2] == "failed" and got[6] == "failed"    # and it does not raise


def test_dtype_is_strict_unless_loose_dtype(kernels_db, tmp_path):
    (tmp_path / "ports.py").write_text(PORTS)
    proc = cli("replay", kernels_db, "step", "--calls", "1:4", "--func", "ports:single",
               cwd=tmp_path)
    assert proc.returncode == 1 and "dtype float32 != expected float64" in proc.stdout, describe(proc)
    assert "--loose-dtype" in proc.stdout
    proc = cli("replay", kernels_db, "step", "--calls", "1:4", "--func", "ports:single",
               "--loose-dtype", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)


def test_reports_arguments_changed_in_place_by_name(kernels_db, tmp_path):
    report, proc = replay_json(kernels_db, "scale_in_place", "--check", cwd=tmp_path, rc=0)
    assert report["results"][0]["mutated"] == ["a"]
    report, _ = replay_json(kernels_db, "step", "--check", cwd=tmp_path, rc=0)
    mutated = {r["invocation"]: r["mutated"] for r in report["results"]}
    assert mutated[5] == ["out"] and mutated[1] == []
    proc = cli("replay", kernels_db, "step", "5", "--check", cwd=tmp_path)
    assert "changed in place: out (1 call)" in proc.stdout, proc.stdout


def test_method_replays_with_its_recorded_self(kernels_db, tmp_path):
    report, proc = replay_json(kernels_db, "Counter.bump", "--check", "--allow-pickle",
                               cwd=tmp_path, rc=0)
    [r] = report["results"]
    assert r["status"] == "passed" and r["mutated"] == ["self"], proc.stdout


def test_pickled_inputs_need_allow_pickle(kernels_db, tmp_path):
    proc = cli("replay", kernels_db, "Counter.bump", "--check", cwd=tmp_path)
    assert proc.returncode == 1 and "ERROR" in proc.stdout, describe(proc)
    assert "--allow-pickle" in proc.stdout


def test_locals_function_says_use_func(kernels_db, tmp_path):
    proc = cli("replay", kernels_db, "local", "--check", cwd=tmp_path)
    assert proc.returncode == 2, describe(proc)
    assert "<locals>" in proc.stderr and "--func" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "impl.py").write_text("def local(x):\n    return x + 1\n")
    proc = cli("replay", kernels_db, "local", "--func", "impl:local", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)


def test_script_functions_load_without_running_the_main_block(tmp_path):
    db = record_script(tmp_path)
    proc = cli("replay", db, "twice", "--check", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert "2 passed" in proc.stdout and "MAIN BLOCK RAN" not in proc.stdout + proc.stderr
    proc = cli("replay", db, "norm2", "--check", "--allow-pickle", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)          # a Point of the script, unpickled
    proc = cli("replay", db, "norm2", "--check", "--allow-pickle", "--isolate", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    (tmp_path / "script.py").write_text((tmp_path / "script.py").read_text()
                                        .replace("v * 2", "v * 3"))
    proc = cli("replay", db, "twice", "--check", cwd=tmp_path)
    assert proc.returncode == 1 and "63 != expected 42" in proc.stdout, describe(proc)


@pytest.mark.integration   # a replayed call aborts its process, another hangs until killed
def test_isolate_reports_a_crash_and_a_timeout_and_goes_on(kernels_db, tmp_path):
    change_kernels(tmp_path, "return x  # misbehave here", MISBEHAVING)
    report, proc = replay_json(kernels_db, "crash", "--check", "--isolate", "--timeout", "3",
                               cwd=tmp_path, rc=1)
    got = statuses(report)
    assert got == {1: "passed", 2: "crashed", 3: "timeout", 4: "passed"}, proc.stdout
    errors = {r["invocation"]: r["error"] for r in report["results"]}
    assert "signal 6" in errors[2] and "3 s" in errors[3]
    proc = cli("replay", kernels_db, "crash", "--calls", "2", "--check", "--isolate",
               cwd=tmp_path)
    assert proc.returncode == 1 and "CRASH" in proc.stdout, describe(proc)


def test_call_selection(kernels_db, tmp_path):
    report, _ = replay_json(kernels_db, "add", "1", "3", "-1", "--check", cwd=tmp_path, rc=0)
    assert list(statuses(report)) == [1, 3, 21]
    report, _ = replay_json(kernels_db, "add", "--calls", "2:4,19:", "--check", cwd=tmp_path, rc=0)
    assert list(statuses(report)) == [2, 3, 4, 19, 20, 21]
    report, _ = replay_json(kernels_db, "add", "--all", "--check", cwd=tmp_path, rc=0)
    assert len(report["results"]) == 21 and report["passed"] is True


@pytest.mark.parametrize("args, text", [
    (["1", "--all"], "not several"),
    (["--calls", "x:y"], "--calls wants"),
    (["--calls", "5:2"], "runs backwards"),
    (["--timeout", "2"], "--timeout needs --isolate"),
    (["--func", "nocolon"], "module:function"),
    (["--func", "no_such_module_here:f"], "cannot import"),
])
def test_usage_errors_exit_2(kernels_db, tmp_path, args, text):
    proc = cli("replay", kernels_db, "add", *args, cwd=tmp_path)
    assert proc.returncode == 2, describe(proc)
    assert text in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_unknown_function_and_call_number(kernels_db, tmp_path):
    proc = cli("replay", kernels_db, "nope", cwd=tmp_path)
    assert proc.returncode == 2 and "no function 'nope'" in proc.stderr, describe(proc)
    proc = cli("replay", kernels_db, "add", "99", cwd=tmp_path)
    assert proc.returncode == 2 and "calls 1..21" in proc.stderr, describe(proc)
    proc = cli("replay", kernels_db, "add", "--writer", "rank-0007", cwd=tmp_path)
    assert proc.returncode == 2 and "no writer" in proc.stderr, describe(proc)


def test_path_option_finds_the_module_from_elsewhere(kernels_db, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "kernels.py").rename(elsewhere / "kernels.py")
    proc = cli("replay", kernels_db, "add", "--check", cwd=tmp_path)
    assert proc.returncode == 2 and "--path" in proc.stderr, describe(proc)
    proc = cli("replay", kernels_db, "add", "--check", "--path", elsewhere, cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)


def test_help_lists_the_options():
    proc = cli("replay", "--help", cwd=".")
    assert proc.returncode == 0
    for option in ("--check", "--rtol", "--atol", "--loose-dtype", "--func", "--path",
                   "--allow-pickle", "--isolate", "--timeout", "--json", "--calls", "--all"):
        assert option in proc.stdout, option


def test_db_replay_returns_result_objects(kernels_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    recording_into = callmonitor.output_directory()
    with callmonitor.load(kernels_db) as db:
        r = db.replay("step", 5)
        assert r.passed and r.status == "passed" and r.mutated == ["out"]
        assert r.recorded_ns > 0 and r.replay_ns > 0 and r.error is None
        results = db.replay("add")
        assert len(results) == 21 and all(r.passed for r in results)
        wrong = db.replay("add", [1, 2], func=lambda a, b: a - b)
        assert [r.status for r in wrong] == ["passed", "failed"]   # 0 - 0 == 0 + 0
        assert wrong[1].differences == ["result: 0.5 != expected 1.5 (abs error 1, rel error "
                                        "0.667; rtol 1e-09, atol 1e-12)"]
    assert callmonitor.output_directory() == recording_into   # replaying recorded nothing
    assert sorted(p.name for p in tmp_path.glob("call-monitor*")) == ["call-monitor"]


def _set_first(value):
    def port(xs, *rest, scale=1.0, **kw):
        xs[0] = value
    return port


@pytest.mark.parametrize("port, mutated", [
    (lambda xs, *rest, scale=1.0, **kw: None, []),
    (lambda xs, *rest, scale=1.0, **kw: xs.append(0), ["xs"]),
    (_set_first(True), ["xs"]),           # 1 -> True: equal by ==, another type
    (_set_first(1), []),                  # the same value again is no change
    (_set_first(float("nan")), ["xs"]),
])
def test_in_place_changes_are_exact(kernels_db, port, mutated):
    with callmonitor.load(kernels_db) as db:
        r = db.replay("summarize", 1, func=port)     # returns None: fails; what matters:
    assert r.status == "failed" and list(r.mutated) == mutated


def test_a_call_whose_values_cannot_be_restored_is_reported_and_the_replay_goes_on(tmp_path):
    (tmp_path / "gone.py").write_text("class Gone:\n    pass\n")
    (tmp_path / "takes.py").write_text("from callmonitor import intercept\n\n"
                                       "@intercept\ndef take(x):\n    return 1\n")
    check(run_python("import gone, takes\ntakes.take(1)\ntakes.take(gone.Gone())\ntakes.take(2)\n",
                     tmp_path))
    (tmp_path / "gone.py").unlink()
    db = tmp_path / "call-monitor"
    for extra in ([], ["--isolate"], ["--calls", "1:3"]):
        report, proc = replay_json(db, "take", "--check", "--allow-pickle", *extra,
                                   cwd=tmp_path, rc=1)
        assert statuses(report) == {1: "passed", 2: "error", 3: "passed"}, proc.stdout
        assert "No module named 'gone'" in report["results"][1]["error"]
    proc = cli("export-tests", db, "take", "--allow-pickle", "--to", tmp_path / "test_take.py",
               cwd=tmp_path)
    assert proc.returncode == 0 and "left out call_2" in proc.stdout, describe(proc)


def test_module_form_and_a_terminal_table(kernels_db, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "callmonitor", "replay", str(kernels_db), "add",
                           "--calls", "1:3", "--check"], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "3 passed" in proc.stdout, describe(proc)
    main, child = pty.openpty()     # stdout a terminal: the table is drawn by rich
    env = subprocess_env({"COLUMNS": "160"})
    proc = subprocess.run([sys.executable, "-m", "callmonitor", "replay", str(kernels_db), "add",
                           "--calls", "1:3", "--check"], cwd=tmp_path, env=env, stdout=child,
                          stderr=subprocess.PIPE, timeout=60)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    text = out.decode()
    assert proc.returncode == 0, proc.stderr
    assert "┃" in text or "│" in text, text            # a rich table, not the plain one
    assert "PASS" in text and "3 passed" in text


@pytest.mark.integration  # forks a recording child: real processes (test-sanitized.sh leaves them out)
def test_every_writer_of_a_run_is_replayed_and_one_can_be_chosen(kernels_db, tmp_path):
    # GIVEN a run where a forked child recorded add() too (a writer pid-N of its own)
    check(run_python("""
        import os, kernels
        kernels.add(1, 2)
        pid = os.fork()
        if pid == 0:
            kernels.add(3, 4)
            kernels.add(5, 6)
            os._exit(0)
        os.waitpid(pid, 0)
    """, tmp_path))
    run = tmp_path / "call-monitor-1"
    with callmonitor.load(run) as db:
        writers = db.writers
    assert len(writers) == 2, writers
    report, proc = replay_json(run, "add", "--check", cwd=tmp_path, rc=0)
    assert [(r["writer"], r["invocation"]) for r in report["results"]] == [
        (writers[0], 1), (writers[1], 1), (writers[1], 2)]
    table = cli("replay", run, "add", "--check", cwd=tmp_path).stdout
    assert "writer" in table.splitlines()[0] and writers[1] in table
    report, _ = replay_json(run, "add", "--check", "--writer", writers[1], cwd=tmp_path, rc=0)
    assert [r["invocation"] for r in report["results"]] == [1, 2]
    report, _ = replay_json(run, "add", "2", "--check", "--writer", writers[1], cwd=tmp_path, rc=0)
    assert [(r["writer"], r["invocation"]) for r in report["results"]] == [(writers[1], 2)]


def test_a_module_that_fails_on_import_is_a_clear_error(kernels_db, tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('no GPU here')\n")
    proc = cli("replay", kernels_db, "add", "--func", "broken:add", cwd=tmp_path)
    assert proc.returncode == 2, describe(proc)
    assert "importing broken failed: RuntimeError: no GPU here" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_isolate_keeps_the_usage_errors(kernels_db, tmp_path):
    proc = cli("replay", kernels_db, "local", "--check", "--isolate", cwd=tmp_path)
    assert proc.returncode == 2 and "--func" in proc.stderr, describe(proc)


def test_a_partial_replays_as_its_function_with_the_frozen_arguments(tmp_path):
    (tmp_path / "pm.py").write_text("import functools\nfrom callmonitor import intercept\n\n"
                                    "def power(base, exp):\n    return base ** exp\n\n"
                                    "square = intercept(functools.partial(power, exp=2))\n"
                                    "two_to = intercept(functools.partial(power, 2))\n")
    check(run_python("import pm\npm.square(3)\npm.square(3, exp=3)\npm.two_to(5)\n", tmp_path))
    db = tmp_path / "call-monitor"
    with callmonitor.load(db) as loaded:
        assert [(c.args, c.kwargs, c.result) for c in loaded.calls("power")] == [
            ([3], {"exp": 2}, 9), ([3], {"exp": 3}, 27), ([2, 5], {}, 32)]
    proc = cli("replay", db, "power", "--check", cwd=tmp_path)
    assert proc.returncode == 0 and "3 passed" in proc.stdout, describe(proc)
    proc = cli("export-tests", db, "power", "--to", tmp_path / "test_power.py", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert (tmp_path / "test_power.py").exists()


def test_async_functions_run_and_generators_replay(tmp_path):
    (tmp_path / "am.py").write_text(textwrap.dedent("""
        import asyncio
        from callmonitor import intercept

        @intercept
        async def fetch(x):
            await asyncio.sleep(0)
            return x * 2

        @intercept
        def gen(n):
            yield from range(n)
    """))
    check(run_python("import asyncio, am\nasyncio.run(am.fetch(2))\nlist(am.gen(3))\n", tmp_path))
    db = tmp_path / "call-monitor"
    for fn in ("fetch", "gen"):
        proc = cli("replay", db, fn, "--check", cwd=tmp_path)
        assert proc.returncode == 0 and "1 passed" in proc.stdout, describe(proc)
    (tmp_path / "am.py").write_text((tmp_path / "am.py").read_text()
                                    .replace("return x * 2", "raise KeyError(x)"))
    proc = cli("replay", db, "fetch", "--check", cwd=tmp_path)
    assert proc.returncode == 1 and "raised KeyError: 2" in proc.stdout, describe(proc)


REDEFINED = '''\
from callmonitor import intercept

@intercept
def f(x):
    return x + 1
first = f                       # the old definition stays reachable

@intercept
def f(x):
    return x * 100

@intercept
def g(x):
    return x + 1
g(1)                            # called before it is defined again (a notebook cell re-run)

@intercept
def g(x):
    return x * 100
'''


def test_replay_of_a_redefined_function_runs_the_recorded_definition_or_refuses(tmp_path):
    # GIVEN a module defining f and g twice, calls of both definitions of f and of the
    # first g recorded WHEN each definition is replayed THEN f@3 replays the old f (still
    # reachable), f@8 the new one, and the old g, no longer in the module, is refused with
    # an error naming NAME@FILE:LINE and --func: never the other definition, silently.
    (tmp_path / "redef.py").write_text(REDEFINED)
    check(run_python("import redef\nredef.first(2)\nredef.f(3)\n", tmp_path))
    db = tmp_path / "call-monitor"
    for name in ("f@3", "f@8"):
        report, proc = replay_json(db, name, "--check", cwd=tmp_path, rc=0)
        assert statuses(report) == {1: "passed"}, proc.stdout
    for extra in ([], ["--isolate"]):
        proc = cli("replay", db, "redef.g", "--check", *extra, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, describe(proc)
        error = " ".join(proc.stderr.split())
        assert f"g defined at {tmp_path / 'redef.py'}:12" in error and "--func" in error, error
        assert "no longer in module redef" in error, error
    report, proc = replay_json(db, "redef.g", "--func", "redef:g", cwd=tmp_path, rc=1)
    assert statuses(report) == {1: "failed"}     # asked for: the new g, compared
    with callmonitor.load(db) as loaded:
        old_f = loaded.replay("f@3", 1)
        assert old_f.passed, old_f
    # The tests export-tests writes find the recorded definition too.
    check(cli("export-tests", db, "f@3", "--to", tmp_path / "test_old_f.py", cwd=tmp_path))
    assert "line=3, shadowed=True" in (tmp_path / "test_old_f.py").read_text()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tmp_path / "test_old_f.py")], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, describe(proc)


def test_replay_of_an_edited_function_runs_the_current_code(tmp_path):
    # GIVEN a function recorded, then its source edited so that it moved down WHEN
    # replayed THEN the current definition runs (one definition of the name: an edit).
    (tmp_path / "moved.py").write_text("from callmonitor import intercept\n\n@intercept\n"
                                       "def h(x):\n    return x + 1\n")
    check(run_python("import moved\nmoved.h(1)\n", tmp_path))
    (tmp_path / "moved.py").write_text("from callmonitor import intercept\n\n\n\n@intercept\n"
                                       "def h(x):\n    return x + 2\n")
    report, proc = replay_json(tmp_path / "call-monitor", "h", "--check", cwd=tmp_path, rc=1)
    assert statuses(report) == {1: "failed"} and "3 != expected 2" in proc.stdout, proc.stdout


OBJECTS = '''\
import dataclasses

@dataclasses.dataclass
class Box:
    w: float
    h: float
'''


def test_replay_and_export_rebuild_objects_with_allow_import(tmp_path):
    # GIVEN a call whose argument is a dataclass of the user's module (recorded by state)
    # WHEN replayed THEN without --allow-import it is an error that says to give it, with
    # --allow-import the object is rebuilt and the call passes (here and --isolate).
    (tmp_path / "boxes.py").write_text(OBJECTS)
    (tmp_path / "areas.py").write_text("from callmonitor import intercept\n\n@intercept\n"
                                       "def area(b):\n    return b.w * b.h\n")
    check(run_python("import boxes, areas\nareas.area(boxes.Box(2.0, 3.0))\n", tmp_path))
    db = tmp_path / "call-monitor"
    proc = cli("replay", db, "area", "--check", cwd=tmp_path)
    assert proc.returncode == 1 and "--allow-import MODULE" in proc.stdout, describe(proc)
    for extra in ([], ["--isolate"]):
        report, proc = replay_json(db, "area", "--check", "--allow-import", "boxes", *extra,
                                   cwd=tmp_path, rc=0)
        assert statuses(report) == {1: "passed"}, proc.stdout
    proc = cli("export", db, "area", "1", "--to", tmp_path / "out", "--allow-import", "boxes",
               "--json", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    proc = cli("export-tests", db, "area", "--allow-import", "boxes", "--to",
               tmp_path / "test_area.py", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
