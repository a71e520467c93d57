"""Recorded calls as files: one call's inputs and outcome for any tool
(:func:`export_call`), and a function's calls as a pytest file (:func:`export_tests`).

export_call writes, per parameter and for the result::

    DIR/manifest.json        what each file holds (schema: docs/replay.md)
    DIR/arg_<name>.npy       arrays (numpy.load, no pickle needed)
    DIR/arg_<name>.json      plain values: None, bool, int, finite float, str,
                             lists and str-keyed dicts of those; a tuple of them
                             as a JSON list, its type named in the manifest
    DIR/arg_<name>.pkl       anything else, pickled
    DIR/result.<ext>         the return value, by the same rules
  or, with npz=True, one DIR/call.npz holding every value (arrays as they are,
  JSON as a 0-d str array, pickles as uint8 arrays) beside manifest.json.
"""
import io
import json
import math
import os
import pickle
import re
from typing import List, Optional

import numpy as np

from ..read.objects import RecordedObject, not_rebuilt_reason, recorded_class
from ..read.values import Unrestorable
from .compare import Rules, type_name
from .replay import Unreadable, select_calls

MANIFEST_FORMAT = "callmonitor-export"
MANIFEST_VERSION = 1


class ExportError(Exception):
    """The export cannot be written (the target exists, a value cannot be stored)."""


# -- one call ---------------------------------------------------------------------------

def _json_plain(v) -> bool:
    t = type(v)
    if t in (type(None), bool, int, str):
        return True
    if t is float:
        return math.isfinite(v)
    if t is list:
        return all(_json_plain(x) for x in v)
    if t is dict:
        return all(type(k) is str and _json_plain(x) for k, x in v.items())
    return False


def _encoding(v) -> str:
    if isinstance(v, np.ndarray) and v.dtype.kind != "O":
        return "npy"
    if _json_plain(v) or (type(v) is tuple and all(_json_plain(x) for x in v)):
        return "json"
    return "pickle"


_SUFFIX = {"npy": ".npy", "json": ".json", "pickle": ".pkl"}


def _payload(v, encoding) -> bytes:
    if encoding == "npy":
        buf = io.BytesIO()
        np.save(buf, v, allow_pickle=False)
        return buf.getvalue()
    if encoding == "json":
        return (json.dumps(list(v) if type(v) is tuple else v, indent=1) + "\n").encode()
    try:
        return pickle.dumps(v, protocol=4)
    except Exception as e:
        raise ExportError(f"a value of type {type_name(type(v))} cannot be pickled ({e})") from None


def _describe(v) -> dict:
    d = {"type": type_name(type(v))}
    if isinstance(v, (np.ndarray, np.generic)):
        d["dtype"] = v.dtype.str
        d["shape"] = list(np.shape(v))
    return d


def _named_inputs(call):
    """[(name, kind, value)]: bound to the recorded signature when it is known."""
    bound = call.bound
    if bound is None:
        return ([(f"args[{i}]", "positional", v) for i, v in enumerate(call.args)]
                + [(k, "keyword", v) for k, v in call.kwargs.items()])
    params = call.function.signature.parameters
    return [(name, params[name].kind.name.lower(), value)
            for name, value in bound.arguments.items()]


