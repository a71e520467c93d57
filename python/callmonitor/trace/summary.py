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
import json
from typing import Any, Dict

from ..handlers import REGISTRY

_SHORT = 64        # longest str / bytes kept as a literal (also in caller_filter.cpp)
# Largest numpy array or scalar kept as it is, in bytes: a summary item takes
# ~85 bytes (the handler's name and the JSON), an inline array its bytes + ~12.
_SHORT_ARRAY_BYTES = 96
_SHORT_ITEMS = 8   # tuples / lists up to this length are summarised item by item


class ValueSummary:
    """A recorded value's type; ``dtype`` and ``shape`` for arrays and numpy
    scalars, ``length`` for containers and long strings (else None)."""

    __slots__ = ("type", "dtype", "shape", "length", "_hash")

    def __init__(self, type, dtype=None, shape=None, length=None):
        self.type = type
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.length = length
        self._hash = hash(self._fields())

    def _fields(self):
        return (self.type, self.dtype, self.shape, self.length)

    def __eq__(self, other):
        return isinstance(other, ValueSummary) and self._fields() == other._fields()

    def __hash__(self):
        return self._hash

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in zip(("dtype", "shape", "length"), self._fields()[1:])
                        if v is not None)
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


class ValueSummaryHandler:
    """Stores a ValueSummary inline as a small JSON object."""

    def __init__(self):
        self._encoded = {}

    def encode(self, s):
        data = self._encoded.get(s)
        if data is None:
            data = json.dumps([s.type, s.dtype, s.shape, s.length]).encode()
            if len(self._encoded) < _ARRAYS_MAX:
                self._encoded[s] = data
        return data

    def decode(self, data):
        t, dtype, shape, length = json.loads(bytes(data))
        return ValueSummary(t, dtype, shape, length)


REGISTRY.add(ValueSummary, ValueSummaryHandler)
