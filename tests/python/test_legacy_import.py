"""callmonitor 0.3 databases (the fixtures written by the real 0.3 in
../shared/fixtures/legacy-callmonitor/): load(OLD) reads every invocation back
equal to expected.json, and `callmonitor import-legacy OLD NEW` writes a
database that loads back equal too. Both 0.3 versions, one process and three
ranks, snapshots and the empty database."""
import glob
import json
import os
import pickle
import shutil

import numpy as np
import pytest

import callmonitor
from callmonitor.read.legacy import LegacyDatabase
from _support import assert_same, callmonitor_cli as cli, check, describe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "..", "shared", "fixtures", "legacy-callmonitor")
SCENARIOS = sorted(glob.glob(os.path.join(FIXTURES, "v0.3.*", "*", "expected.json")))


def test_fixtures_are_present():
    assert os.path.isdir(FIXTURES), f"the legacy fixtures are missing: {FIXTURES}"
    names = {os.path.relpath(os.path.dirname(p), FIXTURES) for p in SCENARIOS}
    assert names == {"v0.3.6-4bada3f/single-process", "v0.3.6-4bada3f/three-ranks",
                     "v0.3.7-38fa74c/single-process", "v0.3.7-38fa74c/three-ranks"}, names


# -- expected.json values -> Python values ---------------------------------------------

def _decode(v):
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    (tag, x), = v.items()
    if tag == "int":
        return int(x)
    if tag == "float":
        return float(x)
    if tag in ("tuple", "set", "frozenset"):
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](_decode(i) for i in x)
    if tag == "dict":
        return {_decode(k): _decode(val) for k, val in x}
    if tag in ("bytes", "bytearray"):
        return (bytes if tag == "bytes" else bytearray)(bytes.fromhex(x))
    if tag == "complex":
        return complex(_decode(x[0]), _decode(x[1]))
    if tag == "type":
        return x   # compared as text: annotations are stored as their names
    if tag == "ndarray":
        dtype = np.dtype(x["dtype"])
        return np.frombuffer(bytes.fromhex(x["hex"]), dtype=dtype).reshape(x["shape"]).copy()
    if tag == "npscalar":
        return np.frombuffer(bytes.fromhex(x["hex"]), dtype=np.dtype(x["dtype"]))[0]
    raise AssertionError(f"unknown tag {tag!r} in expected.json")


def _cases():
    for path in SCENARIOS:
        scenario = os.path.dirname(path)
        with open(path, encoding="utf-8") as f:
            expected = json.load(f)
        for folder, db in expected["databases"].items():
            yield pytest.param(os.path.join(scenario, folder), db,
                               id=f"{os.path.relpath(scenario, FIXTURES)}/{folder}")


CASES = list(_cases())


def _annotation_text(a):
    return a["type"].replace("builtins.", "") if isinstance(a, dict) else a


def _check_database(db, expected):
    names = [f.qualname for f in db.functions]
    assert names == list(expected["functions"]), names
    assert {f.qualname: f.calls for f in db.functions} == expected["counter"]
    calls = 0
    for name, fn in expected["functions"].items():
        info = next(f for f in db.functions if f.qualname == name)
        spec = info.argspec
        want = fn["argspec"]
        assert spec.args == want["args"] and spec.varargs == want["varargs"] and spec.varkw == want["varkw"]
        assert spec.kwonlyargs == want["kwonlyargs"]
        assert_same(_decode(want["defaults"]) and tuple(_decode(want["defaults"])), spec.defaults,
                    f"{name} defaults")
        want_kwdefaults = {k: _decode(v) for k, v in (want["kwonlydefaults"] or {}).items()}
        assert_same(want_kwdefaults or None, spec.kwonlydefaults or None, f"{name} kwonlydefaults")
        assert {k: str(v) for k, v in spec.annotations.items()} == \
            {k: _annotation_text(v) for k, v in want["annotations"].items()}
        for c in fn["calls"]:
            args, kwargs = db.get(name, c["n"])
            assert_same(_decode(c["args"]), args, f"{name}/{c['n']} args")
            assert_same({k: _decode(v) for k, v in c["kwargs"].items()}, kwargs, f"{name}/{c['n']} kwargs")
            by_name = vars(db.get_args(name, c["n"]))
            for param, value in c["by_name"].items():
                assert_same(_decode(value), by_name[param], f"{name}/{c['n']}.{param}")
            calls += 1
        assert [call.invocation for call in db.calls(name)] == [c["n"] for c in fn["calls"]]
    assert len(db) == calls
    return calls


