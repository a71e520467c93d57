"""What is stored once per function: where it lives and its full signature."""
import functools
import inspect
from typing import Dict, Tuple

from .. import _core
from .._module_names import recorded_module
from .._parameter_kinds import CODES

_KINDS = CODES  # inspect kind -> stored kind (the one table: _parameter_kinds.py)


def _annotation_text(a):
    if a is inspect.Parameter.empty:
        return ""
    if isinstance(a, type):
        return a.__qualname__ if a.__module__ == "builtins" else f"{a.__module__}.{a.__qualname__}"
    if isinstance(a, str):
        return a
    return inspect.formatannotation(a)


def _kind(func):
    base = func.func if isinstance(func, functools.partial) else func
    if isinstance(func, functools.partial):
        return "partial"
    if inspect.iscoroutinefunction(base):
        return "coroutine"
    if inspect.isasyncgenfunction(base):
        return "async-generator"
    if inspect.isgeneratorfunction(base):
        return "generator"
    if inspect.isbuiltin(base) or not hasattr(base, "__code__"):
        return "builtin"
    return "function"


# Names given by whoever wrapped a callable whose own are missing or ambiguous
# (a numpy ufunc has no __module__; np.add.reduce is "ufunc.reduce"):
# id(callable) -> (module, qualname). Filled by callmonitor.trace.watch,
# which knows where it found the callable.
KNOWN_NAMES: Dict[int, Tuple[str, str]] = {}


def describe_signature(sig):
    """(parameters, return annotation) of an ``inspect.Signature``, as stored:
    one dict per parameter with its kind, encoded default and annotation text."""
    parameters = []
    for p in sig.parameters.values():
        has_default = p.default is not inspect.Parameter.empty
        try:
            default = _core.encode_value(p.default) if has_default else b""
        except Exception:
            default = b""
        try:
            default_repr = repr(p.default) if has_default else ""
        except Exception:
            default_repr = "<repr failed>"
        parameters.append({
            "name": p.name, "kind": _KINDS[p.kind], "has_default": has_default,
            "default": default, "default_repr": default_repr,
            "annotation": _annotation_text(p.annotation),
        })
    return parameters, _annotation_text(sig.return_annotation)


def describe(func):
    """A dict the native recorder turns into a FunctionInfo record."""
    base = func
    while isinstance(base, functools.partial):
        base = base.func
    module = getattr(base, "__module__", None) or ""
    module = recorded_module(module) if isinstance(module, str) else ""
    name = getattr(base, "__name__", None) or type(base).__name__
    qualname = getattr(base, "__qualname__", None) or name
    module, qualname = KNOWN_NAMES.get(id(base), (module, qualname))
    code = getattr(inspect.unwrap(base), "__code__", None)
    file = code.co_filename if code else ""
    line = code.co_firstlineno if code else 0
    try:
        sig = inspect.signature(func)
        known = True
    except (TypeError, ValueError):
        sig, known = None, False
    parameters, return_annotation = describe_signature(sig) if sig is not None else ([], "")
    rewritten = getattr(base, "__callmonitor_inner__", None)  # @intercept(inner=True): callmonitor.inner
    inner_sites = [{"callee": s.callee, "line": s.line, "column": s.column, "awaited": s.awaited}
                   for s in rewritten.sites] if rewritten is not None else []
    return {
        # One record stream per function; a partial of it gets its own.
        "key": f"{module}:{qualname}:{file}:{line}:{id(base) if not code else 0}:"
               f"{id(func) if isinstance(func, functools.partial) else 0}",
        "module": module, "qualname": qualname, "name": name, "file": file, "line": line,
        "signature_known": known, "parameters": parameters,
        "return_annotation": return_annotation, "kind": _kind(func),
        "dir_name": qualname.replace("<", "_").replace(">", "_").replace("/", "_"),
        "inner_sites": inner_sites,
    }
