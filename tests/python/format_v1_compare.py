"""Exact comparison of values read back from the format-v1 fixtures.

Stricter than equality: types exact (list != tuple, int != bool != float,
numpy scalars by dtype), floats bit for bit (NaN payloads, -0.0), dict key
order, arrays by dtype.str (byte order), shape, memory order and bytes, and
the identity graph: an object the expected value holds twice (or inside
itself) must come back as one object, and objects that are distinct in the
expected value must be distinct when read back.
"""
import struct

import numpy as np

from callmonitor import Unrestorable

# Containers whose identity is part of the value (Backref). Immutable empty
# ones are singletons in CPython, so only their contents are compared.
_IDENTITY_TYPES = (list, tuple, dict, set, frozenset, bytearray, np.ndarray)


def _bits(x):
    return struct.pack("<d", x)


def _padded(dtype):
    """x87 long double: 10 value bytes in 12 or 16; the rest is undefined."""
    return (dtype.kind == "f" and dtype.itemsize > 8) or (dtype.kind == "c" and dtype.itemsize > 16)


class _Comparison:
    def __init__(self):
        self.expected_to_actual = {}
        self.actual_to_expected = {}
        self._keep = []   # ids stay unique while the objects are alive

    def identity(self, expected, actual, path):
        """True when this pair was compared already (a shared object or a cycle)."""
        if not isinstance(expected, _IDENTITY_TYPES) or (
                isinstance(expected, (tuple, frozenset)) and len(expected) == 0):
            return False
        seen = self.expected_to_actual.get(id(expected))
        if seen is not None:
            assert seen is actual, f"{path}: the expected value holds one object here and " \
                                   f"earlier; read back, they are two objects"
            return True
        other = self.actual_to_expected.get(id(actual))
        assert other is None, f"{path}: read back as an object seen earlier, but the " \
                              f"expected value holds a distinct object here"
        self.expected_to_actual[id(expected)] = actual
        self.actual_to_expected[id(actual)] = expected
        self._keep += [expected, actual]
        return False

    def same(self, expected, actual, path):
        te, ta = type(expected), type(actual)
        assert ta is te, f"{path}: type {ta.__module__}.{ta.__qualname__} != expected " \
                         f"{te.__module__}.{te.__qualname__} ({actual!r:.200} vs {expected!r:.200})"
        if self.identity(expected, actual, path):
            return
        if te is np.ndarray:
            self.array(expected, actual, path)
        elif isinstance(expected, np.generic):
            assert actual.dtype.str == expected.dtype.str, f"{path}: dtype {actual.dtype.str} != {expected.dtype.str}"
            self.array(np.asarray(expected), np.asarray(actual), path)
        elif te is float:
            assert _bits(actual) == _bits(expected), f"{path}: {actual!r} != {expected!r} (bits)"
        elif te is complex:
            assert (_bits(actual.real), _bits(actual.imag)) == (_bits(expected.real), _bits(expected.imag)), \
                f"{path}: {actual!r} != {expected!r} (bits)"
        elif te in (list, tuple):
            assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
            for i, (e, a) in enumerate(zip(expected, actual)):
                self.same(e, a, f"{path}[{i}]")
        elif te is dict:
            assert len(actual) == len(expected), f"{path}: {len(actual)} keys != {len(expected)}"
            for i, ((ke, ve), (ka, va)) in enumerate(zip(expected.items(), actual.items())):
                self.same(ke, ka, f"{path} key #{i}")      # insertion order
                self.same(ve, va, f"{path}[{ke!r}]")
        elif te in (set, frozenset):
            assert len(actual) == len(expected), f"{path}: {len(actual)} elements != {len(expected)}"
            for e in expected:
                match = [a for a in actual if a == e and type(a) is type(e)]
                assert len(match) == 1, f"{path}: element {e!r} missing (or its type differs)"
                self.same(e, match[0], f"{path} element {e!r}")
        elif te is Unrestorable:
            assert (actual.type_name, actual.repr, actual.reason) == \
                (expected.type_name, expected.repr, expected.reason), f"{path}: {actual!r} != {expected!r}"
        else:   # None, bool, int, str, bytes, bytearray, objects with __eq__
            assert actual == expected, f"{path}: {actual!r:.300} != {expected!r:.300}"

    def array(self, expected, actual, path):
        assert actual.dtype.str == expected.dtype.str, f"{path}: dtype {actual.dtype.str} != {expected.dtype.str}"
        assert actual.dtype == expected.dtype, f"{path}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, f"{path}: shape {actual.shape} != {expected.shape}"
        # Stored C- or Fortran-ordered, and so read back; a non-contiguous view comes back C.
        fortran = expected.ndim > 1 and expected.flags.f_contiguous and not expected.flags.c_contiguous
        assert actual.flags.c_contiguous or actual.flags.f_contiguous, f"{path}: not contiguous"
        if expected.ndim > 1:
            assert bool(actual.flags.f_contiguous and not actual.flags.c_contiguous) == fortran, \
                f"{path}: memory order {'F' if actual.flags.f_contiguous else 'C'} != " \
                f"{'F' if fortran else 'C'}"
        if _padded(expected.dtype):
            parts = (lambda a: (a.real, a.imag)) if expected.dtype.kind == "c" else (lambda a: (a,))
            for e, a in zip(parts(expected), parts(actual)):
                assert np.array_equal(e, a, equal_nan=True), f"{path}: {a!r} != {e!r}"
                assert (np.signbit(e) == np.signbit(a)).all(), f"{path}: sign of zero differs"
        else:
            assert actual.tobytes(order="A") == expected.tobytes(order="A"), f"{path}: array bytes differ"
            assert actual.tobytes(order="C") == expected.tobytes(order="C"), f"{path}: array bytes differ"


def assert_identical(expected, actual, path="value"):
    """Raises AssertionError naming the first difference."""
    _Comparison().same(expected, actual, path)


def assert_identical_inputs(expected_args, expected_kwargs, actual_args, actual_kwargs, path):
    """A call's args and kwargs were one value (one memo): identity spans both."""
    c = _Comparison()
    c.same(list(expected_args), actual_args, f"{path} args")
    c.same(dict(expected_kwargs), actual_kwargs, f"{path} kwargs")
