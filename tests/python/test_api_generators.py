"""`callmonitor api` on generators, async generators and coroutines (what they
yielded, returned, closed early) and on values typed by their class (masked
arrays, pandas values, enums, dataclasses, classes, functions and modules
passed as values): hand-counted JSON, stubs through ast.parse, mypy, stubtest."""
import ast
import json
import subprocess
import sys

import pytest

import callmonitor
from callmonitor.analyse import api_diff, api_json, stubs
from _support import assert_fields, check, describe, run_python, subprocess_env

pytestmark = pytest.mark.integration  # records a real program in a subprocess, runs mypy

PROGRAM = '''
"""A known program: test_api_generators.py counts its calls by hand."""
import dataclasses
import enum
from callmonitor import intercept


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclasses.dataclass
class Pt:
    x: int


class Acc:
    def __init__(self, start):
        self.total = start

    @intercept
    def add(self, x: int):
        self.total += x
        return self.total


def helper():
    return 1


@intercept(yields=True)
def items(n):
    for i in range(n):
        yield i if i % 2 == 0 else str(i)
    return n


@intercept
def plain(n):
    yield from range(n)


@intercept(yields=True)
async def agen(n):
    for i in range(n):
        yield float(i)


@intercept
async def double(x: int) -> int:
    return x * 2


@intercept
def value(v):
    return None


@intercept
def frame(n):
    import pandas as pd
    return pd.DataFrame({"x": range(n), "y": ["s"] * n})
'''

DRIVER = '''
import asyncio
import os
import numpy as np
import pandas as pd
import genprog as m

v2 = os.environ.get("API_VARIANT") == "2"
list(m.items(3))                 # 0, "1", 2; returns 3
list(m.items(2))                 # 0, "1"; returns 2
for x in m.items(5):             # closed after one item
    break
if v2:
    list(m.items(4))             # 0, "1", 2, "3"
list(m.plain(4))


async def main():
    return [x async for x in m.agen(2)], await m.double(3)

asyncio.run(main())
m.Acc(1).add(2)
m.value(np.ma.masked_array([1.0, 2.0], mask=[False, True]))
m.value(pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2]}))
m.value(pd.Series([1, 2, 3]))
m.value(pd.Index([1, 2]))
m.value(pd.NaT)
m.value(m.Color.RED)
m.value(m.Color.BLUE)
m.value(m.Pt(1))
m.value(m.Pt)
m.value(m.helper)
m.value(np)
m.frame(2)
m.frame(5)
'''

MASKED = "numpy.ma.MaskedArray[Any, numpy.dtype[numpy.float64]]"

