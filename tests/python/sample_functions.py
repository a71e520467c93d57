"""Module-level decorated functions and classes used by the test-suite.

They live in a real module (not in a test module) so that they pickle by
reference, have a stable ``__module__`` ("sample_functions") and can be
imported by recorder subprocesses (conftest puts this folder on PYTHONPATH).
Nothing here is called at import time: importing this module records nothing.
"""
import asyncio
import time

import numpy as np

from callmonitor import intercept


def plain_add(x, y=2):
    """Add two numbers (undecorated original, kept for comparisons)."""
    return x + y


add = intercept(plain_add)


@intercept
def identity(x):
    """Return x unchanged."""
    return x


@intercept
def two_args(a, b):
    return None


@intercept
def full_signature(x, y=2, *rest, z=3, **kw):
    """All five parameter kinds."""
    return x


@intercept
def annotated(a: int, b: float = 1.5, *, arr: np.ndarray = None) -> float:
    return a + b


@intercept(result=False)
def no_result(x):
    return x * 2


@intercept(result=False)
def sink(x):
    """Takes any value; only the argument is captured (and counted)."""
    return None


@intercept
def sleepy(seconds):
    time.sleep(seconds)
    return seconds


@intercept
def mutator(buf, items):
    """Change both inputs in place (the record must keep the old values)."""
    buf[:] = -1
    items.append("added")
    items[0] = "changed"
    return len(items)


class CustomError(Exception):
    pass


THE_ERROR = CustomError("the very same instance")


@intercept
def raise_given(exc):
    raise exc


@intercept
def raise_value_error(msg):
    raise ValueError(msg)


@intercept
def raise_custom():
    raise THE_ERROR


@intercept
def return_given(obj):
    return obj


@intercept
async def async_double(x):
    await asyncio.sleep(0)
    return 2 * x


@intercept
def count_up(n):
    yield from range(n)


@intercept
def called_from_sample_module(x):
    return x


def call_from_here(x):
    """Calls an intercepted function from this module (caller = sample_functions)."""
    return called_from_sample_module(x)


class Pickleable:
    """A picklable user class with value equality. Its __reduce__ keeps it on
    the pickle path (a plain class is recorded by its state: docs/objects.md)."""

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __reduce__(self):
        return (Pickleable, (self.a, self.b))

    def __eq__(self, other):
        return type(other) is Pickleable and (self.a, self.b) == (other.a, other.b)

    def __repr__(self):
        return f"Pickleable({self.a!r}, {self.b!r})"


class Methods:
    """Methods of every kind, decorator above and below staticmethod/classmethod."""

    def __init__(self, base=100):
        self.base = base

    @intercept
    def instance(self, x):
        """Instance method."""
        return self.base + x

    @intercept
    @classmethod
    def class_above(cls, x):
        """classmethod, intercept above."""
        return (cls.__name__, x)

    @classmethod
    @intercept
    def class_below(cls, x):
        """classmethod, intercept below."""
        return (cls.__name__, x)

    @intercept
    @staticmethod
    def static_above(x, y=1):
        """staticmethod, intercept above."""
        return x - y

    @staticmethod
    @intercept
    def static_below(x, y=1):
        """staticmethod, intercept below."""
        return x * y


class SubMethods(Methods):
    pass


class TwinA:
    @intercept
    def twin(self, x):
        return x


class TwinB:
    @intercept
    def twin(self, x):
        return x
