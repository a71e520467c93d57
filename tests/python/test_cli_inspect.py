"""Inspect commands through the real console command: summary/show --json,
`calls` with its filters, how `show` prints values, --import, --help."""
import json
import re

import pytest

from callmonitor.cli.main import COMMANDS
from _support import callmonitor_cli as cli, check, describe, run_python

RECORD = """
    import time
    import numpy as np
    from callmonitor import intercept

    class Failure(Exception):
        pass

    @intercept
    def kernel(u, dx, *, scale=1.0):
        if dx < 0:
            raise Failure("dx must be positive")
        if dx > 10:
            time.sleep(0.03)
        return u * scale

    @intercept
    def describe(meta, pair=(1, 2)):
        return np.float32(2.0)

    u = np.arange(2000, dtype=np.float64).reshape(40, 50)
    kernel(u, 0.5)
    kernel(np.ones(3, dtype=np.float32), 20.0, scale=2.0)
    try:
        kernel(u, -1.0)
    except Failure:
        pass
    describe({"zeta": 1, "alpha": [1, 2.5, None], "mid": {"b": True, "a": b"x"}})
    describe({"x": np.int16(-3)}, pair=(np.float32(2.0), 1 + 2j))
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inspect")
    check(run_python(RECORD, tmp))
    return tmp / "call-monitor"


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One run recorded by two (simulated) MPI ranks: rank r calls work() 2 + r times."""
    tmp = tmp_path_factory.mktemp("ranks")
    for rank in (0, 1):
        check(run_python(f"""
            from callmonitor import intercept

            @intercept
            def work(i):
                if i == 2:
                    raise KeyError(i)
                return i

            for i in range({2 + rank}):
                try:
                    work(i + {rank})
                except KeyError:
                    pass
        """, tmp, env={"OMPI_COMM_WORLD_RANK": rank, "OMPI_COMM_WORLD_SIZE": 2,
                       "CALLMONITOR_RUN_ID": "job-1"}))
    return tmp / "call-monitor"


# -- --help ------------------------------------------------------------------------

@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command):
    out = check(cli(command, "--help")).stdout
    assert out.startswith("usage: callmonitor " + command), out
    assert "--help" in out


# -- summary --json ----------------------------------------------------------------

def test_summary_json_lists_functions_calls_and_writers(db):
    data = json.loads(check(cli("summary", db, "--json")).stdout)
    by_name = {f["name"]: f for f in data["functions"]}
    assert by_name["__main__.kernel"]["calls"] == 3
    assert by_name["__main__.describe"]["calls"] == 2
    assert data["calls"] == 5
    params = by_name["__main__.kernel"]["parameters"]
    assert [(p["name"], p["kind"]) for p in params] == [
        ("u", "POSITIONAL_OR_KEYWORD"), ("dx", "POSITIONAL_OR_KEYWORD"), ("scale", "KEYWORD_ONLY")]
    assert params[2]["default"] == "1.0"
    assert by_name["__main__.kernel"]["signature"] == "kernel(u, dx, *, scale=1.0)"
    assert [w["id"] for w in data["writers"]] == ["main"]
    assert data["writers"][0]["rank"] is None
    assert data["bytes_on_disk"] > 0


def test_summary_json_of_two_ranks_names_each_writer(two_ranks):
    data = json.loads(check(cli("summary", two_ranks, "--json")).stdout)
    assert data["ranks"] == [0, 1]
    (work,) = data["functions"]
    assert work["calls"] == 5
    assert sorted((w["id"], w["calls"]) for w in work["writers"]) == [("rank-0000", 2), ("rank-0001", 3)]


# -- show --------------------------------------------------------------------------

def test_show_prints_arrays_with_numpy_summarised_and_full(db):
    out = check(cli("show", db, "kernel", 1)).stdout
    assert "ndarray <f8 shape=(40, 50) order=C float64" in out, out
    assert "..." in out and "1.999e+03" in out, out     # numpy's summarised printing
    full = check(cli("show", db, "kernel", 1, "--full")).stdout
    assert "..." not in full.split("returned")[0], full
    assert len(full.splitlines()) > len(out.splitlines()) + 100


def test_show_keeps_numpy_scalar_types_and_dict_order(db):
    out = check(cli("show", db, "describe", 1)).stdout
    assert out.index("'zeta'") < out.index("'alpha'") < out.index("'mid'"), out
    assert "'mid': {'b': True, 'a': b'x'}" in out, out
    assert "returned  float32(2.0)" in out, out
    out2 = check(cli("show", db, "describe", 2)).stdout
    assert "int16(-3)" in out2 and "(float32(2.0), (1+2j))" in out2, out2