# What DRIVER (variant 1) calls, counted by hand.
EXPECTED = {
    "genprog.items": {
        "kind": "generator", "calls": 3, "returned": 2, "result_skipped": 0, "returns": {"int": 2},
        "generator": {"yields": {"calls": 3, "total": 6, "min": 1, "max": 3, "mean": 2.0,
                                 "histogram": [[1, 1], [2, 1], [3, 1]]},
                      "yielded": {"int": 4, "str": 2}, "yielded_recorded": 6, "yielded_unrecorded": 0,
                      "item_types_known": True, "closed": 1, "dropped": 0},
    },
    "genprog.plain": {
        "kind": "generator", "calls": 1, "returned": 1, "returns": {"None": 1},
        "generator": {"yields": {"calls": 1, "total": 4, "min": 4, "max": 4, "mean": 4.0, "p50": 4.0, "p95": 4.0,
                                 "histogram": [[4, 1]]}, "yielded": {},
                      "yielded_recorded": 0, "yielded_unrecorded": 4, "item_types_known": False, "closed": 0},
    },
    "genprog.agen": {
        "kind": "async-generator", "calls": 1,
        "generator": {"yields": {"calls": 1, "total": 2, "min": 2, "max": 2, "mean": 2.0, "p50": 2.0, "p95": 2.0,
                                 "histogram": [[2, 1]]}, "yielded": {"float": 2}, "yielded_unrecorded": 0,
                      "item_types_known": True, "closed": 0},
    },
    "genprog.double": {"kind": "coroutine", "calls": 1, "returns": {"int": 1}},
    "genprog.Acc.add": {"calls": 1, "returns": {"int": 1}},
    "genprog.value": {
        "calls": 11,
        "parameters": [{"name": "v", "types": {
            MASKED: 1, "pandas.DataFrame": 1, "pandas.Series": 1, "pandas.Int64Index": 1,  # pandas 1.5: pd.Index([1, 2])
           
            "pandas._libs.tslibs.nattype.NaTType": 1, "genprog.Color": 2, "genprog.Pt": 1,
            "type[genprog.Pt]": 1, "Callable[..., Any]": 1, "types.ModuleType": 1},
            "pandas": [
                {"type": "pandas.DataFrame", "columns": [["a", "float64"], ["b", "int64"]], "column_count": 2,
                 "dtype": "", "min_length": 2, "max_length": 2, "count": 1},
                {"type": "pandas.Series", "columns": [], "column_count": 0, "dtype": "int64",
                 "min_length": 3, "max_length": 3, "count": 1},
                {"type": "pandas.Int64Index", "columns": [], "column_count": 0, "dtype": "int64",
                 "min_length": 2, "max_length": 2, "count": 1}],
            "other_pandas": 0}],
    },
    "genprog.frame": {
        "calls": 2, "returns": {"pandas.DataFrame": 2},
        "return_pandas": [{"type": "pandas.DataFrame", "columns": [["x", "int64"], ["y", "object"]],
                           "column_count": 2, "dtype": "", "min_length": 2, "max_length": 5, "count": 2}],
    },
}


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "callmonitor", *map(str, args)], cwd=cwd,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """The program's folder with two runs: call-monitor (variant 1) and call-monitor-1 (variant 2)."""
    workdir = tmp_path_factory.mktemp("genprog")
    (workdir / "genprog.py").write_text(PROGRAM)
    for variant in ("1", "2"):
        check(run_python(DRIVER, workdir, env={"API_VARIANT": variant}, timeout=120))
    return workdir


def test_json_has_what_generators_yielded_and_values_by_class(program, tmp_path):
    out = tmp_path / "api.json"
    check(cli("api", program / "call-monitor", "--json", out))
    functions = {f["full_name"]: f for f in json.loads(out.read_text())["functions"]}
    for name, want in EXPECTED.items():
        assert_fields(want, functions[name], name)
    assert "generator" not in functions["genprog.value"]      # only generators carry it
    assert "generator" not in functions["genprog.double"]
    # read back: the same model, and combined with itself every count doubles
    model = api_json.read(str(out))
    assert api_json.to_json(model)["functions"] == json.loads(out.read_text())["functions"]
    twice = model.merged(api_json.read(str(out)))["items"].generator
    assert (twice.yields.calls, twice.yields.total, twice.yields.min, twice.yields.max) == (6, 12, 1, 3)
    assert twice.yielded == {"int": 8, "str": 4} and twice.closed == 2
    frames = model.merged(api_json.read(str(out)))["frame"].return_pandas
    assert [(s.count, s.min_length, s.max_length) for s in frames] == [(4, 2, 5)]
    assert frames[0].text() == "pandas.DataFrame[x: int64, y: object] (2-5 rows)"


def test_a_file_without_generator_fields_reads_as_no_generator(program, tmp_path):
    out = tmp_path / "api.json"
    check(cli("api", program / "call-monitor", "--json", out))
    data = json.loads(out.read_text())
    for f in data["functions"]:
        f.pop("generator", None)   # as written before generators were derived
    model = api_json.from_json(data)
    assert model["items"].generator.empty and model["items"].generator.yielded == {}


