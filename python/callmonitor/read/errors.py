"""Errors raised when reading a database (defined natively, re-exported here).

DatabaseError
├── NotFoundError         the path does not exist
├── NotADatabaseError     the path holds no callmonitor database
├── VersionError          written by a newer callmonitor format
├── CorruptError          truncated or garbage data
├── UnknownFunctionError  no function matches a name (also a LookupError)
│   └── AmbiguousFunctionError  a name matches several functions (two definitions of one
│                               name: the message spells each, e.g. "mod.f@30")
├── UnknownWriterError    no writer matches writer=/rank=/pid= (also a LookupError)
├── AmbiguousWriterError  several writers recorded the function and none was chosen (a LookupError)
├── DatabaseClosedError   the database was closed (also a ValueError, as for a closed file)
└── CallNotRecordedError  a capture policy dropped that call (also an IndexError)

DamagedWriterWarning: one writer of a run cannot be read and is left out.
"""
from .._core import (DatabaseError, NotFoundError, NotADatabaseError, VersionError,
                     CorruptError)
from .. import _core


class UnknownFunctionError(_core.UnknownFunctionError, LookupError):
    """No recorded function matches the name, or a bare name matches several."""


class AmbiguousFunctionError(_core.AmbiguousFunctionError, UnknownFunctionError):
    """A name matches several recorded functions: different modules, or two
    definitions of one name (a function redefined in a notebook, two lambdas).
    The message lists them with the name that chooses each: the full name,
    ``NAME@LINE`` or ``NAME@FILE:LINE``; the function object works too."""


class UnknownWriterError(_core.DatabaseError, LookupError):
    """No writer of the database matches the writer id, rank or pid asked for."""


class AmbiguousWriterError(_core.DatabaseError, LookupError):
    """Several writers recorded the function (invocation numbers are per writer):
    choose one with writer=, rank= or pid=."""


class DatabaseClosedError(_core.DatabaseError, ValueError):
    """The database was closed."""


class CallNotRecordedError(_core.DatabaseError, IndexError):
    """The call was made but a capture policy (every=, sample=, keep=, ...)
    did not record it; the message says which. ``function`` and
    ``invocation`` name the call."""

    def __init__(self, message: str, function: str = "", invocation: int = 0):
        super().__init__(message)
        self.function = function
        self.invocation = invocation


class DamagedWriterWarning(UserWarning):
    """A writer of the run cannot be read; the rest of the run is read without it."""


__all__ = ["DatabaseError", "NotFoundError", "NotADatabaseError", "VersionError",
           "CorruptError", "UnknownFunctionError", "AmbiguousFunctionError", "UnknownWriterError",
           "AmbiguousWriterError", "DatabaseClosedError", "CallNotRecordedError", "DamagedWriterWarning"]
