"""``values="summary"``: what is stored in place of a value when a watch only
needs to know how an API is used: the type, and for arrays the dtype and the
shape, for containers the length; short literals (None, bool, int, float,
complex, str and bytes of up to 64 characters) and numpy arrays and scalars
of up to 96 bytes (their summary would be larger) are kept as they are.

The native side (caller_filter.cpp, WatchInputs) keeps short literals itself
and calls ``summarize`` for everything else. This is the smallest honest
version of issue 9's value policies: when the capture side gains a native
summary mode, ``watch(values="summary")`` maps onto it and this module only
keeps ``ValueSummary`` readable in old databases.
"""
import importlib
import json
import reprlib
from typing import Any, Dict, Optional

from ..handlers import REGISTRY

_SHORT = 64        # longest str / bytes kept as a literal (also in caller_filter.cpp)
# Largest numpy array or scalar kept as it is, in bytes: a summary item takes
# ~85 bytes (the handler's name and the JSON), an inline array its bytes + ~12.
_SHORT_ARRAY_BYTES = 96
_SHORT_ITEMS = 8   # tuples / lists up to this length are summarised item by item


class ValueSummary:
    """A recorded value's type; ``dtype`` and ``shape`` for arrays and numpy
    scalars, ``length`` for containers and long strings (else None).

    A summary stored by a capture policy (``max_bytes=``, see
    ``summarize_large``) also has ``summary`` (the policy that made it, e.g.
    ``"max_bytes=1000000"``), ``nbytes``, ``hash`` (xxh3-128 of the bytes, in
    hex, as payloads are keyed), ``min`` / ``max`` / ``mean`` of numeric
    arrays, and ``head`` / ``tail`` (the first and last few items); None
    where they do not apply."""

    __slots__ = ("type", "dtype", "shape", "length", "summary", "nbytes", "hash", "min", "max", "mean",
                 "head", "tail", "_hash")
    _EXTRA = ("summary", "nbytes", "hash", "min", "max", "mean", "head", "tail")

    def __init__(self, type, dtype=None, shape=None, length=None, **extra):
        self.type = type
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.length = length
        for k in self._EXTRA:
            setattr(self, k, extra.pop(k, None))
        if extra:
            raise TypeError(f"unknown ValueSummary fields {sorted(extra)}")
        self._hash = hash(self._fields())

    def _fields(self):
        return (self.type, self.dtype, self.shape, self.length, self.summary, self.nbytes, self.hash)

    def _extra(self):
        return {k: getattr(self, k) for k in self._EXTRA if getattr(self, k) is not None}

    def __eq__(self, other):
        return isinstance(other, ValueSummary) and self._fields() == other._fields()

    def __hash__(self):
        return self._hash

    def __repr__(self):
        fields = dict(zip(("dtype", "shape", "length"), self._fields()[1:4]))
        fields.update(self._extra())
        extra = "".join(f", {k}={v!r}" for k, v in fields.items() if v is not None)
        return f"ValueSummary({self.type!r}{extra})"


def _type_name(t):
    module = getattr(t, "__module__", "builtins")
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"


_LITERAL_TYPES = frozenset((type(None), bool, float, complex, int, str, bytes))


def _is_literal(v):
    t = type(v)
    if t not in _LITERAL_TYPES:  # one set lookup for everything else (arrays)
        return False
    if t is int:
        return v.bit_length() <= 64
    if t is str or t is bytes:
        return len(v) <= _SHORT
    return True


# The summaries of arrays seen so far, by (type, dtype, shape): a summary is
# made once, and its encoding too (ValueSummaryHandler): ~1 us per array.
_ARRAYS: Dict[tuple, "ValueSummary"] = {}
_ARRAYS_MAX = 4096


# Per type: True for numpy.ndarray and numpy's scalar types (decided once).
_NUMPY_TYPES: Dict[type, bool] = {}


