"""The pytest plugin on a small suite of our own, in a subprocess: each
phase of each test runs under its own label, outcomes and exit status are
pytest's, calls are recorded from the named modules only, and xdist
workers write into one run directory."""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

import callmonitor
from _support import callmonitor_cli as cli, describe, subprocess_env
from callmonitor.trace.pytest_plugin import phase_label

pytestmark = pytest.mark.integration

PKG = """
    import numpy as np

    def total(values):
        return np.add.reduce(np.asarray(values)) + np.add(0, 0)
"""

CONFTEST = """
    import json, os
    import pytest
    from callmonitor.trace import labels

    @pytest.fixture
    def seen():
        # records the label of each phase; written out at teardown
        log = [("setup", labels.current_label())]
        yield log
        log.append(("teardown", labels.current_label()))
        with open(os.environ["LABEL_LOG"], "a") as f:
            f.write(json.dumps(log) + "\\n")
"""

TESTS = """
    import pytest
    import plugpkg
    from callmonitor.trace import labels

    def test_one(seen):
        seen.append(("call", labels.current_label()))
        assert plugpkg.total([1, 2]) == 3

    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_many(seen, n):
        seen.append(("call", labels.current_label()))
        assert plugpkg.total([n]) == n

    def test_fails(seen):
        seen.append(("call", labels.current_label()))
        plugpkg.total([0])
        assert False, "this test fails on purpose"
"""


@pytest.fixture
def suite(tmp_path):
    (tmp_path / "plugpkg").mkdir()
    (tmp_path / "plugpkg" / "__init__.py").write_text(textwrap.dedent(PKG))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "tests" / "test_suite.py").write_text(textwrap.dedent(TESTS))
    return tmp_path


def _pytest(cwd, *args):
    env = subprocess_env({"LABEL_LOG": cwd / "labels.jsonl"})
    env["PYTHONPATH"] = os.pathsep.join([str(cwd), env["PYTHONPATH"]])
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-W", "ignore::DeprecationWarning", *args, "tests"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def _outcome(proc):
    return re.search(r"(\d+ failed, \d+ passed)", proc.stdout).group(1)


def _label_log(cwd):
    with open(cwd / "labels.jsonl") as f:
        return [json.loads(line) for line in f]


TEST_IDS = ["tests/test_suite.py::test_one", "tests/test_suite.py::test_many[1]",
            "tests/test_suite.py::test_many[2]", "tests/test_suite.py::test_many[3]",
            "tests/test_suite.py::test_fails"]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_each_phase_of_each_test_is_labelled_and_outcomes_are_unchanged(suite, workers):
    plain = _pytest(suite, *workers)
    os.unlink(suite / "labels.jsonl")
    traced = _pytest(suite, *workers, "--callmonitor-to", "numpy", "--callmonitor-from", "plugpkg",
                     "--callmonitor-out", "cm", "--callmonitor-values", "summary")
    assert plain.returncode == traced.returncode == 1, describe(traced)
    assert _outcome(plain) == _outcome(traced) == "1 failed, 4 passed"
    assert "this test fails on purpose" in traced.stdout
    logs = sorted(_label_log(suite), key=lambda log: log[0][1])
    expected = sorted(([[p, phase_label(t, p)] for p in ("setup", "call", "teardown")] for t in TEST_IDS),
                      key=lambda log: log[0][1])
    assert logs == expected
    line = [l for l in traced.stdout.splitlines() if l.startswith("callmonitor: ")]
    writers = 2 if workers else 1
    assert line == [f"callmonitor: recorded 15 calls of 3 functions of numpy (from plugpkg) into "
                    f"cm ({writers} writer"
                    f"{'s' if writers > 1 else ''})"]
    with callmonitor.load(suite / "cm") as db:
        assert len(db.writers) == writers
        counts = {}
        for f in db.functions:  # one entry per (function, writer)
            counts[f.full_name] = counts.get(f.full_name, 0) + f.calls
        # only plugpkg's calls: pytest's and the tests' own numpy use is left out
        assert counts == {"numpy.asarray": 5, "numpy.add.reduce": 5, "numpy.add": 5}
        # each call is stored with the test (and phase) that made it
        assert db.labels() == {phase_label(t, "call"): 3 for t in TEST_IDS}
        for t in TEST_IDS:
            assert {c.function.full_name for c in db.calls("numpy.add", label=phase_label(t, "call"))} \
                == {"numpy.add"}


