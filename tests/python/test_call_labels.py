"""Per-call labels (format v2's Label entry field): set with
callmonitor.trace.labels.set_label (the pytest plugin, watch(label=),
`callmonitor run --label`), stored as ids with each text once per writer, and
read back as call.label, db.calls(fn, label=...), db.labels() and the CLI."""
import json

import pytest

import callmonitor
from callmonitor import _core
from callmonitor.capture.settings import CONFIG
from callmonitor.trace import labels
from _support import callmonitor_cli as cli, describe


@pytest.fixture
def no_label():
    """Whatever a test sets, the next one starts without a label."""
    labels.set_label(None)
    yield
    labels.set_label(None)
    CONFIG.label = None


@callmonitor.intercept
def step(x):
    return x + 1


def _stored_label_texts(run_dir):
    """Every writer's labels table (each text should be there once)."""
    reader = _core.RunReader(str(run_dir), False)
    return [reader.labels(w) for w in range(len(reader.writers))]


def test_each_call_carries_the_label_current_when_it_was_made(recorder, no_label):
    step(0)                                  # before any label
    for name in ["test_a|setup", "test_a|call", "test_b|call", "test_a|call"]:
        labels.set_label(name)
        for i in range(2):
            step(i)                          # one call site: its cached entry tail follows the label
    labels.set_label(None)
    step(9)
    db = recorder.load()
    assert [c.label for c in db.calls(step)] == [
        None, "test_a|setup", "test_a|setup", "test_a|call", "test_a|call", "test_b|call", "test_b|call",
        "test_a|call", "test_a|call", None]
    # labels are ids: each text is stored once, however many calls carry it
    (table,) = _stored_label_texts(recorder.run_dir)
    assert sorted(table) == ["test_a|call", "test_a|setup", "test_b|call"]


def test_a_new_session_registers_the_current_label_again(recorder, no_label):
    labels.set_label("long-test")
    step(1)
    callmonitor.close()                      # the next call opens a new session (new label ids)
    first = recorder.run_dir
    step(2)
    assert recorder.run_dir != first          # a run of its own
    db = recorder.load()
    assert [(c.args, c.label) for c in db.calls(step)] == [([2], "long-test")]
    assert _stored_label_texts(recorder.run_dir) == [["long-test"]]


def test_no_label_of_its_own_falls_back_to_the_sessions_and_empty_means_none(recorder, no_label):
    callmonitor.close()
    callmonitor.configure(output=str(recorder.base), label="experiment-7")
    step(1)
    labels.set_label("test_x|call")
    step(2)
    labels.set_label("")
    step(3)
    labels.set_label(None)
    step(4)
    db = recorder.load()
    assert [c.label for c in db.calls(step)] == ["experiment-7", "test_x|call", None, "experiment-7"]


