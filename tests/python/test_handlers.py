"""REGISTRY: new-style encode/decode handlers, 0.3-style save/load handlers, lookup by MRO."""
import json
import os
import textwrap

import numpy as np

import callmonitor
import sample_functions as sf
from callmonitor import REGISTRY, Handler
from _support import check


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


class Point3(Point):
    def __init__(self, x, y, z):
        super().__init__(x, y)
        self.z = z


class PointHandler:
    encoded = []

    def encode(self, obj):
        PointHandler.encoded.append(type(obj))
        return json.dumps([type(obj).__name__, vars(obj)]).encode()

    def decode(self, data):
        name, state = json.loads(bytes(data).decode())
        cls = {"Point": Point, "Point3": Point3}[name]
        obj = cls.__new__(cls)
        vars(obj).update(state)
        return obj


def test_new_style_handler_roundtrip_without_pickle(recorder):
    REGISTRY.add(Point, PointHandler)
    PointHandler.encoded.clear()
    sf.sink(Point(1, 2))   # result=False: only the argument is encoded
    # Point is a module-level class: were it pickled it would come back as
    # Unrestorable (allow_pickle is off), so a Point proves the handler ran.
    loaded = recorder.load().get(sf.sink, 1)[0][0]
    assert type(loaded) is Point and loaded == Point(1, 2)
    assert PointHandler.encoded == [Point]


def test_handler_found_through_mro_for_subclass(recorder):
    REGISTRY.add(Point, PointHandler)
    PointHandler.encoded.clear()
    sf.sink([Point3(1, 2, 3)])
    loaded = recorder.load().get(sf.sink, 1)[0][0][0]
    assert PointHandler.encoded == [Point3]
    assert type(loaded) is Point3 and (loaded.x, loaded.y, loaded.z) == (1, 2, 3)
    assert REGISTRY.get(Point3) is PointHandler


def test_registry_repr_lists_type_handler_pairs():
    REGISTRY.add(Point, PointHandler)
    text = repr(REGISTRY)
    assert "numpy.ndarray" in text and "NDArrayHandler" in text
    assert "Point" in text and "PointHandler" in text
    assert text.index("Point") < text.index("PointHandler")      # type, then its handler
    assert REGISTRY.get(np.ndarray) is callmonitor.NDArrayHandler


def test_registry_add_rejects_non_handler():
    class NotAHandler:
        pass

    import pytest
    with pytest.raises(TypeError):
        REGISTRY.add(Point, NotAHandler)


def test_legacy_handler_base_class_has_the_03_interface():
    h = Handler("payload", 3)
    assert (h.data, h.target) == ("payload", 3)
    h.data = "other"
    assert h.data == "other"
    assert callable(Handler.accumulator_done)


# -- callmonitor 0.3 style handlers, in separate processes -------------------------------

LEGACY_MODULE = '''
import os
from os.path import join

from callmonitor import Handler


class Blob:
    def __init__(self, payload):
        self.payload = payload

    def __repr__(self):
        return f"Blob({self.payload!r})"


class BlobHandler(Handler):
    def save(self, path):
        with open(join(path, f"blob_{self.target}.txt"), "w") as f:
            f.write(self.data.payload)

    def load(self, path):
        with open(join(path, f"blob_{self.target}.txt")) as f:
            self.data = Blob(f.read())

    @classmethod
    def accumulator_done(cls):
        with open(os.environ["ACCUMULATOR_MARKER"], "a") as f:
            f.write("accumulator_done\\n")
'''

RECORD = '''
from callmonitor import REGISTRY, intercept
from legacy_blob import Blob, BlobHandler

REGISTRY.add(Blob, BlobHandler)

@intercept
def take(b, k=None):
    return 0

take(Blob("first"), k=Blob("keyword"))
take(Blob("second"))
print("recorded")
'''


def _record_legacy(tmp_path, run_recorder):
    (tmp_path / "legacy_blob.py").write_text(textwrap.dedent(LEGACY_MODULE))
    marker = tmp_path / "marker.txt"
    proc = check(run_recorder(RECORD, tmp_path, env={"ACCUMULATOR_MARKER": marker}, timeout=30))
    assert proc.stdout == "recorded\n"
    return marker


def test_legacy_handler_saves_files_and_accumulator_done_runs_at_exit(tmp_path, run_recorder):
    marker = _record_legacy(tmp_path, run_recorder)
    assert marker.read_text() == "accumulator_done\n"              # once, at exit
    writer = tmp_path / "call-monitor" / "main"
    files = sorted(str(p.relative_to(writer)) for p in writer.rglob("blob_*.txt"))
    assert files == ["handlers/take/1/blob_0.txt", "handlers/take/1/blob_k.txt",
                     "handlers/take/2/blob_0.txt"]
    assert (writer / "handlers/take/1/blob_k.txt").read_text() == "keyword"


