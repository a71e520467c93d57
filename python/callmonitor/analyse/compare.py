"""The comparison rules of replay and of generated regression tests (one place).

``differences(expected, actual)`` returns a list of :class:`Difference` (empty:
equivalent); ``assert_equivalent`` raises ``AssertionError`` with all of them.

Rules (docs/replay.md):
- Types strictly: ``int`` is not ``bool`` is not ``float``, ``list`` is not
  ``tuple``, ``numpy.float32(2)`` is not ``2.0``. Types are compared by module
  and qualified name, so a class loaded twice (a script's ``__main__``) still
  matches itself.
- Arrays: dtype and shape strictly (``loose_dtype`` compares values across
  dtypes, with the tolerance of the less precise one); values of float and
  complex dtypes within a tolerance per dtype (:data:`TOLERANCES`, or the
  caller's ``rtol``/``atol``), |a - e| <= atol + rtol * |e|; NaN equals NaN in
  the same places, infinities equal when of the same sign; integers, bool,
  strings, bytes, dates exactly.
- Python floats and complex use the float64 tolerance; numpy scalars that of
  their dtype.
- Containers recursively: lists and tuples by position (length first), dicts
  by key — key order is not compared (Python's dict equality ignores it), a
  missing or extra key is a difference; sets and frozensets by equality.
- Exceptions (``ExceptionInfo`` recorded vs an exception raised) by type name
  and message.
- Classes, functions and modules by qualified name.
- Objects without an ``__eq__`` of their own (identity) attribute by
  attribute (``__dict__`` and ``__slots__``), recursively; anything else by ``==``.
- ``loose_dtype`` also lets a Python number match a numpy scalar.
"""
import math
import types
from dataclasses import dataclass
from typing import Optional

import numpy as np

# dtype name -> (rtol, atol). About 100 ulp relative for float16/32, 1e-9 for
# float64 (room for a port that sums in another order, or FMA on a GPU).
TOLERANCES = {
    "float16": (1e-3, 1e-5),
    "float32": (1e-5, 1e-8),
    "float64": (1e-9, 1e-12),
    "longdouble": (1e-9, 1e-12),
}
_COMPLEX_PART = {"complex64": "float32", "complex128": "float64"}
MAX_INDICES = 5        # mismatching indices shown per array
MAX_DIFFERENCES = 20   # differences listed per value (then "... and N more")


@dataclass(frozen=True)
class Difference:
    """One way two values differ: where (``path``, e.g. ``result[2]['x']``) and how."""
    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Rules:
    """How strictly to compare: tolerances for floats (None: per dtype) and
    whether array dtypes may differ."""
    rtol: Optional[float] = None
    atol: Optional[float] = None
    loose_dtype: bool = False

    def tolerance(self, dtype):
        dtype = np.dtype(dtype)
        if dtype.kind == "c":
            name = _COMPLEX_PART.get(dtype.name, "longdouble")
        elif dtype.itemsize > 8:
            name = "longdouble"
        else:
            name = dtype.name
        rtol, atol = TOLERANCES.get(name, TOLERANCES["float64"])
        return (rtol if self.rtol is None else self.rtol,
                atol if self.atol is None else self.atol)


EXACT = Rules(rtol=0.0, atol=0.0)
_DEFAULT = Rules()


def type_name(t):
    module = getattr(t, "__module__", "") or ""
    qualname = getattr(t, "__qualname__", None) or t.__name__
    return qualname if module == "builtins" else f"{module}.{qualname}"


def _same_type(e, a):
    te, ta = type(e), type(a)
    if te is ta:
        return True
    if getattr(te, "__qualname__", None) != getattr(ta, "__qualname__", None):
        return False
    me, ma = te.__module__, ta.__module__
    # A script's classes: recorded under __main__, replayed from __mp_main__.
    return me == ma or {me, ma} <= {"__main__", "__mp_main__"}


def differences(expected, actual, rules=_DEFAULT, path="value"):
    """Every :class:`Difference` between `expected` and `actual` (capped at
    :data:`MAX_DIFFERENCES`); empty when they are equivalent under `rules`."""
    out = []
    _compare(expected, actual, rules, path, out)
    if len(out) > MAX_DIFFERENCES:
        extra = len(out) - MAX_DIFFERENCES
        out = out[:MAX_DIFFERENCES] + [Difference(path, f"... and {extra} more differences")]
    return out


def assert_equivalent(expected, actual, rtol=None, atol=None, loose_dtype=False, path="result"):
    """Raise ``AssertionError`` listing every difference (what generated tests call)."""
    found = differences(expected, actual, Rules(rtol, atol, loose_dtype), path)
    if found:
        raise AssertionError("\n".join(str(d) for d in found))


_EXACT_SCALARS = (int, str, bytes, bool, type(None))