@pytest.mark.parametrize("folder, expected", CASES)
def test_load_reads_every_invocation_of_a_legacy_database_exactly(folder, expected):
    db = callmonitor.load(folder)
    assert isinstance(db, LegacyDatabase)
    assert db.version == tuple(expected["version"]) and db.locked is expected["locked"]
    _check_database(db, expected)


@pytest.mark.parametrize("folder, expected", CASES)
def test_import_legacy_writes_a_database_that_loads_back_equal(folder, expected, tmp_path):
    new = tmp_path / "imported"
    proc = check(cli("import-legacy", folder, new))
    assert "imported into" in proc.stdout
    with callmonitor.load(new) as db:
        assert not isinstance(db, LegacyDatabase)
        assert _check_database(db, expected) == sum(expected["counter"].values())


def test_all_fixture_invocations_are_covered():
    total = sum(len(fn["calls"]) for _, exp in (c.values for c in CASES)
                for fn in exp["functions"].values())
    assert total == 134, total   # the fixtures' README: 67 invocations per version


def test_writer_names_come_from_the_0_3_folder_suffixes(tmp_path):
    v036 = os.path.join(FIXTURES, "v0.3.6-4bada3f", "three-ranks")
    v037 = os.path.join(FIXTURES, "v0.3.7-38fa74c", "three-ranks")
    check(cli("import-legacy", v036, tmp_path / "a"))
    with callmonitor.load(tmp_path / "a") as db:
        assert db.writers == ["tid-0", "tid-1", "tid-2"] and db.ranks == [0, 1, 2]
        assert [c.invocation for c in db.calls("counted", rank=1)] == list(range(1, 7))
    check(cli("import-legacy", v037, tmp_path / "b"))
    with callmonitor.load(tmp_path / "b") as db:
        assert db.writers == ["pid-0-tident-0", "pid-1-tident-0", "pid-2-tident-0"]
        assert [w["pid"] for w in db.writer_info()] == [0, 1, 2]


def test_snapshots_of_one_writer_cannot_go_into_one_database(tmp_path):
    scenario = os.path.join(FIXTURES, "v0.3.6-4bada3f", "single-process")
    proc = cli("import-legacy", scenario, tmp_path / "new")
    assert proc.returncode == 1, describe(proc)
    assert "separate databases" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "new").exists()


def test_import_legacy_never_overwrites(tmp_path):
    old = os.path.join(FIXTURES, "v0.3.6-4bada3f", "single-process", "call-monitor-1")
    (tmp_path / "new").mkdir()
    proc = cli("import-legacy", old, tmp_path / "new")
    assert proc.returncode == 1 and "never overwrites" in proc.stderr, describe(proc)


def test_cli_commands_read_a_legacy_database_directly():
    old = os.path.join(FIXTURES, "v0.3.6-4bada3f", "single-process", "call-monitor")
    out = check(cli("summary", old)).stdout
    assert "arrays" in out and "36 calls" in out, out
    shown = check(cli("show", old, "annotated", 2)).stdout
    assert "arr = ndarray <f8 shape=(2, 2) order=C float64" in shown and "[0., 1.]])" in shown, shown
    assert "outcome   not recorded" in shown, shown
    listed = json.loads(check(cli("calls", old, "counted", "--json")).stdout)
    assert [c["invocation"] for c in listed["calls"]] == list(range(1, 8))
    assert {c["outcome"] for c in listed["calls"]} == {"not-recorded"}


# -- the restricted unpickler ------------------------------------------------------------

def _legacy_copy(tmp_path):
    src = os.path.join(FIXTURES, "v0.3.6-4bada3f", "single-process", "call-monitor")
    dst = tmp_path / "call-monitor"
    shutil.copytree(src, dst)
    return dst


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_hostile_global_in_a_legacy_pickle_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hostile = tmp_path / "hostile.pkl"
    hostile.write_bytes(pickle.dumps(Evil(), protocol=4))
    from callmonitor.read.legacy import _unpickle
    value = _unpickle(str(hostile), allow_pickle=False)
    assert type(value).__module__ == "posix" and type(value).__qualname__ == "system"
    assert not (tmp_path / "pwned").exists()


