"""Function identity: two functions of one name (a function redefined by re-running a
notebook cell, two lambdas of a module, two defs of one name) are two functions, told
apart by their definition site; a bare name matching several raises and spells each
(``mod.f@30``, ``mod.f@FILE:LINE``); the function object finds its own calls."""
import json
import sys
import textwrap

import pytest

import callmonitor
from _support import callmonitor_cli, check

# Two lambdas of one module, at lines 2 and 5.
SHAPES = '''\
import callmonitor
square = callmonitor.intercept(lambda x: x * x)


cube = callmonitor.intercept(lambda x: x ** 3)
'''

# A notebook cell, as IPython compiles it: one file name per execution.
CELL = '''\
import callmonitor
@callmonitor.intercept
def step(x):
    return x + {k}
'''


def _module(tmp_path, name, source, monkeypatch):
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return __import__(name)


def _cell(source, filename, module="notebook"):
    namespace = {"__name__": module}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


@pytest.fixture
def shapes(recorder, tmp_path, monkeypatch):
    m = _module(tmp_path, "shapes_identity", SHAPES, monkeypatch)
    m.square(2)
    m.square(3)
    m.cube(2)
    return m


def test_two_lambdas_of_a_module_are_two_functions_found_by_their_objects(shapes, recorder):
    # GIVEN two intercepted lambdas of one module, WHEN each is called, THEN the database
    # holds two functions named by their line, and each object finds its own calls.
    db = recorder.load()
    assert sorted(f.unique_name for f in db.functions) == [
        "shapes_identity.<lambda>@2", "shapes_identity.<lambda>@5"]
    assert {(f.line, f.calls) for f in db.functions} == {(2, 2), (5, 1)}
    assert db.get(shapes.square, 2) == ([3], {})
    assert db.get(shapes.cube, 1) == ([2], {})
    assert [c.args for c in db.calls(shapes.square)] == [[2], [3]]


def test_a_bare_name_matching_two_definitions_raises_and_spells_each(shapes, recorder):
    db = recorder.load()
    with pytest.raises(callmonitor.AmbiguousFunctionError) as info:
        db.get("<lambda>", 1)
    assert isinstance(info.value, callmonitor.UnknownFunctionError)
    assert isinstance(info.value, LookupError)
    msg = str(info.value)
    assert "'shapes_identity.<lambda>@2'" in msg and "'shapes_identity.<lambda>@5'" in msg, msg
    assert "shapes_identity.py:5" in msg, msg
    with pytest.raises(callmonitor.AmbiguousFunctionError):
        list(db.calls("shapes_identity.<lambda>"))


@pytest.mark.parametrize("name,n,expected", [
    ("shapes_identity.<lambda>@5", 1, [2]),      # full name @ line
    ("<lambda>@2", 2, [3]),                      # bare name @ line
    ("<lambda>@shapes_identity.py:5", 1, [2]),   # @ file (a trailing part of it) : line
])
def test_a_name_with_its_site_chooses_one_definition(shapes, recorder, name, n, expected):
    db = recorder.load()
    assert db.get(name, n) == (expected, {})
    assert db.call(name, n).args == expected
    assert [f.line for f in db.find(name)] == [int(name.rsplit(":", 1)[-1].rsplit("@", 1)[-1])]


def test_a_site_that_matches_nothing_is_an_unknown_function_listing_the_names(shapes, recorder):
    db = recorder.load()
    with pytest.raises(callmonitor.UnknownFunctionError) as info:
        db.get("<lambda>@3", 1)
    assert not isinstance(info.value, callmonitor.AmbiguousFunctionError)
    assert "shapes_identity.<lambda>@2" in str(info.value)


def test_a_notebook_cell_run_twice_after_an_edit_records_two_functions(recorder):
    # GIVEN a cell defining `step`, run, edited and run again (IPython names each run's
    # code <ipython-input-N-...>), WHEN both versions are called, THEN they are two
    # functions: same line, told apart by file, each found by its object.
    first = _cell(CELL.format(k=1), "<ipython-input-1-0a1b>")["step"]
    first(1)
    second = _cell(CELL.format(k=2), "<ipython-input-2-9f8e>")["step"]
    second(10)
    second(20)
    db = recorder.load()
    assert sorted(f.unique_name for f in db.functions) == [
        "notebook.step@<ipython-input-1-0a1b>:2", "notebook.step@<ipython-input-2-9f8e>:2"]
    assert db.get(first, 1) == ([1], {})
    assert [c.args for c in db.calls(second)] == [[10], [20]]
    assert db.get("step@<ipython-input-2-9f8e>:2", -1) == ([20], {})
    with pytest.raises(callmonitor.AmbiguousFunctionError) as info:
        db.get("step", 1)
    assert "'notebook.step@<ipython-input-1-0a1b>:2'" in str(info.value)