def _compare(e, a, rules, path, out):
    te = type(e)
    # Fast path: the common exact values (one type check, one ==).
    if te is type(a) and te in _EXACT_SCALARS:
        if e != a:
            out.append(Difference(path, f"{a!r} != expected {e!r}"))
        return
    if not _same_type(e, a):
        if rules.loose_dtype and _is_number(e) and _is_number(a):
            _scalar(e, a, rules.tolerance(_least_precise(np.asarray(e).dtype, np.asarray(a).dtype)),
                    path, out)
        else:
            out.append(Difference(path, f"type {type_name(type(a))} != expected {type_name(te)}"
                                        f" ({_short(a)} vs expected {_short(e)})"))
        return
    if te is float or te is complex:
        _scalar(e, a, rules.tolerance("float64"), path, out)
    elif isinstance(e, np.ndarray):
        _array(e, a, rules, path, out)
    elif isinstance(e, np.generic):
        if e.dtype != a.dtype and not rules.loose_dtype:
            out.append(Difference(path, f"dtype {a.dtype} != expected {e.dtype} ({a!r} vs {e!r})"))
        elif e.dtype.kind in "fc" or a.dtype.kind in "fc":
            _scalar(e, a, rules.tolerance(_least_precise(e.dtype, a.dtype)), path, out)
        elif not (e == a):
            out.append(Difference(path, f"{a!r} != expected {e!r}"))
    elif te is list or te is tuple or isinstance(e, (list, tuple)):
        if len(e) != len(a):
            out.append(Difference(path, f"length {len(a)} != expected {len(e)}"))
            return
        for i, (x, y) in enumerate(zip(e, a)):
            tx = type(x)
            if tx is type(y) and tx in _EXACT_SCALARS and x == y:
                continue   # the common case, without a call (and without building the path)
            _compare(x, y, rules, f"{path}[{i}]", out)
    elif isinstance(e, dict):
        missing = [k for k in e if k not in a]
        extra = [k for k in a if k not in e]
        if missing:
            out.append(Difference(path, f"missing keys {_short(missing)}"))
        if extra:
            out.append(Difference(path, f"unexpected keys {_short(extra)}"))
        for k, x in e.items():
            if k in a:
                _compare(x, a[k], rules, f"{path}[{k!r}]", out)
    elif isinstance(e, BaseException):
        if str(e) != str(a):
            out.append(Difference(path, f"{type_name(type(a))}({str(a)!r}) != expected "
                                        f"{type_name(te)}({str(e)!r})"))
    elif isinstance(e, _BY_NAME):
        if _qualified(e) != _qualified(a):
            out.append(Difference(path, f"{_qualified(a)} != expected {_qualified(e)}"))
    elif _eq_is_identity(te):
        # No __eq__ of its own: a replayed object never *is* the recorded one,
        # so compare what it holds, attribute by attribute.
        ea, aa = _attributes(e), _attributes(a)
        for k, x in ea.items():
            if k not in aa:
                out.append(Difference(path, f"missing attribute {k!r}"))
            else:
                _compare(x, aa[k], rules, f"{path}.{k}", out)
        extra = [k for k in aa if k not in ea]
        if extra:
            out.append(Difference(path, f"unexpected attributes {_short(extra)}"))
    else:
        try:
            equal = e == a
            if isinstance(equal, np.ndarray):  # an object holding arrays
                equal = bool(equal.all())
            equal = bool(equal)
        except Exception as exc:  # an __eq__ that raises: say so, do not crash replay
            out.append(Difference(path, f"cannot be compared: {type(exc).__name__}: {exc}"))
            return
        if not equal:
            out.append(Difference(path, f"{_short(a)} != expected {_short(e)}"))


_BY_NAME = (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)


def _qualified(v):
    """Classes, functions and modules: by their qualified name, main script aliases as one."""
    module = getattr(v, "__module__", None) or ""
    if module == "__mp_main__":
        module = "__main__"
    return f"{module}.{getattr(v, '__qualname__', getattr(v, '__name__', ''))}"


def _eq_is_identity(t):
    return getattr(t, "__eq__", None) is object.__eq__


def _attributes(obj):
    """An object's state: its __dict__ and filled __slots__."""
    state = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                state.setdefault(name, getattr(obj, name))
    return state


def _is_number(v):
    return isinstance(v, (int, float, complex, np.number, np.bool_))


def compare_exception(expected, raised, path="exception"):
    """An ``ExceptionInfo`` (type name, message) recorded vs the exception a
    replay raised (None: it returned). [] when they agree."""
    if raised is None:
        return [Difference(path, f"returned normally; expected {expected.type}: {expected.message}")]
    name = type_name(type(raised))
    names = {name, name.replace("__mp_main__.", "__main__.")}
    if expected.type not in names or str(raised) != expected.message:
        return [Difference(path, f"raised {name}: {raised} ; expected {expected.type}: "
                                 f"{expected.message}")]
    return []


