"""`callmonitor export` and `callmonitor export-tests` through the real console
command; the generated test files run under pytest in a fresh process."""
import json
import subprocess
import sys

import numpy as np
import pytest

import callmonitor
from _support import describe, subprocess_env
from replay_scenarios import change_kernels, cli, record_kernels, record_script


@pytest.fixture
def kernels_db(tmp_path):
    return record_kernels(tmp_path)


def numpy_only(code, cwd):
    """Runs `code` in a fresh interpreter that may import numpy but not callmonitor."""
    guard = ("import sys\nsys.modules['callmonitor'] = None  # importing it would fail\n")
    proc = subprocess.run([sys.executable, "-c", guard + code], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, describe(proc)
    return proc.stdout


def unused_imports(source):
    """Names a module imports but never uses (a generated file must lint clean)."""
    import ast
    tree = ast.parse(source)
    imported = {(a.asname or a.name).split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return imported - used


def run_pytest(test_file, cwd):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", str(test_file)], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)


# -- export -----------------------------------------------------------------------------

def test_export_writes_npy_json_pickle_and_a_manifest(kernels_db, tmp_path):
    out = tmp_path / "call5"
    proc = cli("export", kernels_db, "step", 5, "--to", out, cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert sorted(p.name for p in out.iterdir()) == [
        "arg_dt.json", "arg_out.npy", "arg_u.npy", "manifest.json", "result.npy"]
    printed = numpy_only(textwrap_code('''
        import json, numpy as np
        m = json.load(open("call5/manifest.json"))
        values = {}
        for e in m["parameters"] + [m["result"]]:
            path = "call5/" + e["file"]
            values[e["name"]] = (np.load(path, allow_pickle=False) if e["encoding"] == "npy"
                                 else json.load(open(path)))
        print(m["function"], m["invocation"], m["signature"])
        print(values["u"].dtype, values["u"].tolist(), values["dt"], values["result"].tolist())
        print([(e["name"], e["type"], e.get("dtype"), e.get("shape")) for e in m["parameters"]])
    '''), tmp_path)
    lines = printed.splitlines()
    assert lines[0] == "kernels.step 5 step(u, dt, out=None)"
    assert lines[1] == "float32 [0.0, 1.0, 2.0, 3.0] 0.5 [1.5, 1.0, 2.5, 4.0]"
    assert lines[2] == ("[('u', 'numpy.ndarray', '<f4', [4]), ('dt', 'float', None, None), "
                        "('out', 'numpy.ndarray', '<f4', [4])]")


def textwrap_code(code):
    import textwrap
    return textwrap.dedent(code)


def test_export_of_varargs_and_pickled_values(kernels_db, tmp_path):
    proc = cli("export", kernels_db, "summarize", 1, "--to", tmp_path / "s", "--json",
               cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    manifest = json.loads(proc.stdout)
    by_name = {e["name"]: e for e in manifest["parameters"]}
    assert by_name["xs"]["encoding"] == "json" and by_name["xs"]["type"] == "list"
    assert by_name["rest"]["kind"] == "var_positional"
    assert by_name["rest"]["encoding"] == "pickle"      # holds a numpy.float32
    assert by_name["kw"]["encoding"] == "json" and by_name["kw"]["kind"] == "var_keyword"
    printed = numpy_only(textwrap_code('''
        import pickle
        print(repr(pickle.load(open("s/arg_rest.pkl", "rb"))))
    '''), tmp_path)
    assert printed.strip() == "('a', 2.5)"


def test_export_npz_is_one_file_numpy_reads_without_pickle(kernels_db, tmp_path):
    proc = cli("export", kernels_db, "step", 5, "--to", tmp_path / "z", "--npz", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert sorted(p.name for p in (tmp_path / "z").iterdir()) == ["call.npz", "manifest.json"]
    printed = numpy_only(textwrap_code('''
        import json, numpy as np
        z = np.load("z/call.npz", allow_pickle=False)
        print(sorted(z.files), z["arg_u"].dtype, json.loads(str(z["arg_dt"])))
    '''), tmp_path)
    assert printed.strip() == "['arg_dt', 'arg_out', 'arg_u', 'result'] float32 0.5"


def test_export_of_a_raising_call_names_the_exception(kernels_db, tmp_path):
    proc = cli("export", kernels_db, "step", 6, "--to", tmp_path / "r", cwd=tmp_path)
    assert proc.returncode == 0 and "raised ValueError: dt must be >= 0" in proc.stdout
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["outcome"] == "raised" and manifest["result"] is None
    assert manifest["exception"] == {"type": "ValueError", "message": "dt must be >= 0, got -1.0"}


def test_export_never_overwrites_without_force(kernels_db, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    proc = cli("export", kernels_db, "step", 1, "--to", out, cwd=tmp_path)
    assert proc.returncode == 1 and "--force" in proc.stderr, describe(proc)
    assert (out / "mine.txt").read_text() == "keep"
    proc = cli("export", kernels_db, "step", 1, "--to", out, "--force", cwd=tmp_path)
    assert proc.returncode == 0 and (out / "manifest.json").exists(), describe(proc)


def test_db_export(kernels_db, tmp_path):
    with callmonitor.load(kernels_db) as db:
        manifest = db.export("add", -1, tmp_path / "last")
    assert manifest["invocation"] == 21
    a = np.load(tmp_path / "last" / "arg_a.npy")
    assert a.shape == (2, 3) and a.dtype == np.float64


# -- export-tests -----------------------------------------------------------------------

def test_generated_tests_pass_then_fail_after_a_change(kernels_db, tmp_path):
    test_file = tmp_path / "test_step_regression.py"
    proc = cli("export-tests", kernels_db, "step", "--to", test_file, cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert "6 cases (5 returning, 1 raising)" in proc.stdout, proc.stdout
    source = test_file.read_text()
    assert "@pytest.mark.parametrize" in source and "id='call_5'" in source
    assert "pytest.raises(exception" in source and "ValueError, 'dt must be >= 0, got -1.0'" in source
    assert str(kernels_db) not in source and "call-monitor" not in source
    assert (tmp_path / "test_step_regression_data").is_dir()      # the 50-element arrays
    assert "np.array([0.0, 1.0, 2.0, 3.0], dtype=\"<f4\")" in source   # small ones literal
    assert unused_imports(source) == set()
    green = run_pytest(test_file, tmp_path)
    assert green.returncode == 0 and "6 passed" in green.stdout, describe(green)
    assert sorted(p.name for p in tmp_path.glob("call-monitor*")) == ["call-monitor"]   # no new run
    change_kernels(tmp_path, "np.roll(u, 1)", "np.roll(u, 2)")
    red = run_pytest(test_file, tmp_path)
    assert red.returncode == 1, describe(red)
    assert "4 failed, 2 passed" in red.stdout and "elements differ" in red.stdout, red.stdout


def test_generated_tests_fail_when_the_exception_changes(kernels_db, tmp_path):
    test_file = tmp_path / "test_step_raise.py"
    assert cli("export-tests", kernels_db, "step", "6", "--to", test_file,
               cwd=tmp_path).returncode == 0
    assert run_pytest(test_file, tmp_path).returncode == 0
    change_kernels(tmp_path, 'raise ValueError(f"dt', 'raise TypeError(f"dt')
    red = run_pytest(test_file, tmp_path)
    assert red.returncode == 1 and "1 failed" in red.stdout, describe(red)


def test_generated_tests_compare_dtypes_strictly(kernels_db, tmp_path):
    test_file = tmp_path / "test_add.py"
    assert cli("export-tests", kernels_db, "add", "--to", test_file, cwd=tmp_path).returncode == 0
    assert run_pytest(test_file, tmp_path).returncode == 0
    change_kernels(tmp_path, "return a + b", "return a + b + 0.0")   # int + float: float anyway
    assert run_pytest(test_file, tmp_path).returncode == 0
    change_kernels(tmp_path, "return a + b + 0.0", "return np.float32(a + b)")
    red = run_pytest(test_file, tmp_path)
    assert red.returncode == 1 and "21 failed" in red.stdout, describe(red)
    assert "type numpy.float32 != expected float" in red.stdout


def test_generated_file_is_deterministic(kernels_db, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        proc = cli("export-tests", kernels_db, "step", "--to", tmp_path / name / "test_s.py",
                   cwd=tmp_path)
        assert proc.returncode == 0, describe(proc)
    a, b = tmp_path / "a", tmp_path / "b"
    assert (a / "test_s.py").read_bytes() == (b / "test_s.py").read_bytes()
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def test_distinct_and_max_and_calls(kernels_db, tmp_path):
    proc = cli("export-tests", kernels_db, "add", "--distinct", "--to", tmp_path / "test_d.py",
               cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    source = (tmp_path / "test_d.py").read_text()
    assert source.count("pytest.param(") == 2       # (int, float) and the two arrays
    assert "import re" not in source and "import pickle" not in source   # nothing raises, no data
    assert unused_imports(source) == set()
    assert "id='call_1'" in source and "id='call_21'" in source
    proc = cli("export-tests", kernels_db, "add", "--max", "3", "--to", tmp_path / "test_m.py",
               cwd=tmp_path)
    assert "3 cases" in proc.stdout, describe(proc)
    proc = cli("export-tests", kernels_db, "add", "--calls", "5:7", "--to",
               tmp_path / "test_c.py", cwd=tmp_path)
    source = (tmp_path / "test_c.py").read_text()
    assert [f"id='call_{n}'" in source for n in (4, 5, 6, 7, 8)] == [False, True, True, True, False]
    assert run_pytest(tmp_path / "test_c.py", tmp_path).returncode == 0


def test_export_tests_refuses_to_overwrite(kernels_db, tmp_path):
    target = tmp_path / "test_x.py"
    target.write_text("# mine\n")
    proc = cli("export-tests", kernels_db, "add", "--to", target, cwd=tmp_path)
    assert proc.returncode == 1 and "--force" in proc.stderr, describe(proc)
    assert target.read_text() == "# mine\n"
    proc = cli("export-tests", kernels_db, "add", "--to", tmp_path / "notpython.txt", cwd=tmp_path)
    assert proc.returncode == 2, describe(proc)


def test_generated_tests_of_script_functions_and_methods(kernels_db, tmp_path):
    test_file = tmp_path / "test_bump.py"
    proc = cli("export-tests", kernels_db, "Counter.bump", "--allow-pickle", "--to", test_file,
               cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert (tmp_path / "test_bump_data" / "call_1" / "arg0.pkl").is_file()   # self
    assert run_pytest(test_file, tmp_path).returncode == 0
    script_dir = tmp_path / "script"
    script_dir.mkdir()
    db = record_script(script_dir)
    proc = cli("export-tests", db, "twice", "--to", script_dir / "test_twice.py", cwd=script_dir)
    assert proc.returncode == 0, describe(proc)
    assert "'script.py'" in (script_dir / "test_twice.py").read_text()   # relative path
    green = run_pytest(script_dir / "test_twice.py", script_dir)
    assert green.returncode == 0 and "2 passed" in green.stdout, describe(green)
    assert "MAIN BLOCK RAN" not in green.stdout


def test_export_help_lists_the_options():
    for command, options in (("export", ("--to", "--npz", "--force")),
                             ("export-tests", ("--to", "--calls", "--all", "--distinct", "--max",
                                               "--rtol", "--loose-dtype"))):
        proc = cli(command, "--help", cwd=".")
        assert proc.returncode == 0
        assert all(o in proc.stdout for o in options), proc.stdout


@pytest.mark.parametrize("value", [
    None, True, -7, 10**40, 0.1, -0.0, float("nan"), float("-inf"), complex(1.5, -2), "é\n'\"",
    b"\x00\xff", [1, [2.5, (3,)]], (), (1,), {"a": {1: None}}, set(), {1, 2}, frozenset({"x"}),
    np.float32(0.1), np.float16(3.3), np.int8(-3), np.uint64(2**64 - 1), np.bool_(True),
    np.complex64(1 + 2j), np.arange(6, dtype=np.int16).reshape(2, 3), np.array([np.nan, 1e-300]),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.zeros((0, 2), np.float32),
    np.array(3.5), np.array([True, False]),
])
def test_literals_rebuild_the_value_exactly(value):
    from callmonitor.analyse.compare import EXACT, differences
    from callmonitor.analyse.export import literal
    text = literal(value)
    assert text is not None
    back = eval(text, {"np": np})
    assert type(back) is type(value) and differences(value, back, EXACT) == [], text
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.flags.f_contiguous == value.flags.f_contiguous


@pytest.mark.parametrize("value", [object(), np.arange(100.0), np.array(["a"]), np.longdouble(1)])
def test_no_literal_for_objects_and_large_or_unusual_arrays(value):
    from callmonitor.analyse.export import literal
    assert literal(value) is None


def test_export_names_a_value_it_could_not_restore(kernels_db, tmp_path):
    proc = cli("export", kernels_db, "Counter.bump", 1, "--to", tmp_path / "b", cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    self_entry = manifest["parameters"][0]
    assert self_entry["name"] == "self" and "file" not in self_entry
    assert "allow_pickle" in self_entry["unavailable"]
    assert self_entry["type"] == "kernels.Counter"
    assert "not exported" in proc.stdout