def test_show_marks_defaults_and_prints_durations_in_units(db):
    out = check(cli("show", db, "kernel", 1)).stdout
    assert re.search(r"scale = 1\.0\s+\(default\)", out), out
    assert re.search(r"duration\s+[0-9.]+ (ns|µs|ms)\b", out), out
    slow = check(cli("show", db, "kernel", 2)).stdout
    assert re.search(r"duration\s+[0-9.]+ ms\b", slow), slow


def test_show_prints_the_exception_of_a_raising_call(db):
    out = check(cli("show", db, "kernel", -1)).stdout
    assert "raised    __main__.Failure: dx must be positive" in out, out


def test_show_json_has_arguments_result_and_exception(db):
    data = json.loads(check(cli("show", db, "kernel", 2, "--json")).stdout)
    assert data["invocation"] == 2 and data["function"] == "__main__.kernel"
    args = {a["name"]: a for a in data["arguments"]}
    assert args["u"]["value"] == {"ndarray": {"dtype": "<f4", "shape": [3], "order": "C",
                                              "data": [1.0, 1.0, 1.0]}}
    assert args["scale"] == {"name": "scale", "value": 2.0, "default": False}
    assert data["outcome"] == "returned"
    assert data["result"]["ndarray"]["data"] == [2.0, 2.0, 2.0]
    assert data["duration_s"] > 0.02
    raised = json.loads(check(cli("show", db, "kernel", 3, "--json")).stdout)
    assert raised["outcome"] == "raised" and raised["result"] is None
    assert raised["exception"]["type"] == "__main__.Failure"
    assert raised["exception"]["message"] == "dx must be positive"
    big = raised["arguments"][0]["value"]["ndarray"]
    assert big["truncated"] is True and big["stats"]["max"] == 1999.0 and "data" not in big


def test_show_json_tags_what_json_lacks(db):
    data = json.loads(check(cli("show", db, "describe", 2, "--json")).stdout)
    args = {a["name"]: a["value"] for a in data["arguments"]}
    assert args["meta"] == {"dict": [["x", {"npscalar": {"dtype": "<i2", "value": -3}}]]}
    assert args["pair"] == {"tuple": [{"npscalar": {"dtype": "<f4", "value": 2.0}},
                                      {"complex": [1.0, 2.0]}]}


def test_show_import_registers_a_users_handler_before_decoding(tmp_path):
    (tmp_path / "celsius.py").write_text(
        "import callmonitor\n"
        "class Celsius:\n"
        "    def __init__(self, t): self.t = t\n"
        "    def __repr__(self): return f'Celsius({self.t})'\n"
        "class CelsiusHandler:\n"
        "    def encode(self, obj): return str(obj.t).encode()\n"
        "    def decode(self, data): return Celsius(float(bytes(data)))\n"
        "callmonitor.REGISTRY.add(Celsius, CelsiusHandler)\n")
    check(run_python("""
        from callmonitor import intercept
        from celsius import Celsius

        @intercept
        def heat(t):
            pass

        heat(Celsius(21.5))
    """, tmp_path, env={"PYTHONPATH": tmp_path}))
    without = cli("show", tmp_path / "call-monitor", "heat", 1, cwd=tmp_path)
    # The call shows; the one value its handler is missing for says what to do.
    assert without.returncode == 0, describe(without)
    line = next(l for l in without.stdout.splitlines() if l.strip().startswith("t = "))
    assert "Unrestorable celsius.CelsiusHandler" in line and "--import" in line, line
    assert "Traceback" not in without.stderr
    out = check(cli("show", tmp_path / "call-monitor", "heat", 1, "--import", "celsius",
                    cwd=tmp_path)).stdout
    assert "t = Celsius(21.5)" in out, out


def test_show_import_of_a_missing_module_says_what_to_do(db):
    proc = cli("show", db, "kernel", 1, "--import", "no_such_module_here")
    assert proc.returncode == 1, describe(proc)
    assert "no_such_module_here" in proc.stderr and "PYTHONPATH" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- calls -------------------------------------------------------------------------

def _rows(out):
    return [line for line in out.splitlines() if re.match(r"\s*\d+\s+\d{4}-", line)]


def test_calls_lists_every_invocation(db):
    out = check(cli("calls", db, "kernel")).stdout
    rows = _rows(out)
    assert [int(r.split()[0]) for r in rows] == [1, 2, 3], out
    assert "MainThread" in rows[0] and "returned" in rows[0]
    assert "ndarray<<f8>(40, 50)" in rows[0] and "0.5" in rows[0]
    assert "raised __main__.Failure" in rows[2], out
    assert re.search(r"\d+(\.\d+)? ms", rows[1]), rows[1]
    assert "3 call(s) shown" in out


