"""`callmonitor api` and `db.api()`: the API derived from a known program,
compared field by field with counts written down by hand; stubs checked by
ast.parse, mypy and stubtest; combining databases and JSON; --diff."""
import ast
import json
import os
import subprocess
import sys
import time

import pytest

import callmonitor
from callmonitor.analyse import api_json, stubs
from _support import assert_fields, check, describe, run_python, subprocess_env

pytestmark = pytest.mark.integration  # records real programs in subprocesses, runs mypy

PROGRAM = '''
"""A known program: test_api.py counts its calls by hand."""
import numpy as np
from callmonitor import intercept


class Point:
    def __init__(self, x):
        self.x = x


@intercept
def scale(values, factor: float = 1.0, *, mode="linear"):
    if mode not in ("linear", "log"):
        raise ValueError(f"unknown mode {mode!r}")
    return [v * factor for v in values]


@intercept
def norm(a, ord=None):
    return float(np.linalg.norm(a, ord))


@intercept
def lookup(table: dict, key: int):
    return table[key]


@intercept
def pack(*items, **options):
    return items


@intercept
def where(p: Point):
    return p.x


class Grid:
    @intercept
    def __init__(self, n):
        self.n = n

    @intercept
    def cell(self, i: int):
        return i * self.n

    @staticmethod
    @intercept
    def make(n):
        return Grid(n)


@intercept
def count(n):
    yield from range(n)
'''

CALLER = '''
import apiprog


def run():
    for _ in range(3):
        apiprog.lookup({1: "a"}, 1)
'''

DRIVER = '''
import os
import numpy as np
import apiprog as m
import apicaller

v2 = os.environ.get("API_VARIANT") == "2"
for _ in range(30):
    m.scale([1, 2, 3], 2.0)
for _ in range(10):
    m.scale([1.5], factor=3, mode="log")
try:
    m.scale((1, "a"), mode="cubic")
except ValueError:
    pass
for _ in range(4):
    m.norm(np.ones((2, 3)))
m.norm(np.ones(5, dtype=np.float32), ord=2)
if v2:
    m.norm(np.arange(4), ord=1)
apicaller.run()
for key in (2, "1"):
    try:
        m.lookup({1: "a"}, key)
    except KeyError:
        pass
if v2:
    try:
        m.lookup([], 0)
    except IndexError:
        pass
m.pack(1, 2, verbose=True)
m.pack()
if not v2:
    m.where(m.Point(1))
grid = m.Grid.make(3)
grid.cell(2)
grid.cell(i=4)
list(m.count(3))
'''

F64 = "numpy.typing.NDArray[numpy.float64]"
F32 = "numpy.typing.NDArray[numpy.float32]"

