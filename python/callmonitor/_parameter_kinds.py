"""The parameter kinds of a recorded signature, in one place for Python.

The table is C++'s ``Parameter::Kind`` (``include/callmonitor/records.h``),
bound as ``_core.ParameterKind`` with inspect's names; both mappings here are
derived from it."""
import inspect

from . import _core

#: stored kind -> ``inspect.Parameter`` kind
TO_INSPECT = {kind: getattr(inspect.Parameter, name)
              for name, kind in _core.ParameterKind.__members__.items()}
#: ``inspect.Parameter`` kind -> the byte stored in a FunctionInfo record
CODES = {inspect_kind: int(kind) for kind, inspect_kind in TO_INSPECT.items()}
