"""How commands present recorded values: as text for people (``show``, the
argument preview of ``calls``) and as JSON for scripts (``--json``; the
schema is in docs/cli-json.md).

Text: builtins print as Python literals, numpy scalars keep their type
(``float32(2.0)``), arrays use numpy's own printing (summarised unless
`full`), containers keep their order (dict keys as recorded) and break over
indented lines when they do not fit. Shared and cyclic structures (the
reader restores back-references) and very deep nesting are cut, never
followed forever.
"""
import math
import sys

from ..read.objects import RecordedObject, recorded_class, recorded_state
from ..read.values import Unrestorable

try:
    import numpy
except ImportError:  # reading does not need numpy unless arrays were recorded
    numpy = None  # type: ignore[assignment]

WIDTH = 88           # a value whose one-line form is longer breaks over lines
MAX_ITEMS = 100      # container items shown without --full
MAX_STRING = 2000    # characters of a str/bytes shown without --full
MAX_DEPTH = 40       # nesting shown at most
JSON_ARRAY_ITEMS = 1000  # array elements written to JSON without --full

_OPEN_CLOSE = {list: ("[", "]"), tuple: ("(", ")"), set: ("{", "}"), frozenset: ("frozenset({", "})"),
               dict: ("{", "}")}


def duration_text(seconds):
    """A duration in readable units: ``850 ns``, ``12.3 µs``, ``4.56 ms``, ``1.23 s``, ``2 min 3 s``."""
    if seconds is None:
        return "-"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _is_array(v):
    return numpy is not None and isinstance(v, numpy.ndarray)


def _is_npscalar(v):
    return numpy is not None and isinstance(v, numpy.generic)


def array_header(a):
    """``ndarray <f8 shape=(64, 64) order=C float64  min=0 max=100 mean=6.25``."""
    order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    text = f"ndarray {a.dtype.str} shape={a.shape} order={order} {a.dtype}"
    if a.size and a.dtype.kind in "biuf":
        with numpy.errstate(all="ignore"):
            text += f"  min={a.min():.6g} max={a.max():.6g} mean={a.mean():.6g}"
    return text


def _array_text(a, full):
    options = {"threshold": sys.maxsize} if full else {}
    with numpy.printoptions(**options):
        return numpy.array_repr(a)


def _scalar_text(v):
    """numpy scalars with their type: ``float32(2.0)``, ``int16(-3)``, ``bool_(True)``."""
    try:
        inner = repr(v.item())
    except Exception:
        inner = str(v)
    return f"{type(v).__name__}({inner})"


def _cut(text, full, limit=MAX_STRING):
    if full or len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more characters)"


class _Printer:
    def __init__(self, full):
        self.full = full
        self.path = set()   # ids of the containers being printed (cycles)

    def atom(self, v):
        """The text of a value that is not a container (may hold newlines: arrays)."""
        if isinstance(v, Unrestorable):
            return f"<Unrestorable {v.type_name}: {_cut(str(v.repr), self.full, 120)}>"
        if _is_array(v):
            return _array_text(v, self.full)
        if _is_npscalar(v):
            return _scalar_text(v)
        if isinstance(v, (str, bytes, bytearray)):
            return _cut(repr(v), self.full)
        try:
            return _cut(repr(v), self.full, 300)
        except Exception as e:  # a user type's broken __repr__
            return f"<{type(v).__module__}.{type(v).__qualname__} (repr failed: {e})>"

    def items(self, v):
        """[(key text or None, value)] of a container, in order."""
        if isinstance(v, dict):
            return [(self.inline(k, 1), x) for k, x in v.items()]
        return [(None, x) for x in v]

    def inline(self, v, depth=0):
        """One-line text of `v`, or None when it cannot be one line."""
        kind = type(v)
        if kind not in _OPEN_CLOSE:
            text = self.atom(v)
            return None if "\n" in text else text
        if depth > MAX_DEPTH:
            return "..."
        if id(v) in self.path:
            return "<cycle>"
        open_, close = _OPEN_CLOSE[kind]
        if not v:
            return {set: "set()", frozenset: "frozenset()"}.get(kind, open_ + close)
        entries = self.items(v)
        if not self.full and len(entries) > MAX_ITEMS:
            return None
        self.path.add(id(v))
        try:
            parts = []
            for key, x in entries:
                t = self.inline(x, depth + 1)
                if t is None:
                    return None
                parts.append(t if key is None else f"{key}: {t}")
                if sum(len(p) + 2 for p in parts) > WIDTH * 4:
                    return None
        finally:
            self.path.discard(id(v))
        comma = "," if kind is tuple and len(parts) == 1 else ""
        return f"{open_}{', '.join(parts)}{comma}{close}"

    def lines(self, v, indent, depth=0):
        """Text of `v` starting at column `indent` (first line not indented)."""
        one = self.inline(v, depth)
        if one is not None and indent + len(one) <= WIDTH:
            return one
        kind = type(v)
        pad = " " * (indent + 4)
        if kind not in _OPEN_CLOSE:
            text = self.atom(v)
            if _is_array(v):
                return array_header(v) + "\n" + "\n".join(pad + line for line in text.splitlines())
            return text
        if depth > MAX_DEPTH:
            return "..."
        if id(v) in self.path:
            return "<cycle>"
        open_, close = _OPEN_CLOSE[kind]
        entries = self.items(v)
        shown = entries if self.full else entries[:MAX_ITEMS]
        hidden = len(entries) - len(shown)
        self.path.add(id(v))
        try:
            out = [open_]
            if kind is not dict:  # short items: filled into lines, as many as fit
                texts = [self.inline(x, depth + 1) for _, x in shown]
                if all(t is not None and len(t) <= 24 for t in texts):
                    line = ""
                    for t in texts:
                        if line and len(pad) + len(line) + len(t) + 2 > WIDTH:
                            out.append(pad + line.rstrip())
                            line = ""
                        line += t + ", "
                    out.append(pad + line.rstrip())
                    shown = []
            for key, x in shown:
                prefix = "" if key is None else f"{key}: "
                out.append(f"{pad}{prefix}{self.lines(x, indent + 4 + len(prefix), depth + 1)},")
            if hidden:
                out.append(f"{pad}... {hidden} more (--full shows all)")
        finally:
            self.path.discard(id(v))
        out.append(" " * indent + close)
        return "\n".join(out)