@pytest.mark.parametrize("spelling", [["-p", "callmonitor.pytest_plugin"], ["-p", "callmonitor.trace.pytest_plugin"]],
                         ids=["short", "module"])
@pytest.mark.parametrize("autoload", ["entry-points", "no-autoload"])
def test_explicit_dash_p_loads_the_plugin_once_whatever_its_spelling(suite, spelling, autoload, monkeypatch):
    if autoload == "no-autoload":
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    proc = _pytest(suite, *spelling, "--callmonitor-to", "numpy", "--callmonitor-from", "plugpkg",
                   "--callmonitor-out", "cm", "-k", "test_one")
    assert proc.returncode == 0, describe(proc)
    assert "recorded 3 calls of 3 functions" in proc.stdout
    with callmonitor.load(suite / "cm") as db:
        assert db.labels() == {phase_label(TEST_IDS[0], "call"): 3}


def test_the_short_name_is_the_plugin_module_itself():
    import callmonitor.pytest_plugin as short
    import callmonitor.trace.pytest_plugin as module
    assert short is module


def test_without_callmonitor_options_the_plugin_does_nothing(suite):
    proc = _pytest(suite, "-k", "test_one")
    assert proc.returncode == 0, describe(proc)
    assert "callmonitor" not in proc.stdout
    assert not (suite / "call-monitor").exists()


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_callmonitor_run_of_pytest_labels_tests_and_its_workers_watch_too(suite, workers):
    env = subprocess_env({"LABEL_LOG": suite / "labels.jsonl"})
    env["PYTHONPATH"] = os.pathsep.join([str(suite), env["PYTHONPATH"]])
    proc = subprocess.run([sys.executable, "-m", "callmonitor", "run", "-o", "viarun", "--to", "numpy",
                           "--from", "plugpkg", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-W", "ignore::DeprecationWarning", *workers, "tests"],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, describe(proc)
    assert _outcome(proc) == "1 failed, 4 passed"
    writers = 2 if workers else 1
    assert proc.stderr.splitlines()[-1] == (
        f"callmonitor run: recorded 15 calls of 3 functions of numpy (from plugpkg) into viarun "
        f"({writers} writer{'s' if writers > 1 else ''})")
    assert "callmonitor: recorded" not in proc.stdout   # one closing line, run's
    labelled = {log[1][1] for log in _label_log(suite)}
    assert labelled == {phase_label(t, "call") for t in TEST_IDS}
    with callmonitor.load(suite / "viarun") as db:
        assert db.labels("numpy.add") == {phase_label(t, "call"): 1 for t in TEST_IDS}


API_TESTS = """
    import numpy as np
    import plugpkg

    def test_ints():
        assert plugpkg.total([1, 2]) == 3

    def test_floats():
        assert plugpkg.total(np.array([0.5, 1.5])) == 2.0
"""


def test_callmonitor_api_shows_which_tests_use_which_signature_with_summarized_types(suite, tmp_path):
    (suite / "apitests").mkdir()
    (suite / "apitests" / "test_api.py").write_text(textwrap.dedent(API_TESTS))
    env = subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join([str(suite), env["PYTHONPATH"]])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--callmonitor-to", "numpy",
                           "--callmonitor-from", "plugpkg", "--callmonitor-out", "cm", "--callmonitor-values",
                           "summary", "apitests"], cwd=suite, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, describe(proc)
    api = cli("api", suite / "cm", "--json", tmp_path / "api.json", "--stubs", tmp_path / "stubs", cwd=suite)
    assert api.returncode == 0, describe(api)
    model = json.loads((tmp_path / "api.json").read_text())
    (reduce,) = [f for f in model["functions"] if f["full_name"] == "numpy.add.reduce"]
    ints, floats = phase_label("apitests/test_api.py::test_ints", "call"), \
        phase_label("apitests/test_api.py::test_floats", "call")
    # a summarized array is typed as the array it summarizes, not as the summary's handler
    by_type = {tuple(s["types"].values()): s["labels"] for s in reduce["signatures"]}
    assert by_type == {("numpy.typing.NDArray[numpy.int64]",): {ints: 1},
                       ("numpy.typing.NDArray[numpy.float64]",): {floats: 1}}
    assert reduce["returns"] == {"numpy.float64": 1, "numpy.int64": 1}
    stub = (tmp_path / "stubs" / "numpy.pyi").read_text()
    assert f"# usage: {ints} 1" in stub and f"# usage: {floats} 1" in stub
    assert "ValueSummary" not in stub