def _is_numpy_type(t, shape):
    known = _NUMPY_TYPES.get(t)
    if known is None:
        known = t.__module__ == "numpy" and (t.__name__ == "ndarray" or shape == ())
        if len(_NUMPY_TYPES) < _ARRAYS_MAX:
            _NUMPY_TYPES[t] = known
    return known


def _is_short_numpy(value, t, dtype, shape):
    """A numpy array or scalar whose values take no more room than its summary
    would: kept as it is, like a short literal. Object arrays are not (their
    items are pickled or summarized)."""
    if not _is_numpy_type(t, shape):
        return False
    try:
        return value.nbytes <= _SHORT_ARRAY_BYTES and dtype.kind != "O"
    except AttributeError:
        return False


def summarize(value: Any) -> Any:
    """The summary stored for `value` (called from C for non-literals)."""
    if _is_literal(value):
        return value
    t = type(value)
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    if dtype is not None and isinstance(shape, tuple):  # numpy arrays and scalars, array-likes
        if _is_short_numpy(value, t, dtype, shape):
            return value
        key = (t, dtype, shape)
        try:
            return _ARRAYS[key]
        except (KeyError, TypeError):  # TypeError: an unhashable dtype-like
            pass
        s = ValueSummary(_type_name(t), dtype=str(dtype), shape=shape)
        if len(_ARRAYS) < _ARRAYS_MAX:
            try:
                _ARRAYS[key] = s
            except TypeError:
                pass
        return s
    if t in (tuple, list) and len(value) <= _SHORT_ITEMS:
        return t(summarize(v) for v in value)
    try:
        length = len(value) if isinstance(value, (str, bytes, bytearray, tuple, list, dict, set,
                                                  frozenset)) else None
    except Exception:
        length = None
    return ValueSummary(_type_name(t), length=length)


_ENDS = 5        # items in a large value's summary's head and tail
_ENDS_TEXT = 32  # characters (bytes) of a large str's (bytes') head and tail


def _scalar(v):
    """A JSON-friendly Python scalar (complex and dates as their repr)."""
    v = v.item() if hasattr(v, "item") else v
    return v if isinstance(v, (bool, int, float, str)) or v is None else repr(v)


def value_nbytes(value: Any) -> int:
    """The bytes a pandas frame, series or index takes (its columns'
    buffers, not the objects an object column points to), for max_bytes=;
    0 when it cannot tell. Called from C for the types of the built-in
    handlers that have no buffer."""
    try:
        usage = getattr(value, "memory_usage", None)
        if usage is not None and getattr(value, "ndim", 0) == 2:
            return int(usage(index=True, deep=False).sum())
        n = getattr(value, "nbytes", 0)
        return int(n) if isinstance(n, int) or hasattr(n, "__index__") else 0
    except Exception:
        return 0


def _frame_summary(value: Any, reason: str) -> "ValueSummary":
    """A pandas DataFrame's or Series' summary: shape, dtypes, nbytes, a hash
    of its contents (pandas' hash_pandas_object), and its first and last rows."""
    pd = importlib.import_module("pandas")  # loaded already: `value` is one of its objects
    extra: Dict[str, Any] = {"nbytes": value_nbytes(value)}
    try:
        extra["hash"] = _core_hash(pd.util.hash_pandas_object(value, index=True).to_numpy())
    except Exception:
        pass
    frame = value.ndim == 2
    dtype = str({str(k): str(v) for k, v in value.dtypes.items()}) if frame else str(value.dtype)
    try:
        extra["head"] = value.head(_ENDS).to_dict("list" if frame else "dict")
        extra["tail"] = value.tail(_ENDS).to_dict("list" if frame else "dict") if len(value) > _ENDS else {}
        if not frame and value.dtype.kind in "iuf" and len(value):
            extra.update(min=_scalar(value.min()), max=_scalar(value.max()), mean=float(value.mean()))
    except Exception:
        pass
    return ValueSummary(_type_name(type(value)), dtype=dtype, shape=value.shape, length=len(value),
                        summary=reason, **extra)