def test_watch_label_labels_its_calls_until_unwatch(recorder, no_label, tmp_path, monkeypatch):
    (tmp_path / "lblpkg.py").write_text("def scale(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lblpkg
    with callmonitor.watch("lblpkg", label="study-1"):
        lblpkg.scale(1)
        labels.set_label("phase-2")
        lblpkg.scale(2)
    assert labels.current_label() == "phase-2"   # not the watch's own label: left as set
    labels.set_label(None)
    with callmonitor.watch("lblpkg", label="study-3"):
        lblpkg.scale(3)
    assert labels.current_label() is None        # unwatch takes its own label off
    db = recorder.load()
    assert [c.label for c in db.calls("lblpkg.scale")] == ["study-1", "phase-2", "study-3"]


def test_a_label_must_be_a_str_or_none(no_label):
    with pytest.raises(TypeError, match="a label is a str or None"):
        labels.set_label(3)
    with pytest.raises(TypeError):
        _core.set_label(3)


def _labelled_run(recorder):
    for name, n in [("t1|call", 3), ("t2|call", 2), ("t1|teardown", 1)]:
        labels.set_label(name)
        for i in range(n):
            step(10 * len(name) + i)
    labels.set_label(None)
    step(0)
    return recorder.load()


def test_db_calls_keeps_the_calls_of_a_label_and_db_labels_counts_them(recorder, no_label):
    db = _labelled_run(recorder)
    assert [c.label for c in db.calls(step, label="t2|call")] == ["t2|call"] * 2
    assert [c.args for c in db.calls("step", label="t2|call")] == [[70], [71]]
    assert len(list(db.calls(step, label=["t1|call", "t1|teardown"]))) == 4
    assert list(db.calls(step, label="no such label")) == []
    assert db.labels() == {"t1|call": 3, "t2|call": 2, "t1|teardown": 1, None: 1}
    assert db.labels(step) == db.labels()
    with pytest.raises(TypeError, match="label must be a str or a collection of str"):
        list(db.calls(step, label=3))


def test_db_call_with_a_label_counts_only_that_labels_calls(recorder, no_label):
    db = _labelled_run(recorder)
    assert db.call(step, 1, label="t2|call").args == [70]
    assert db.call(step, -1, label="t1|call").args == [72]
    with pytest.raises(IndexError, match=r"has 2 call\(s\) labelled t2\|call \(1..2"):
        db.call(step, 3, label="t2|call")
    with pytest.raises(IndexError, match="no recorded calls labelled nope"):
        db.call(step, 1, label="nope")


def test_cli_calls_show_and_summary_read_labels(recorder, no_label):
    db = _labelled_run(recorder)
    run_dir = recorder.run_dir
    db.close()
    proc = cli("calls", run_dir, "step", "--label", "t2|call", "--json")
    assert proc.returncode == 0, describe(proc)
    rows = json.loads(proc.stdout)["calls"]
    assert [(r["invocation"], r["label"]) for r in rows] == [(4, "t2|call"), (5, "t2|call")]
    proc = cli("calls", run_dir, "step", "--label", "t1|teardown")
    assert proc.returncode == 0, describe(proc)
    assert "t1|teardown" in proc.stdout and "1 call(s) shown" in proc.stdout
    proc = cli("show", run_dir, "step", "2", "--label", "t1|call")
    assert proc.returncode == 0, describe(proc)
    assert "step call #2" in proc.stdout and "label     t1|call" in proc.stdout
    proc = cli("show", run_dir, "step", "1", "--label", "nope")
    assert proc.returncode != 0 and "no recorded calls labelled nope" in proc.stderr
    proc = cli("summary", run_dir, "--json")
    assert json.loads(proc.stdout)["labels"] == [
        {"label": "t1|call", "calls": 3}, {"label": "t2|call", "calls": 2}, {"label": "t1|teardown", "calls": 1}]
    proc = cli("summary", run_dir)
    assert proc.returncode == 0, describe(proc)
    assert "3 label(s), 1 call(s) without one" in proc.stdout


def test_progress_with_an_unknown_total_on_a_terminal_counts_without_failing():
    # `calls --label` does not know how many calls carry the label before reading them
    import io
    from callmonitor.cli.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    progress = Progress("reading calls", stream=out, interval=0)
    for done in range(3):
        progress(done, 0)
    progress.close()
    assert "reading calls" in out.getvalue()


def _record_under_labels(recorder, name, labels_for_calls):
    callmonitor.close()
    callmonitor.configure(output=str(recorder.tmp_path / name))
    for label in labels_for_calls:
        labels.set_label(label)
        step(1)
    labels.set_label(None)
    db = recorder.load()
    return db.sizes["call_bytes"], db.labels()


def test_many_tests_making_the_same_calls_store_a_label_id_per_call_not_its_text(recorder, no_label):
    n = 2000
    one, counted_one = _record_under_labels(recorder, "one", ["tests/test_long_module_name.py::test_x|call"] * n)
    many, counted_many = _record_under_labels(
        recorder, "many", [f"tests/test_long_module_name.py::test_{i}|call" for i in range(n)])
    assert sum(counted_one.values()) == sum(counted_many.values()) == n and len(counted_many) == n
    # each record holds a varint id (1-2 bytes), not the ~45-byte text: the records grow by
    # at most a page or two, not by n * 45 bytes
    assert many <= one + 2 * 4096, (one, many)
