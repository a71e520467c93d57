"""callmonitor: record every call of a Python function into a database.

    from callmonitor import intercept, load

    @intercept
    def f(x, y=2): ...

    f(1)                       # recorded into ./call-monitor
    db = load("call-monitor")
    args, kwargs = db.get("f", 1)
"""
from ._version import __version__
from . import _core
from .handlers import REGISTRY, Handler, NDArrayHandler, HandlerNotRegisteredError
from .capture.intercept import intercept
from .capture.settings import Settings, configure, LateSettingsWarning
from .capture.session import flush, close, output_directory, stats
from .read.values import Unrestorable
from .read.database import load, Database, Call, FunctionInfo, ExceptionInfo
from .read.errors import (DatabaseError, NotFoundError, NotADatabaseError, VersionError,
                          CorruptError, UnknownFunctionError, AmbiguousFunctionError, UnknownWriterError,
                          AmbiguousWriterError, DatabaseClosedError, DamagedWriterWarning,
                          CallNotRecordedError)
from ._core import StoreError
from .inner import wrap_calls, flat_profile
from .legacy_api import (VERSION, DB, SETTINGS, CONTEXT, Context, NPHandler, DefaultHandler, Args,
                         rc, snapshot, save_db, Registry)
from . import _hooks
from .trace.watch import watch, unwatch, WatchError, PolicyNotSupportedError
from .trace.summary import ValueSummary
from .capture.policy import Excluded

_hooks.install()

__all__ = [
    "__version__", "intercept", "load", "REGISTRY", "Handler", "NDArrayHandler", "Settings",
    "configure", "flush", "close", "output_directory", "stats", "Unrestorable", "Database",
    "Call", "FunctionInfo", "ExceptionInfo", "DatabaseError", "NotFoundError",
    "NotADatabaseError", "VersionError", "CorruptError", "UnknownFunctionError", "AmbiguousFunctionError",
    "HandlerNotRegisteredError", "UnknownWriterError", "StoreError", "AmbiguousWriterError",
    "DatabaseClosedError", "DamagedWriterWarning", "CallNotRecordedError", "Excluded", "LateSettingsWarning",
    "wrap_calls", "flat_profile",
    "watch", "unwatch", "WatchError", "PolicyNotSupportedError", "ValueSummary",
    # callmonitor 0.3's names (legacy_api.py)
    "VERSION", "DB", "SETTINGS", "CONTEXT", "Context", "NPHandler", "DefaultHandler", "Args", "rc",
    "snapshot", "save_db", "Registry",
]
