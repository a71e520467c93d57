"""Errors raised when reading a database (defined natively, re-exported here).

DatabaseError
├── NotFoundError         the path does not exist
├── NotADatabaseError     the path holds no callmonitor database
├── VersionError          written by a newer callmonitor format
├── CorruptError          truncated or garbage data
├── UnknownFunctionError  no (or more than one) function matches a name (also a LookupError)
└── UnknownWriterError    no writer matches writer=/rank=/pid= (also a LookupError)
"""
from .._core import (DatabaseError, NotFoundError, NotADatabaseError, VersionError,
                     CorruptError)
from .. import _core


class UnknownFunctionError(_core.UnknownFunctionError, LookupError):
    """No recorded function matches the name, or a bare name matches several."""


class UnknownWriterError(_core.DatabaseError, LookupError):
    """No writer of the database matches the writer id, rank or pid asked for."""


__all__ = ["DatabaseError", "NotFoundError", "NotADatabaseError", "VersionError",
           "CorruptError", "UnknownFunctionError", "UnknownWriterError"]