def test_generator_stubs_name_items_returns_and_awaited_types(program, tmp_path):
    stub_dir = tmp_path / "stubs"
    check(cli("api", program / "call-monitor", "--stubs", stub_dir))
    text = (stub_dir / "genprog.pyi").read_text()
    ast.parse(text)
    assert ") -> Generator[Union[int, str], None, int]: ..." in text
    assert ") -> Iterator[Any]: ..." in text                    # plain: items not recorded
    assert "def agen(\n    n: int,  # int 1; positional 1\n) -> AsyncIterator[float]: ..." in text
    assert "async def double(" in text and ") -> int: ..." in text
    assert "# yielded 6 items in 3 calls (min 1, mean 2, max 3); items int 4, str 2; closed early 1" in text
    assert "4 items not recorded" in text
    # Acc.__init__ was not recorded: the stub accepts anything rather than object's no arguments
    assert "class Acc:\n    __init__: Any  # not recorded: its arguments are unknown" in text
    assert f"v: Any," in text                                    # 10 types > --max-union 5
    assert "from typing import " in text and "Generator" in text.split("\n\n")[1]
    mypy = subprocess.run(["/usr/bin/python3", "-m", "mypy", "--no-incremental", "--ignore-missing-imports",
                           str(stub_dir)], capture_output=True, text=True, timeout=300)
    assert mypy.returncode == 0, describe(mypy) + "\n--- stub ---\n" + text
    config = tmp_path / "mypy.ini"   # pandas ships no type information on Debian
    config.write_text("[mypy]\n\n[mypy-pandas.*]\nignore_missing_imports = True\n")
    stubtest = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "genprog", "--ignore-missing-stub", "--mypy-config-file",
         str(config)], cwd=program,
        env=subprocess_env({"MYPYPATH": str(stub_dir), "PYTHONPATH": str(program)}),
        capture_output=True, text=True, timeout=300)
    assert stubtest.returncode == 0, describe(stubtest) + "\n--- stub ---\n" + text


def test_value_types_name_and_import_their_classes(program, tmp_path):
    with callmonitor.load(program / "call-monitor") as db:
        model = db.api(["value"])
    text = stubs.render_module("genprog", list(model), max_union=20)
    ast.parse(text)
    assert "import numpy.ma" in text and "import pandas._libs.tslibs.nattype" in text and "import types" in text
    assert "type[Pt]" in text and "Color" in text and MASKED in text
    stub = tmp_path / "genprog.pyi"
    stub.write_text(text)
    mypy = subprocess.run(["/usr/bin/python3", "-m", "mypy", "--no-incremental", "--ignore-missing-imports",
                           str(stub)], capture_output=True, text=True, timeout=300)
    assert mypy.returncode == 0, describe(mypy) + "\n--- stub ---\n" + text


def test_table_shows_generators_and_diff_reports_new_items(program):
    table = cli("api", program / "call-monitor")
    check(table)
    lines = [line for line in table.stdout.splitlines() if line.startswith("genprog.items ")]
    assert any("6 (1/2/3)" in line and "int 4, str 2" in line for line in lines), table.stdout
    assert any(line.startswith("genprog.plain ") and "not recorded" in line for line in table.stdout.splitlines())
    # the signatures table: calls and timing per distinct signature
    signature = [line.split() for line in table.stdout.splitlines() if line.startswith("items ") and "n: int" in line]
    assert len(signature) == 1 and signature[0][3] == "3", table.stdout
    assert signature[0][5] in ("ns", "us", "ms") and signature[0][-1] in ("ns", "us", "ms"), table.stdout
    with callmonitor.load(program / "call-monitor") as old_db, callmonitor.load(program / "call-monitor-1") as new_db:
        changes = api_diff.diff(old_db.api(["items"]), new_db.api(["items"]), threshold=0.25)
    seen = {(c.what, c.item, c.old, c.new) for c in changes}
    # variant 2 adds one call yielding 0, "1", 2, "3": int 4 -> 6, str 2 -> 4, items 6 -> 10
    assert ("type count changed", "yields: str", 2, 4) in seen, seen
    assert ("type count changed", "yields: int", 4, 6) in seen, seen
    assert ("items yielded changed", "", 6, 10) in seen, seen