def test_legacy_handler_roundtrip_in_a_reading_process(tmp_path, run_recorder):
    _record_legacy(tmp_path, run_recorder)
    proc = check(run_recorder('''
        import callmonitor
        from legacy_blob import Blob, BlobHandler
        callmonitor.REGISTRY.add(Blob, BlobHandler)
        db = callmonitor.load("call-monitor")
        args, kwargs = db.get("take", 1)
        print(type(args[0]).__name__, args[0].payload, type(kwargs["k"]).__name__, kwargs["k"].payload)
        args, kwargs = db.get("take", 2)
        print(type(args[0]).__name__, args[0].payload, kwargs)
    ''', tmp_path))
    assert proc.stdout == "Blob first Blob keyword\nBlob second {}\n"


def test_reading_without_the_handler_registered_gives_an_unrestorable_naming_the_class(tmp_path, run_recorder):
    # Per-value failure: the call loads, the value says which handler to register.
    _record_legacy(tmp_path, run_recorder)
    proc = check(run_recorder('''
        import callmonitor
        db = callmonitor.load("call-monitor")
        args, kwargs = db.get("take", 1)
        print(type(args[0]).__name__, "|", args[0].reason)
    ''', tmp_path))
    assert proc.stdout.startswith("Unrestorable | "), proc.stdout
    assert "BlobHandler" in proc.stdout and "REGISTRY.add" in proc.stdout


def test_new_style_handler_not_registered_when_reading(tmp_path, run_recorder):
    (tmp_path / "pt_handler.py").write_text(textwrap.dedent('''
        class P:
            def __init__(self, v):
                self.v = v

        class PHandler:
            def encode(self, obj):
                return str(obj.v).encode()

            def decode(self, data):
                return P(int(bytes(data)))
    '''))
    check(run_recorder('''
        from callmonitor import REGISTRY, intercept
        from pt_handler import P, PHandler
        REGISTRY.add(P, PHandler)
        intercept(lambda p: None)(P(41))
    ''', tmp_path))
    proc = check(run_recorder('''
        import callmonitor
        db = callmonitor.load("call-monitor")
        fn = db.functions[0]
        (value,), _ = db.get(f"{fn.module}.{fn.qualname}", 1)
        print("unrestorable", "PHandler" in value.reason)
        from pt_handler import P, PHandler
        callmonitor.REGISTRY.add(P, PHandler)
        print("same db", db.get(f"{fn.module}.{fn.qualname}", 1)[0][0].v)
        db2 = callmonitor.load("call-monitor")
        print("new db", db2.get(f"{fn.module}.{fn.qualname}", 1)[0][0].v)
    ''', tmp_path))
    assert proc.stdout == "unrestorable True\nsame db 41\nnew db 41\n"


def test_failing_handler_is_a_capture_error_logged_once_never_raised(tmp_path, run_recorder):
    # GIVEN a handler whose encode raises, WHEN the program passes such values 3 times,
    # THEN every call runs normally, one log line, counted as capture errors, and the
    # value reads back as an Unrestorable placeholder.
    proc = run_recorder('''
        import callmonitor
        from callmonitor import REGISTRY, intercept

        class Thing:
            def __repr__(self):
                return "<Thing>"

        class BrokenHandler:
            def encode(self, obj):
                raise RuntimeError("encoder exploded")

            def decode(self, data):
                raise AssertionError("never called")

        REGISTRY.add(Thing, BrokenHandler)

        @intercept
        def f(x, y):
            return y + 1

        print([f(Thing(), i) for i in range(3)])
        callmonitor.flush()
        stats = callmonitor.stats()
        print(stats["capture_errors"] + stats["opaque"])
    ''', tmp_path)
    check(proc)
    out = proc.stdout.splitlines()
    assert out[0] == "[1, 2, 3]"
    assert int(out[1]) >= 1                # counted (as a capture error or a placeholder)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "callmonitor" in lines[0]
    assert "Traceback" not in proc.stderr
    with callmonitor.load(tmp_path / "call-monitor") as db:
        calls = list(db.calls("f"))
        assert [c.args[1] for c in calls] == [0, 1, 2]
        assert all(isinstance(c.args[0], callmonitor.Unrestorable) for c in calls)
        assert calls[0].args[0].type_name.endswith("Thing")