# What DRIVER (variant 1) calls, counted by hand.
EXPECTED = {
    "apiprog.scale": {
        "calls": 41, "returned": 40, "raised": 1, "pending": 0, "unbound": 0, "undecodable": 0,
        "exceptions": {"ValueError": 1}, "returns": {"list[float]": 40}, "callers": {"__main__": 41},
        "parameters": [
            {"name": "values", "kind": "POSITIONAL_OR_KEYWORD", "positional": 41, "keyword": 0, "defaulted": 0,
             "required": True, "types": {"list[int]": 30, "list[float]": 10, "tuple[int, str]": 1},
             "literals": None, "mismatches": {}},
            {"name": "factor", "kind": "POSITIONAL_OR_KEYWORD", "positional": 30, "keyword": 10, "defaulted": 1,
             "required": False, "types": {"float": 30, "int": 10}, "annotation": "float", "mismatches": {}},
            {"name": "mode", "kind": "KEYWORD_ONLY", "positional": 0, "keyword": 11, "defaulted": 30,
             "types": {"str": 11}, "literals": {"log": 10, "cubic": 1}},
        ],
        "signatures": [
            {"types": {"values": "list[int]", "factor": "float"}, "calls": 30, "returns": {"list[float]": 30},
             "exceptions": {}},
            {"types": {"values": "list[float]", "factor": "int", "mode": "str"}, "calls": 10,
             "returns": {"list[float]": 10}, "exceptions": {}},
            {"types": {"values": "tuple[int, str]", "mode": "str"}, "calls": 1, "returns": {},
             "exceptions": {"ValueError": 1}},
        ],
    },
    "apiprog.norm": {
        "calls": 5, "returned": 5, "raised": 0, "returns": {"float": 5}, "exceptions": {},
        "callers": {"__main__": 5},
        "parameters": [
            {"name": "a", "positional": 5, "keyword": 0, "types": {F64: 4, F32: 1},
             "shapes": [{"type": F64, "shape": [2, 3], "count": 4}, {"type": F32, "shape": [5], "count": 1}],
             "ndims": {"2": 4, "1": 1}},
            {"name": "ord", "positional": 0, "keyword": 1, "defaulted": 4, "types": {"int": 1}},
        ],
    },
    "apiprog.lookup": {
        "calls": 5, "returned": 3, "raised": 2, "returns": {"str": 3}, "exceptions": {"KeyError": 2},
        "callers": {"apicaller": 3, "__main__": 2},
        "parameters": [
            {"name": "table", "types": {"dict[int, str]": 5}, "mismatches": {}},
            {"name": "key", "types": {"int": 4, "str": 1}, "annotation": "int", "mismatches": {"str": 1}},
        ],
    },
    "apiprog.pack": {
        "calls": 2, "returns": {"tuple[()]": 1, "tuple[int, int]": 1},
        "parameters": [
            {"name": "items", "kind": "VAR_POSITIONAL", "positional": 1, "values": 2, "types": {"int": 2},
             "required": False},
            {"name": "options", "kind": "VAR_KEYWORD", "keyword": 1, "values": 1, "types": {"bool": 1},
             "keyword_names": {"verbose": 1}},
        ],
    },
    "apiprog.where": {
        "calls": 1, "returns": {"int": 1},
        "parameters": [{"name": "p", "types": {"apiprog.Point": 1}, "annotation": "apiprog.Point", "mismatches": {}}],
    },
    "apiprog.Grid.__init__": {
        "calls": 1, "returns": {"None": 1}, "callers": {"apiprog": 1},
        "parameters": [{"name": "self", "types": {"apiprog.Grid": 1}}, {"name": "n", "types": {"int": 1}}],
    },
    "apiprog.Grid.cell": {
        "calls": 2, "returns": {"int": 2},
        "parameters": [{"name": "self", "positional": 2}, {"name": "i", "positional": 1, "keyword": 1,
                                                           "types": {"int": 2}}],
    },
    "apiprog.Grid.make": {
        "calls": 1, "returns": {"apiprog.Grid": 1}, "parameters": [{"name": "n", "types": {"int": 1}}],
    },
    "apiprog.count": {"calls": 1, "kind": "generator", "parameters": [{"name": "n", "types": {"int": 1}}]},
}


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "callmonitor", *map(str, args)], cwd=cwd,
                          env=subprocess_env(env), capture_output=True, text=True, timeout=120)


def _record(workdir, variant):
    check(run_python(DRIVER, workdir, env={"API_VARIANT": variant}))


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """The program's folder with two runs: call-monitor (variant 1) and call-monitor-1 (variant 2)."""
    workdir = tmp_path_factory.mktemp("apiprog")
    (workdir / "apiprog.py").write_text(PROGRAM)
    (workdir / "apicaller.py").write_text(CALLER)
    _record(workdir, "1")
    _record(workdir, "2")
    assert (workdir / "call-monitor").is_dir() and (workdir / "call-monitor-1").is_dir()
    return workdir


def test_json_matches_the_hand_counted_api(program, tmp_path):
    out = tmp_path / "api.json"
    check(cli("api", program / "call-monitor", "--json", out))
    data = json.loads(out.read_text())
    assert data["format"] == "callmonitor-api" and data["version"] == 1
    functions = {f["full_name"]: f for f in data["functions"]}
    assert sorted(functions) == sorted(EXPECTED)
    for name, want in EXPECTED.items():
        assert_fields(want, functions[name], name)
    timing = functions["apiprog.scale"]["signatures"][0]["timing"]
    assert timing["count"] == 30
    assert 0 < timing["min_ns"] <= timing["p50_ns"] <= timing["p95_ns"] <= timing["max_ns"]
    assert sum(n for _, n in timing["histogram"]) == 30


def test_db_api_returns_the_same_model_as_objects(program):
    with callmonitor.load(program / "call-monitor") as db:
        model = db.api()
        only = db.api(["scale"])
    assert api_json.to_json(model)["functions"] == api_json.to_json(api_json.from_json(api_json.to_json(model)))[
        "functions"]
    scale = model["apiprog.scale"]
    assert scale.parameter("mode").literals == {"log": 10, "cubic": 1}
    assert scale.parameter("factor").mismatches == {}
    assert model["lookup"].parameter("key").mismatches == {"str": 1}
    assert model["norm"].parameter("a").ndims == {1: 1, 2: 4}
    assert list(only.functions) == ["apiprog.scale"]