def _core_hash(a) -> str:
    from .. import _core
    import numpy as np
    return _core._content_hash(np.ascontiguousarray(a).reshape(-1).view(np.uint8))


def summarize_large(value: Any, reason: str = "max_bytes", pickled: Optional[bytes] = None) -> "ValueSummary":
    """What a capture policy stores in place of `value`, too large to keep
    (``max_bytes=``): type, shape and dtype or length, size, content hash,
    min / max / mean of numeric arrays, head and tail. `pickled`: the pickle
    of a value recorded by pickling (its size and hash are the pickle's).
    Called from C."""
    from .. import _core
    t = type(value)
    if pickled is not None:
        try:
            length = len(value)
        except Exception:
            length = None
        return ValueSummary(_type_name(t), length=length, summary=reason, nbytes=len(pickled),
                            hash=_core._content_hash(pickled), head=reprlib.repr(value))
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    if dtype is not None and isinstance(shape, tuple) and hasattr(value, "nbytes"):
        import numpy as np
        a = np.ascontiguousarray(value)
        extra: Dict[str, Any] = {"nbytes": int(a.nbytes)}
        try:
            extra["hash"] = _core._content_hash(a.reshape(-1).view(np.uint8))
        except (TypeError, ValueError, BufferError):
            pass
        flat = a.reshape(-1)
        if flat.size and a.dtype.kind in "iuf":
            extra.update(min=_scalar(flat.min()), max=_scalar(flat.max()), mean=float(flat.mean()))
        elif flat.size and a.dtype.kind == "c":
            extra["mean"] = repr(complex(flat.mean()))
        extra["head"] = [_scalar(v) for v in flat[:_ENDS]]
        extra["tail"] = [_scalar(v) for v in flat[-_ENDS:]] if flat.size > _ENDS else []
        return ValueSummary(_type_name(t), dtype=str(dtype), shape=shape, summary=reason, **extra)
    if type(value).__module__.startswith("pandas") and hasattr(value, "dtypes") and hasattr(value, "head"):
        return _frame_summary(value, reason)
    if isinstance(value, (str, bytes, bytearray)):
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
        if isinstance(value, str):
            head, tail = value[:_ENDS_TEXT], value[-_ENDS_TEXT:]
        else:
            head, tail = bytes(value[:_ENDS_TEXT]).hex(), bytes(value[-_ENDS_TEXT:]).hex()
        return ValueSummary(_type_name(t), length=len(value), summary=reason, nbytes=len(data),
                            hash=_core._content_hash(data), head=head, tail=tail)
    try:
        length = len(value)
    except Exception:
        length = None
    extra = {}
    if isinstance(value, (list, tuple)):
        extra["head"] = [reprlib.repr(v) for v in value[:_ENDS]]
        extra["tail"] = [reprlib.repr(v) for v in value[-_ENDS:]] if len(value) > _ENDS else []
    return ValueSummary(_type_name(t), length=length, summary=reason, **extra)


class ValueSummaryHandler:
    """Stores a ValueSummary inline as a small JSON object: [type, dtype,
    shape, length] and, for a policy's summary, a dict of the other fields."""

    def __init__(self):
        self._encoded = {}

    def encode(self, s):
        data = self._encoded.get(s)
        if data is None:
            fields = [s.type, s.dtype, s.shape, s.length]
            if s.summary is not None:  # a policy's summary: one of a kind, not cached
                fields.append(s._extra())
                return json.dumps(fields, default=repr).encode()
            data = json.dumps(fields).encode()
            if len(self._encoded) < _ARRAYS_MAX:
                self._encoded[s] = data
        return data

    def decode(self, data):
        t, dtype, shape, length, *extra = json.loads(bytes(data))
        return ValueSummary(t, dtype, shape, length, **(extra[0] if extra else {}))


REGISTRY.add(ValueSummary, ValueSummaryHandler)