def _least_precise(d1, d2):
    return d1 if d1.itemsize <= d2.itemsize else d2


def _scalar(e, a, tol, path, out):
    rtol, atol = tol
    if e == a:
        return
    if _isnan(e) or _isnan(a):
        if _isnan(e) and _isnan(a) and (type(e) is not complex or
                                        _isnan(e.real) == _isnan(a.real)):
            return
        out.append(Difference(path, f"{a!r} != expected {e!r}"))
        return
    try:
        err = abs(complex(a) - complex(e))
    except (TypeError, OverflowError):
        err = math.inf
    if not err <= atol + rtol * abs(complex(e)):
        rel = err / abs(complex(e)) if e else math.inf
        out.append(Difference(path, f"{a!r} != expected {e!r} (abs error {err:.3g}, rel error "
                                    f"{rel:.3g}; rtol {rtol:g}, atol {atol:g})"))


def _isnan(x):
    try:
        return bool(np.isnan(x))
    except TypeError:
        return False


def _array(e, a, rules, path, out):
    if e.dtype != a.dtype and not rules.loose_dtype:
        out.append(Difference(path, f"dtype {a.dtype} != expected {e.dtype}"
                                    + (" (give --loose-dtype to compare values across dtypes)"
                                       if e.dtype.kind == a.dtype.kind else "")))
        return
    if e.shape != a.shape:
        out.append(Difference(path, f"shape {a.shape} != expected {e.shape}"))
        return
    if e.dtype.names:  # structured: field by field
        for name in e.dtype.names:
            _array(e[name], a[name], rules, f"{path}[{name!r}]", out)
        return
    if e.dtype.kind == "O" or a.dtype.kind == "O":
        for index in np.ndindex(e.shape):
            _compare(e[index], a[index], rules, f"{path}[{_index(index)}]", out)
            if len(out) > MAX_DIFFERENCES:
                return
        return
    floating = e.dtype.kind in "fc" or a.dtype.kind in "fc"
    if not floating:
        if e.dtype.kind in "biu" and a.dtype.kind in "biu" or e.dtype == a.dtype:
            if np.array_equal(e, a):
                return
            mismatch = e != a
        else:
            out.append(Difference(path, f"dtype {a.dtype} cannot be compared with {e.dtype}"))
            return
        _report(e, a, mismatch, path, out, None)
        return
    rtol, atol = rules.tolerance(_least_precise(e.dtype, a.dtype)
                                 if e.dtype.kind in "fc" and a.dtype.kind in "fc"
                                 else (e.dtype if e.dtype.kind in "fc" else a.dtype))
    if e.dtype == a.dtype and e.tobytes() == a.tobytes():   # bit-identical: the usual replay
        return
    with np.errstate(all="ignore"):
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if e.dtype.kind == "c":   # NaN must be in the same part
            close &= (np.isnan(e.real) == np.isnan(a.real)) & (np.isnan(e.imag) == np.isnan(a.imag))
    if close.all():
        return
    _report(e, a, ~close, path, out, (rtol, atol))


def _report(e, a, mismatch, path, out, tol):
    count = int(np.count_nonzero(mismatch))
    where = np.argwhere(mismatch)[:MAX_INDICES]
    text = f"{count} of {e.size} elements differ"
    if tol is not None:
        text += f" (rtol {tol[0]:g}, atol {tol[1]:g})"
    if e.dtype.kind in "biufc" and a.dtype.kind in "biufc":
        with np.errstate(all="ignore"):
            ev = e[mismatch].astype(np.complex128 if "c" in (e.dtype.kind, a.dtype.kind) else np.float64)
            av = a[mismatch].astype(ev.dtype)
            err = np.abs(av - ev)
            rel = err / np.abs(ev)
            finite = np.isfinite(err)
            if finite.any():
                frel = rel[finite & np.isfinite(rel)]
                text += (f"; max abs error {err[finite].max():.3g}, mean abs error "
                         f"{err[finite].mean():.3g}")
                if frel.size:
                    text += f", max rel error {frel.max():.3g}, mean rel error {frel.mean():.3g}"
    shown = []
    for index in where:
        index = tuple(int(i) for i in index)
        shown.append(f"[{_index(index)}]: {a[index]!r} vs expected {e[index]!r}")
    text += "; first at " + ", ".join(shown)
    if count > len(shown):
        text += ", ..."
    out.append(Difference(path, text))


def _index(index):
    return ", ".join(str(i) for i in index)


def _short(v, limit=80):
    if isinstance(v, np.ndarray):
        return f"ndarray {v.dtype} shape {v.shape}"
    try:
        text = repr(v)
    except Exception:
        text = f"<{type_name(type(v))}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."