def test_stubs_parse_and_pass_mypy_and_stubtest(program, tmp_path):
    stub_dir = tmp_path / "stubs"
    check(cli("api", program / "call-monitor", "--stubs", stub_dir))
    stub = stub_dir / "apiprog.pyi"
    text = stub.read_text()
    ast.parse(text)
    assert "from typing import" in text and "import numpy.typing" in text
    assert "mode: Literal['log', 'cubic', 'linear'] = ...," in text  # the default too
    assert "numpy.typing.NDArray[numpy.float64]" in text and "(2, 3) x4" in text
    assert "# 41 calls (returned 40, raised 1)" in text
    assert "@overload" in text  # scale: 73% and 24% of its calls
    assert "class Grid:" in text and "    @staticmethod\n    def make(" in text
    assert ") -> Iterator[Any]: ..." in text   # count is a generator
    mypy = subprocess.run(["/usr/bin/python3", "-m", "mypy", "--no-incremental", str(stub_dir)],
                          capture_output=True, text=True, timeout=300)
    assert mypy.returncode == 0, describe(mypy) + "\n--- stub ---\n" + text
    stubtest = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "apiprog", "--ignore-missing-stub"], cwd=program,
        env=subprocess_env({"MYPYPATH": str(stub_dir), "PYTHONPATH": str(program)}),
        capture_output=True, text=True, timeout=300)
    assert stubtest.returncode == 0, describe(stubtest) + "\n--- stub ---\n" + text


def test_stub_cutoffs_drop_overloads_and_wide_unions(program, tmp_path):
    with callmonitor.load(program / "call-monitor") as db:
        model = db.api(["scale"])
    many = stubs.render_module("apiprog", list(model), top_pct=1, max_union=5)
    none = stubs.render_module("apiprog", list(model), top_pct=50, max_union=5)
    narrow = stubs.render_module("apiprog", list(model), top_pct=50, max_union=2)
    assert many.count("@overload") == 4      # three signatures + the merged one
    assert "@overload" not in none
    assert "values: Union[list[float], list[int], tuple[int, str]]" in none
    assert "values: Any" in narrow and "from typing import Any" in narrow
    for text in (many, none, narrow):
        ast.parse(text)


def test_combines_labelled_databases_and_json(program, tmp_path):
    first = tmp_path / "ab.json"
    check(cli("api", program / "call-monitor", program / "call-monitor-1", "--label", "a", "--label", "b",
              "--json", first))
    check(cli("api", first, program / "call-monitor", "--label", "c", "--json", tmp_path / "abc.json"))
    data = json.loads((tmp_path / "abc.json").read_text())
    functions = {f["full_name"]: f for f in data["functions"]}
    scale = functions["apiprog.scale"]
    assert scale["calls"] == 41 * 3
    assert scale["labels"] == {"a": 41, "b": 41, "c": 41}
    assert scale["parameters"][0]["types"] == {"list[int]": 90, "list[float]": 30, "tuple[int, str]": 3}
    assert scale["signatures"][0]["calls"] == 90 and scale["signatures"][0]["timing"]["count"] == 90
    assert functions["apiprog.norm"]["calls"] == 5 + 6 + 5
    assert functions["apiprog.where"]["labels"] == {"a": 1, "c": 1}
    assert functions["apiprog.lookup"]["exceptions"] == {"KeyError": 6, "IndexError": 1}


def test_a_merged_database_counts_every_source_writer(program, tmp_path):
    merged = tmp_path / "merged"
    check(cli("merge", merged, program / "call-monitor", program / "call-monitor-1"))
    with callmonitor.load(merged) as db:
        model = db.api()
    assert model["apiprog.scale"].calls == 82
    assert model["apiprog.lookup"].callers == {"apicaller": 6, "__main__": 5}
    assert model["apiprog.norm"].parameter("a").types == {F64: 8, F32: 2, "numpy.typing.NDArray[numpy.int64]": 1}


def test_diff_reports_what_changed_between_two_runs(program, tmp_path):
    out = tmp_path / "diff.json"
    proc = check(cli("api", "--diff", program / "call-monitor", program / "call-monitor-1", "--json", out))
    changes = {(c["what"], c["function"], c["item"]) for c in json.loads(out.read_text())["changes"]}
    assert changes == {
        ("function removed", "apiprog.where", ""),
        ("type appeared", "apiprog.norm", "a: numpy.typing.NDArray[numpy.int64]"),
        ("type count changed", "apiprog.norm", "ord: int"),
        ("type appeared", "apiprog.lookup", "table: list"),
        ("exception appeared", "apiprog.lookup", "IndexError"),
    }
    assert "5 change(s)" in proc.stdout
    same = check(cli("api", "--diff", program / "call-monitor", program / "call-monitor"))
    assert "0 change(s)" in same.stdout