def _file_name(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _prepare_dir(to, force):
    if os.path.isdir(to) and os.listdir(to) and not force:
        raise ExportError(f"{to} exists and is not empty: give another --to, or --force to "
                          f"write into it")
    if os.path.exists(to) and not os.path.isdir(to):
        raise ExportError(f"{to} is a file, not a directory")
    os.makedirs(to, exist_ok=True)


def export_call(db, fn, n, to, *, npz=False, force=False, writer=None, rank=None, pid=None) -> dict:
    """Writes call `n` of `fn` into the directory `to`; returns the manifest."""
    call = db.call(fn, n, writer=writer, rank=rank, pid=pid)
    _prepare_dir(to, force)
    f = call.function
    entries, blobs = [], {}

    def add(name, kind, value, file_stem):
        entry = {"name": name, "kind": kind, **_describe(value)}
        if isinstance(value, Unrestorable):
            entry.update(type=value.type_name, unavailable=value.reason)
            return entry
        if isinstance(value, RecordedObject):  # its class's code is not run without opt-in
            entry.update(type=recorded_class(value), unavailable=not_rebuilt_reason(value))
            return entry
        encoding = _encoding(value)
        entry["encoding"] = encoding
        data = _payload(value, encoding)
        if npz:
            entry.update(file="call.npz", key=file_stem)
            blobs[file_stem] = (value if encoding == "npy" else
                                np.array(data.decode()) if encoding == "json" else
                                np.frombuffer(data, dtype=np.uint8))
        else:
            entry["file"] = file_stem + _SUFFIX[encoding]
            with open(os.path.join(to, entry["file"]), "wb") as out:
                out.write(data)
        return entry

    for name, kind, value in _named_inputs(call):
        entries.append(add(name, kind, value, "arg_" + _file_name(name)))
    manifest = {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
        "function": f.full_name, "module": f.module, "qualname": f.qualname,
        "signature": f.signature_text(), "invocation": call.invocation, "writer": call.writer,
        "rank": call.rank, "pid": call.pid, "duration_ns": call.duration_ns,
        "parameters": entries,
        "outcome": ("raised" if call.exception else "returned" if call.completed
                    else "did not return"),
        "result": None, "exception": None,
    }
    if call.exception is not None:
        manifest["exception"] = {"type": call.exception.type, "message": call.exception.message}
    elif call.completed:
        manifest["result"] = add("result", "result", call.result, "result")
    if npz:
        np.savez(os.path.join(to, "call.npz"), **blobs)
    with open(os.path.join(to, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=1)
        out.write("\n")
    return manifest


# -- regression tests -------------------------------------------------------------------

LITERAL_CHARS = 240     # longer literals go to the data folder
LITERAL_ELEMENTS = 32   # arrays with more elements go to the data folder


def _float_literal(x: float) -> str:
    if math.isnan(x):
        return 'float("nan")'
    if math.isinf(x):
        return 'float("inf")' if x > 0 else '-float("inf")'
    return repr(x)


def literal(v) -> Optional[str]:
    """Python source that rebuilds `v` exactly (type included), or None if `v`
    is not a builtin value, numpy scalar or small array (never an object's repr)."""
    t = type(v)
    if t in (type(None), bool, int, str, bytes):
        return repr(v)
    if t is float:
        return _float_literal(v)
    if t is complex:
        return f"complex({_float_literal(v.real)}, {_float_literal(v.imag)})"
    if t in (list, tuple, set, frozenset):
        maybe = [literal(x) for x in v]
        items = [i for i in maybe if i is not None]
        if len(items) != len(maybe):
            return None
        if t is list:
            return "[" + ", ".join(items) + "]"
        if t is tuple:
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        body = "{" + ", ".join(sorted(items)) + "}" if items else ""
        return (f"frozenset({body})" if t is frozenset else body) if items else f"{t.__name__}()"
    if t is dict:
        pairs = [(literal(k), literal(x)) for k, x in v.items()]
        if any(k is None or x is None for k, x in pairs):
            return None
        return "{" + ", ".join(f"{k}: {x}" for k, x in pairs) + "}"
    if isinstance(v, np.generic) and _literal_dtype(v.dtype):
        return f"np.{type(v).__name__}({literal(v.item())})"
    if isinstance(v, np.ndarray) and _literal_dtype(v.dtype) and v.size <= LITERAL_ELEMENTS:
        flat = literal(v.reshape(-1).tolist())
        text = f'np.array({flat}, dtype="{v.dtype.str}")'
        if v.ndim != 1 or v.size == 0:
            text += f".reshape({tuple(v.shape)!r})"
        if v.ndim > 1 and v.flags.f_contiguous and not v.flags.c_contiguous:
            text = f"np.asfortranarray({text})"
        return text
    return None


def _literal_dtype(dtype) -> bool:
    return dtype.kind in "biufc" and dtype.itemsize <= (16 if dtype.kind == "c" else 8) \
        and dtype.byteorder in "=|<"


def signature_key(args, kwargs):
    """What --distinct compares: the types, dtypes and shapes of the arguments."""
    return (tuple(_shape_key(a) for a in args),
            tuple((k, _shape_key(v)) for k, v in sorted(kwargs.items())))


def _shape_key(v, depth=0):
    if isinstance(v, np.ndarray):
        return ("ndarray", v.dtype.str, v.shape)
    t = type_name(type(v))
    if depth < 3 and isinstance(v, (list, tuple)):
        return (t, len(v), tuple(_shape_key(x, depth + 1) for x in v[:8]))
    if depth < 3 and isinstance(v, dict):
        return (t, tuple((str(k), _shape_key(x, depth + 1)) for k, x in list(v.items())[:16]))
    if isinstance(v, np.generic):
        return (t, v.dtype.str)
    return t


class _TestWriter:
    """Turns values into source: literals, or `data("...")` of a file it writes."""

    def __init__(self, data_dir, data_name):
        self.data_dir, self.data_name = data_dir, data_name
        self.files = {}      # path in the data folder -> bytes
        self._stored = {}    # bytes -> path

    def value(self, v, case, name) -> str:
        text = literal(v)
        if text is not None and len(text) <= LITERAL_CHARS:
            return text
        if isinstance(v, Unrestorable):
            raise ExportError(f"{name} was not restorable ({v.reason})")
        if isinstance(v, RecordedObject):
            raise ExportError(f"{name} was not restorable ({not_rebuilt_reason(v)})")
        encoding = "npy" if isinstance(v, np.ndarray) and v.dtype.kind != "O" else "pickle"
        payload = _payload(v, encoding)
        rel = self._stored.get(payload)   # a value recorded again is written once
        if rel is None:
            rel = f"{case}/{_file_name(name)}{_SUFFIX[encoding]}"
            self.files[rel] = payload
            self._stored[payload] = rel
        return f'data("{rel}")'

    def forget(self, case):
        """Drops the files of a case that could not be exported after all."""
        for rel in [r for r in self.files if r.startswith(case + "/")]:
            self._stored.pop(self.files.pop(rel))

    def write_files(self):
        for rel, data in sorted(self.files.items()):
            path = os.path.join(self.data_dir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)


def _exception_type(name: str, function, out_dir) -> str:
    """Source for the recorded exception type: a builtin by name, others found
    as replay finds functions."""
    import builtins
    if "." not in name and isinstance(getattr(builtins, name, None), type):
        return name
    module, _, qualname = name.rpartition(".")
    file = function.file if module == "__main__" else ""
    while module and "." in module and not _importable(module):   # Outer.Inner classes
        module, _, outer = module.rpartition(".")
        qualname = f"{outer}.{qualname}"
    return _find_source(module, qualname, file, out_dir)


def _importable(module):
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _find_source(module, qualname, file, out_dir, line=0):
    """Source that finds a recorded function or class (a script's by its path:
    relative to the test file when it is near it, else absolute); with `line`,
    the definition made at that line (a name defined several times)."""
    site = f", line={line!r}, shadowed=True" if line else ""
    if module == "__main__" and file:
        path = os.path.abspath(file)
        rel = os.path.relpath(path, out_dir)
        near = os.path.commonpath([path, out_dir]) != os.path.dirname(os.sep)
        if near and rel.split(os.sep)[:3].count("..") < 3:   # they move together
            return f"find_function({module!r}, {qualname!r}, HERE / {rel!r}{site})"
        return f"find_function({module!r}, {qualname!r}, {path!r}{site})"
    return f"find_function({module!r}, {qualname!r}{site})"


def export_tests(db, fn, to, numbers=None, *, distinct=False, max_calls=None, rules=Rules(),
                 force=False, writer=None, rank=None, pid=None, progress=None) -> dict:
    """Writes a pytest file `to` (and its data folder beside it) with one case
    per chosen call of `fn`; returns counts. The same database gives the same files."""
    to = os.fspath(to)
    if os.path.exists(to) and not force:
        raise ExportError(f"{to} exists: give another --to, or --force to overwrite it")
    out_dir = os.path.dirname(os.path.abspath(to))
    stem = os.path.splitext(os.path.basename(to))[0]
    data_name = f"{stem}_data"
    data_dir = os.path.join(out_dir, data_name)
    if os.path.exists(data_dir) and os.listdir(data_dir) and not force:
        raise ExportError(f"{data_dir} exists: give another --to, or --force to overwrite it")
    writer_src = _TestWriter(data_dir, data_name)
    returns: List[str] = []
    raises: List[str] = []
    skipped: List[tuple] = []
    seen: set = set()
    function = None
    db.functions   # names each FunctionInfo's definition (unique_name: NAME@LINE when shadowed)
    several = len({f.writer for f in db.find(fn, writer=writer, rank=rank, pid=pid)}) > 1
    for call in select_calls(db, fn, numbers, writer=writer, rank=rank, pid=pid):
        function = function or call.function
        if function.kind == "partial":
            raise ExportError(f"{function.full_name} was recorded through a functools.partial, "
                              f"whose bound arguments are not recorded: tests cannot call it")
        case = (f"{_file_name(call.writer)}_call_{call.invocation}" if several
                else f"call_{call.invocation}")
        if progress is not None:
            progress(len(returns) + len(raises) + len(skipped) + 1)
        if type(call) is Unreadable:
            skipped.append((case, call.error))
            continue
        if distinct:
            key = signature_key(call.args, call.kwargs)
            if key in seen:
                continue
            seen.add(key)
        if not call.completed:
            skipped.append((case, "the recorded call never returned"))
            continue
        if getattr(call, "outcome", None) == "result-skipped":
            skipped.append((case, "its result was not recorded"))
            continue
        try:
            args = ", ".join(writer_src.value(v, case, f"arg{i}") for i, v in enumerate(call.args))
            args = f"({args}{',' if len(call.args) == 1 else ''})"
            kwargs = "{" + ", ".join(f"{k!r}: {writer_src.value(v, case, 'kw_' + k)}"
                                     for k, v in call.kwargs.items()) + "}"
            if call.exception is not None:
                exc = _exception_type(call.exception.type, call.function, out_dir)
                raises.append(f"    pytest.param({args}, {kwargs}, {exc}, "
                              f"{call.exception.message!r}, id={case!r}),")
            else:
                expected = writer_src.value(call.result, case, "result")
                returns.append(f"    pytest.param({args}, {kwargs}, {expected}, id={case!r}),")
        except ExportError as e:
            writer_src.forget(case)
            skipped.append((case, str(e)))
            continue
        if max_calls is not None and len(returns) + len(raises) >= max_calls:
            break
    if function is None:
        raise ExportError(f"no calls of {fn} were chosen")
    source = _test_source(function, returns, raises, skipped, data_name, rules,
                          bool(writer_src.files), out_dir)
    if os.path.isdir(data_dir) and force:
        import shutil
        shutil.rmtree(data_dir)
    writer_src.write_files()
    with open(to, "w") as f:
        f.write(source)
    return {"file": to, "cases": len(returns) + len(raises), "returning": len(returns),
            "raising": len(raises), "skipped": skipped,
            "data_files": len(writer_src.files), "data_dir": data_dir if writer_src.files else None}


def _count(n, what):
    return f"{n} {what}{'s' if n != 1 else ''}"


def _test_source(function, returns, raises, skipped, data_name, rules, has_data, out_dir) -> str:
    name = re.sub(r"\W", "_", function.qualname.replace(".", "_"))
    file_arg = function.file if function.module == "__main__" else ""
    # Several definitions of the name (NAME@LINE): the tests find the recorded one.
    shadowed_line = getattr(function, "line", 0) if getattr(function, "unique_name", function.full_name) \
        != function.full_name else 0
    lines = [
        f'"""Regression tests of {function.full_name}, generated by `callmonitor export-tests`',
        f"from {_count(len(returns) + len(raises), 'recorded call')} (one case per call, ids call_N).",
        "",
        "Each case calls the function with a recorded call's arguments and compares",
        "the outcome with the recorded one by callmonitor's replay rules",
        "(callmonitor.analyse.compare: types, dtypes and shapes strictly, floats within",
        "per-dtype tolerances). Needs callmonitor and numpy installed"
        + (f"; larger values are in {data_name}/ beside this file." if has_data else "."),
        '"""',
        "import pathlib",
    ]
    uses_numpy = has_data or any("np." in line for line in returns + raises)
    lines += ["import pickle"] if has_data else []
    lines += ["import re"] if raises else []
    lines += ["", "import numpy as np"] if uses_numpy else [""]
    lines += [
        "import pytest",
        "",
        "from callmonitor.analyse.compare import assert_equivalent",
        "from callmonitor.analyse.replay import find_function, recording_paused",
        "",
        "HERE = pathlib.Path(__file__).resolve().parent",
    ]
    lines += [f"DATA = HERE / {data_name!r}"] if has_data else []
    lines += [
        f"FUNCTION = {_find_source(function.module, function.qualname, file_arg, out_dir, shadowed_line)}",
        f"RULES = dict(rtol={rules.rtol!r}, atol={rules.atol!r}, loose_dtype={rules.loose_dtype!r})",
        "",
        "",
        "@pytest.fixture(autouse=True)",
        "def no_recording():",
        '    """The function\'s own @intercept calls record nothing while tested."""',
        "    with recording_paused():",
        "        yield",
    ]
    if has_data:
        lines += [
            "",
            "",
            "def data(name):",
            '    """A value too large for a literal, from the data folder."""',
            "    path = DATA / name",
            '    if path.suffix == ".npy":',
            "        return np.load(path, allow_pickle=False)",
            '    with open(path, "rb") as f:',
            "        return pickle.load(f)",
        ]
    if skipped:
        lines += ["", "", "# Calls left out:"] + [f"#   {case}: {why}" for case, why in skipped]
    if returns:
        lines += ["", "", "RETURNS = ["] + returns + ["]", "", "",
                  '@pytest.mark.parametrize("args, kwargs, expected", RETURNS)',
                  f"def test_{name}_returns(args, kwargs, expected):",
                  "    assert_equivalent(expected, FUNCTION(*args, **kwargs), **RULES)"]
    if raises:
        lines += ["", "", "RAISES = ["] + raises + ["]", "", "",
                  '@pytest.mark.parametrize("args, kwargs, exception, message", RAISES)',
                  f"def test_{name}_raises(args, kwargs, exception, message):",
                  '    with pytest.raises(exception, match=rf"\\A{re.escape(message)}\\Z"):',
                  "        FUNCTION(*args, **kwargs)"]
    return "\n".join(lines) + "\n"