def test_calls_filters_raised_slower_than_and_limit(db):
    raised = check(cli("calls", db, "kernel", "--raised")).stdout
    assert [int(r.split()[0]) for r in _rows(raised)] == [3], raised
    slow = check(cli("calls", db, "kernel", "--slower-than", "10ms")).stdout
    assert [int(r.split()[0]) for r in _rows(slow)] == [2], slow
    slow_s = check(cli("calls", db, "kernel", "--slower-than", "0.01")).stdout
    assert _rows(slow_s) == _rows(slow)
    limited = check(cli("calls", db, "kernel", "--limit", "2")).stdout
    assert [int(r.split()[0]) for r in _rows(limited)] == [1, 2], limited


def test_calls_json(db):
    data = json.loads(check(cli("calls", db, "kernel", "--json")).stdout)
    assert data["function"] == "__main__.kernel"
    assert [c["invocation"] for c in data["calls"]] == [1, 2, 3]
    assert [c["outcome"] for c in data["calls"]] == ["returned", "returned", "raised"]
    assert data["calls"][2]["exception"] == {"type": "__main__.Failure", "message": "dx must be positive"}
    assert data["calls"][1]["duration_s"] > 0.02
    assert data["calls"][0]["thread"]["name"] == "MainThread"


def test_calls_of_two_ranks_walks_writers_and_filters_by_rank(two_ranks):
    out = check(cli("calls", two_ranks, "work")).stdout
    assert re.search(r"\brank\b", out.splitlines()[0]), out
    data = json.loads(check(cli("calls", two_ranks, "work", "--json")).stdout)
    assert [(c["rank"], c["invocation"]) for c in data["calls"]] == [(0, 1), (0, 2), (1, 1), (1, 2), (1, 3)]
    only = json.loads(check(cli("calls", two_ranks, "work", "--rank", "1", "--raised", "--json")).stdout)
    assert [(c["rank"], c["invocation"], c["exception"]["type"]) for c in only["calls"]] == [(1, 2, "KeyError")]


@pytest.mark.parametrize("args, words", [
    (("--limit", "0"), ["--limit", "1 or more"]),
    (("--slower-than", "fast"), ["--slower-than", "10ms"]),
])
def test_calls_bad_options_are_usage_errors(db, args, words):
    proc = cli("calls", db, "kernel", *args)
    assert proc.returncode == 2, describe(proc)
    for w in words:
        assert w in proc.stderr, describe(proc)


def test_calls_of_an_unknown_function_or_rank_says_what_exists(db, two_ranks):
    proc = cli("calls", db, "nothing")
    assert proc.returncode == 1 and "__main__.kernel" in proc.stderr, describe(proc)
    proc = cli("calls", two_ranks, "work", "--rank", "7")
    assert proc.returncode == 1 and "rank-0001" in proc.stderr, describe(proc)
    assert "Traceback" not in proc.stderr


# -- presentation: rich on a terminal, plain text otherwise -----------------------------

class _Terminal:
    """A text stream that says it is a terminal."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return True

    def text(self):
        return "".join(self.parts)


def test_tables_use_rich_on_a_terminal_and_plain_text_otherwise():
    import io
    from callmonitor.cli.table import print_table
    term = _Terminal()
    print_table(["function", "calls"], [("step", 20)], [">", ">"], stream=term)
    assert "┃" in term.text() or "│" in term.text(), term.text()
    plain = io.StringIO()
    print_table(["function", "calls"], [("step", 20)], ["<", ">"], stream=plain)
    assert plain.getvalue().splitlines() == ["function  calls", "--------  -----", "step         20"]


def test_progress_draws_only_on_a_terminal():
    import io
    from callmonitor.cli.progress import Progress
    quiet = io.StringIO()
    p = Progress("reading", stream=quiet, interval=0)
    p(5, 10)
    p.close()
    assert quiet.getvalue() == ""
    term = _Terminal()
    p = Progress("reading", stream=term, interval=0)
    p(5, 10)
    p(10, 10)
    p.close()
    assert "reading" in term.text(), term.text()


def test_show_prints_a_recorded_traceback_under_the_exception(db, capsys):
    # Records carry the formatted traceback of a raise (call.traceback); show prints it.
    import callmonitor
    from callmonitor.cli.show import call_json, print_call

    with callmonitor.load(db) as database:
        raised = database.call("kernel", 3)
        assert raised.exception is not None and raised.traceback
        print_call(raised)
        out = capsys.readouterr().out
        assert "  traceback:\n    Traceback (most recent call last):\n      File " in out, out
        assert "raise Failure(\"dx must be positive\")" in out, out
        assert call_json(raised)["exception"]["traceback"] == raised.traceback
        returned = database.call("kernel", 1)
        assert returned.exception is None and returned.traceback is None
        print_call(returned)   # no raise: no traceback section
        assert "traceback" not in capsys.readouterr().out