def test_table_output_and_errors(program, tmp_path):
    proc = check(cli("api", program / "call-monitor", "--functions", "*.lookup"))
    assert "apiprog.lookup" in proc.stdout and "apiprog.scale" not in proc.stdout
    assert "annotated int: str 1" in proc.stdout
    missing = cli("api", tmp_path / "nothing-here")
    assert missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    proc = cli("api", bad)
    assert proc.returncode == 1 and "not a callmonitor API file" in proc.stderr
    proc = cli("api", program / "call-monitor", program / "call-monitor", "--label", "a", "--label", "b",
               "--label", "c")
    assert proc.returncode == 1 and "--label was given 3 times for 2 inputs" in proc.stderr
    (tmp_path / "exists.json").write_text("{}")
    proc = cli("api", program / "call-monitor", "--json", tmp_path / "exists.json")
    assert proc.returncode == 1 and "--force" in proc.stderr
    assert "--top-pct" in check(cli("api", "--help")).stdout


def test_huge_and_deep_containers_are_typed_in_bounded_time(tmp_path):
    check(run_python("""
        from callmonitor import intercept

        @intercept
        def take(big, deep):
            return None

        deep = 1
        for _ in range(5000):
            deep = [deep]
        take(list(range(2_000_000)), deep)
        take({str(i): float(i) for i in range(300_000)}, [])
    """, tmp_path, timeout=120))
    t0 = time.perf_counter()
    with callmonitor.load(tmp_path / "call-monitor") as db:
        model = db.api()
    elapsed = time.perf_counter() - t0
    take = model["take"]
    big, deep = take.parameter("big"), take.parameter("deep")
    assert big.types == {"list[int]": 1, "dict[str, float]": 1}
    assert big.sampled_values == 2 and take.sample_items == 16
    assert deep.types == {"list[list[list[list[list[list[list]]]]]]": 1, "list": 1}
    assert take.undecodable == 0
    assert elapsed < 2.0, f"deriving the API of 2 huge calls took {elapsed:.2f} s"


def test_terminal_output_is_a_rich_table_that_keeps_brackets(program):
    import pty
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on a terminal
        os.environ.update(subprocess_env({"COLUMNS": "200"}))
        os.execv(sys.executable, [sys.executable, "-m", "callmonitor", "api", str(program / "call-monitor"),
                                  "--functions", "scale"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "┃" in text and "parameters" in text        # rich's table, not the plain one
    assert "list[int] 30" in text and "tuple[int, str] 1" in text


def test_stubs_of_a_real_library_usage_pass_mypy(tmp_path):
    """numpy functions intercepted while pandas code runs: builtins without signatures,
    numpy's own classes, arrays of many dtypes, foreign classes (pandas)."""
    check(run_python("""
        import numpy as np
        import callmonitor
        for name in ["asarray", "empty", "zeros", "concatenate", "all", "isnan", "take", "arange"]:
            setattr(np, name, callmonitor.intercept(getattr(np, name)))
        import pandas as pd
        rng = np.random.default_rng(0)
        for _ in range(3):
            df = pd.DataFrame({"a": rng.random(50), "b": rng.integers(0, 5, 50), "c": rng.choice(list("xy"), 50)})
            df.groupby("c").agg(["sum", "mean"])
            df.sort_values("a").describe()
            pd.concat([df, df]).drop_duplicates()
    """, tmp_path, timeout=120))
    stub_dir = tmp_path / "stubs"
    check(cli("api", tmp_path / "call-monitor", "--stubs", stub_dir))
    texts = {p.name: p.read_text() for p in stub_dir.iterdir()}
    assert "numpy.pyi" in texts
    for text in texts.values():
        ast.parse(text)
    assert "= Any  # a class of this module" in texts["numpy.pyi"]   # numpy.ndarray & co. inside numpy's stub
    assert "import numpy.typing" in texts["numpy.pyi"]
    # pandas ships no type information on Debian: its imports are the only thing left unchecked
    mypy = subprocess.run(["/usr/bin/python3", "-m", "mypy", "--no-incremental", "--ignore-missing-imports",
                           str(stub_dir)], capture_output=True, text=True, timeout=300)
    assert mypy.returncode == 0, describe(mypy) + "".join(f"\n--- {k} ---\n{v}" for k, v in texts.items())