def value_text(v, indent=0, full=False):
    """The text of a recorded value for ``show``; lines after the first are
    indented to line up at column `indent`."""
    if _is_array(v):
        pad = " " * (indent + 4)
        body = _array_text(v, full)
        return array_header(v) + "\n" + "\n".join(pad + line for line in body.splitlines())
    return _Printer(full).lines(v, indent)


def preview(args, kwargs, width=60):
    """A short one-line preview of a call's arguments: ``(1, 'two', x=ndarray<f8>(64, 64))``."""
    def short(v):
        kind = type(v)
        if v is None or kind in (bool, int, float):
            return repr(v)
        if kind is str:
            return repr(v) if len(v) <= 22 else repr(v[:18]) + "..."
        if _is_array(v):
            return f"ndarray<{v.dtype.str}>{v.shape}"
        if isinstance(v, (list, tuple, dict, set, frozenset)) and len(v) > 4:
            return f"{type(v).__name__}[{len(v)}]"
        text = _Printer(False).inline(v, MAX_DEPTH - 2) or type(v).__name__
        return text if len(text) <= 24 else text[:21] + "..."
    parts = [short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    if len(text) > width:
        text = text[:width - 3] + "..."
    return f"({text})"


# -- JSON -------------------------------------------------------------------------

def _float_json(x):
    if math.isfinite(x):
        return x
    return {"float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _array_json(a, full):
    out = {"dtype": a.dtype.str, "shape": list(a.shape),
           "order": "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"}
    if full or a.size <= JSON_ARRAY_ITEMS:
        if a.dtype.kind in "biufcU":
            out["data"] = to_json(a.tolist(), full)   # nested lists; 0-d: one value
        else:
            out["repr"] = numpy.array_repr(a)
    else:
        out["truncated"] = True
        if a.size and a.dtype.kind in "biuf":
            with numpy.errstate(all="ignore"):
                out["stats"] = {"min": _float_json(float(a.min())), "max": _float_json(float(a.max())),
                                "mean": _float_json(float(a.mean()))}
    return {"ndarray": out}


def to_json(v, full=False, _depth=0, _path=None):
    """A recorded value as JSON (tagged objects for what JSON lacks; docs/cli-json.md)."""
    path = _path if _path is not None else set()
    if v is None or type(v) in (bool, str):
        return v
    kind = type(v)
    if kind is int:
        return v if -2**63 <= v < 2**63 else {"int": str(v)}
    if kind is float:
        return _float_json(v)
    if kind is complex:
        return {"complex": [_float_json(v.real), _float_json(v.imag)]}
    if kind in (bytes, bytearray):
        return {kind.__name__: v.hex()}
    if isinstance(v, Unrestorable):
        return {"unrestorable": {"type": v.type_name, "repr": v.repr, "reason": v.reason}}
    if isinstance(v, RecordedObject):
        if _depth > MAX_DEPTH or id(v) in path:
            return {"cut": "cycle" if id(v) in path else "too deep"}
        path.add(id(v))
        try:
            state = to_json(recorded_state(v), full, _depth + 1, path)
        finally:
            path.discard(id(v))
        return {"recorded": {"class": recorded_class(v), "state": state}}
    if _is_array(v):
        return _array_json(v, full)
    if _is_npscalar(v):
        item = v.item()
        value = to_json(item, full) if isinstance(item, (bool, int, float, complex, str)) else repr(item)
        return {"npscalar": {"dtype": v.dtype.str, "value": value}}
    if kind in _OPEN_CLOSE:
        if _depth > MAX_DEPTH or id(v) in path:
            return {"cut": "cycle" if id(v) in path else "too deep"}
        path.add(id(v))
        try:
            if kind is dict:
                return {"dict": [[to_json(k, full, _depth + 1, path), to_json(x, full, _depth + 1, path)]
                                 for k, x in v.items()]}
            items = [to_json(x, full, _depth + 1, path) for x in v]
        finally:
            path.discard(id(v))
        return items if kind is list else {kind.__name__: items}
    try:
        text = repr(v)
    except Exception:
        text = "<repr failed>"
    return {"object": {"type": f"{kind.__module__}.{kind.__qualname__}", "repr": _cut(text, full)}}