def test_two_defs_of_one_name_in_a_module_are_two_functions(recorder, tmp_path, monkeypatch):
    m = _module(tmp_path, "redefined_identity", textwrap.dedent('''\
        import callmonitor
        @callmonitor.intercept
        def f(x):
            return 1
        first = f

        @callmonitor.intercept
        def f(x):
            return 2
        '''), monkeypatch)
    m.first("a")
    m.f("b")
    db = recorder.load()
    assert sorted(f.unique_name for f in db.functions) == ["redefined_identity.f@2", "redefined_identity.f@7"]
    assert db.get(m.first, 1) == (["a"], {})
    assert db.get(m.f, 1) == (["b"], {})
    assert db.get("f@7", 1) == (["b"], {})
    assert "f@2" in repr(db) and "f@7" in repr(db)


def test_the_same_code_defined_again_at_the_same_site_stays_one_function(recorder):
    # GIVEN one source run twice under one file name (an unchanged cell re-run, a module
    # reloaded), and a function decorated twice, WHEN all are called, THEN each is one
    # function whose calls are numbered on: same code at the same site is the same function.
    a = _cell(CELL.format(k=1), "cell.py")["step"]
    b = _cell(CELL.format(k=1), "cell.py")["step"]
    a(1)
    b(2)

    def plain(x):
        return x
    callmonitor.intercept(plain)(3)
    callmonitor.intercept(plain)(4)
    db = recorder.load()
    assert sorted((f.unique_name, f.calls) for f in db.functions) == [
        ("notebook.step", 2),
        (f"{__name__}.test_the_same_code_defined_again_at_the_same_site_stays_one_function.<locals>.plain", 2)]
    assert [c.args for c in db.calls(a)] == [[1], [2]]


@pytest.mark.integration
def test_the_cli_accepts_the_spelling_and_lists_the_choices(shapes, recorder, tmp_path):
    # GIVEN the two lambdas recorded, WHEN the CLI is asked by bare name THEN it fails and
    # lists both spellings; asked by a spelling, show / calls / replay / export / summary answer.
    recorder.load()
    run_dir = callmonitor.output_directory()
    proc = callmonitor_cli("show", run_dir, "<lambda>", "1", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "shapes_identity.<lambda>@5" in proc.stderr, proc.stderr
    show = json.loads(check(callmonitor_cli("show", run_dir, "<lambda>@5", "1", "--json", cwd=tmp_path)).stdout)
    assert show["defined"]["line"] == 5 and show["arguments"][0]["value"] == 2
    calls = json.loads(check(callmonitor_cli("calls", run_dir, "shapes_identity.<lambda>@2", "--json",
                                             cwd=tmp_path)).stdout)
    assert len(calls["calls"]) == 2
    summary = json.loads(check(callmonitor_cli("summary", run_dir, "--json", cwd=tmp_path)).stdout)
    assert sorted((f["name"], f["calls"]) for f in summary["functions"]) == [
        ("shapes_identity.<lambda>@2", 2), ("shapes_identity.<lambda>@5", 1)]
    check(callmonitor_cli("replay", run_dir, "<lambda>@2", "--all", "--func", "shapes_identity:square",
                          "--path", tmp_path, cwd=tmp_path))
    out = tmp_path / "exported"
    check(callmonitor_cli("export", run_dir, "<lambda>@5", "1", "--to", out, cwd=tmp_path))
    assert (out / "manifest.json").exists()


def test_api_derivation_takes_a_name_with_its_site(shapes, recorder):
    # GIVEN the two lambdas, WHEN the API of one definition is asked by its spelling THEN
    # only its calls are counted; a glob still takes both (merged under their full name).
    db = recorder.load()
    (one,) = db.api(["<lambda>@5"])
    assert one.calls == 1 and one.line == 5
    (both,) = db.api(["shapes_identity.*"])
    assert both.calls == 3