def test_a_user_class_comes_back_as_unrestorable_naming_it(tmp_path):
    db_dir = _legacy_copy(tmp_path)
    descriptor = db_dir / "misc" / "1" / "input_descriptor.pkl"
    with open(descriptor, "rb") as f:
        data = f.read()
    # Replace the bytes argument's class reference: builtins.bytes is not a global in
    # protocol 4, so patch in a user class by re-pickling a descriptor with a stand-in.
    from callmonitor.read import legacy
    d = legacy._unpickle(str(descriptor), allow_pickle=False)
    assert isinstance(d["args"][0], legacy.LegacyDefaultHandler)
    forged = data.replace(b"\x8c\x08builtins\x94\x8c\tbytearray", b"\x8c\x08mymodule\x94\x8c\tbytearray")
    assert forged != data
    with open(descriptor, "wb") as f:
        f.write(forged)
    db = callmonitor.load(db_dir)
    args, kwargs = db.get("misc", 1)
    assert isinstance(kwargs["y"], callmonitor.Unrestorable), kwargs
    assert kwargs["y"].type_name == "mymodule.bytearray"
    assert "allow_pickle=True" in kwargs["y"].reason
    proc = cli("import-legacy", db_dir, tmp_path / "new")
    assert proc.returncode == 1 and "mymodule.bytearray" in proc.stderr, describe(proc)
    assert "--allow-pickle" in proc.stderr and not (tmp_path / "new").exists()


def test_allow_pickle_imports_a_trusted_databases_own_classes(tmp_path):
    db_dir = _legacy_copy(tmp_path)
    descriptor = db_dir / "misc" / "1" / "input_descriptor.pkl"
    data = descriptor.read_bytes()
    descriptor.write_bytes(data.replace(b"\x8c\x08builtins\x94\x8c\tbytearray",
                                        b"\x8c\x08mymodule\x94\x8c\tbytearray"))
    (tmp_path / "mymodule.py").write_text("bytearray = bytearray\n")
    proc = cli("import-legacy", db_dir, tmp_path / "new", "--allow-pickle", cwd=tmp_path,
               env={"PYTHONPATH": tmp_path})
    check(proc)
    with callmonitor.load(tmp_path / "new") as db:
        assert db.get("misc", 1)[1] == {"y": bytearray(b"ba")}


def test_a_truncated_pickle_is_a_corrupt_error_naming_the_file(tmp_path):
    db_dir = _legacy_copy(tmp_path)
    descriptor = db_dir / "counted" / "3" / "input_descriptor.pkl"
    descriptor.write_bytes(descriptor.read_bytes()[:20])
    db = callmonitor.load(db_dir)
    with pytest.raises(callmonitor.CorruptError, match="counted/3/input_descriptor.pkl"):
        db.get("counted", 3)
    proc = cli("show", db_dir, "counted", 3)
    assert proc.returncode == 1 and "input_descriptor.pkl" in proc.stderr, describe(proc)
    assert "Traceback" not in proc.stderr


def test_a_database_without_db_pkl_is_recovered_from_its_call_folders(tmp_path):
    db_dir = _legacy_copy(tmp_path)
    os.unlink(db_dir / "db.pkl")
    db = callmonitor.load(db_dir)
    assert {f.qualname: f.calls for f in db.functions}["counted"] == 7
    with open(os.path.join(FIXTURES, "v0.3.6-4bada3f", "single-process", "expected.json")) as f:
        expected = json.load(f)["databases"]["call-monitor"]["functions"]["counted"]["calls"]
    for c in expected:
        args, kwargs = db.get("counted", c["n"])
        assert_same(_decode(c["args"]), args)
        assert_same({k: _decode(v) for k, v in c["kwargs"].items()}, kwargs)


def test_a_folder_of_0_3_databases_says_which_to_open_or_how_to_convert():
    scenario = os.path.join(FIXTURES, "v0.3.6-4bada3f", "three-ranks")
    with pytest.raises(callmonitor.NotADatabaseError, match=r"call-monitor-tid=0.*import-legacy"):
        callmonitor.load(scenario)
    proc = cli("summary", scenario)
    assert proc.returncode == 1 and "import-legacy" in proc.stderr, describe(proc)


def test_legacy_get_range_and_type_errors_say_what_to_give():
    db = callmonitor.load(os.path.join(FIXTURES, "v0.3.6-4bada3f", "single-process", "call-monitor"))
    with pytest.raises(IndexError, match=r"1\.\.7"):
        db.get("counted", 8)
    with pytest.raises(TypeError, match="must be an int"):
        db.get("counted", "1")
    with pytest.raises(callmonitor.UnknownFunctionError, match="counted"):
        db.get("nope", 1)
    args, _ = db.get("counted", -1)
    assert args == db.get("counted", 7)[0]
