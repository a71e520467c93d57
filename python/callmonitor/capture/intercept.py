"""``@intercept``: record every call of a callable."""
import functools
import inspect
from typing import Any, Callable, Optional, TypeVar, overload

from .. import _core
from . import policy as _policy


def _flag(value):
    return -1 if value is None else int(bool(value))


def _wrap(func, result, strict, watch=None):
    """An Interceptor for `func` that looks like `func` to Python (with
    `watch`, a WatchOptions: the subtype callmonitor.watch places)."""
    if watch is None:
        wrapper = _core.Interceptor(func, _flag(result), _flag(strict))
    else:
        wrapper = _core.Watched(func, _flag(result), _flag(strict), watch)
    target = func.func if isinstance(func, functools.partial) else func
    try:
        functools.update_wrapper(wrapper, target)
    except Exception:  # builtins without some attributes: keep what is there
        pass
    wrapper.__wrapped__ = func
    if isinstance(func, functools.partial):
        name = getattr(target, "__name__", "partial")
        wrapper.__name__ = name
        wrapper.__qualname__ = getattr(target, "__qualname__", name)
    if not hasattr(wrapper, "__qualname__") and hasattr(wrapper, "__name__"):
        wrapper.__qualname__ = wrapper.__name__
    # inspect takes a C callable with __get__ for a builtin; give it the signature.
    try:
        wrapper.__signature__ = inspect.signature(func)
    except (TypeError, ValueError):
        pass
    return wrapper


F = TypeVar("F", bound=Callable[..., Any])


@overload
def intercept(func: F, *, result: Optional[bool] = None, strict: Optional[bool] = None,
              **policy: Any) -> F: ...
@overload
def intercept(func: None = None, *, result: Optional[bool] = None,
              strict: Optional[bool] = None, **policy: Any) -> Callable[[F], F]: ...


def intercept(func=None, *, result=None, strict=None, **policy):
    """Record every call of `func` into the callmonitor database.

    Use as ``@intercept`` or ``@intercept(result=False)``; also on builtins
    (``dot = intercept(numpy.dot)``), ``functools.partial`` objects, methods,
    ``staticmethod`` / ``classmethod`` objects, generators and coroutines.

    result: record the return value (default: the session setting, on).
    strict: raise TypeError when an argument cannot be captured, before the
            function runs (default: the session setting, off — a placeholder
            is stored instead). For tests.

    Capture policies (docs/policies.md; these win over ``configure()`` and
    the CALLMONITOR_* variables):
    max_calls=N   keep at most N calls;       first=N   keep calls 1 to N;
    every=K       keep calls 1, K+1, 2K+1...; sample=P  keep each call with
                  probability P (seeded: reproducible from the seed stored);
    max_bytes=B   store an argument or result over B bytes as a summary;
    exclude=[...] parameters not recorded (stored as ``Excluded``);
    keep="raised" keep only calls that raised;
    slower_than=S keep only calls slower than S seconds.
    The wrapped callable behaves exactly like `func`: same return value,
    same exceptions, same signature and metadata.
    """
    options = _policy.check(**policy)  # TypeError / ValueError now, not at the first call
    if func is None:
        return lambda f: intercept(f, result=result, strict=strict, **options)
    if isinstance(func, staticmethod):
        return staticmethod(intercept(func.__func__, result=result, strict=strict, **options))
    if isinstance(func, classmethod):
        return classmethod(intercept(func.__func__, result=result, strict=strict, **options))
    if isinstance(func, _core.Interceptor):
        if options:
            raise TypeError("this callable is intercepted already; give its capture policy where it was "
                            "first intercepted")
        return func
    if not callable(func):
        raise TypeError(f"intercept() needs a callable, got {type(func).__name__}")
    for session_only in _policy.SESSION_OPTIONS:
        if session_only in options:
            raise TypeError(f"{session_only}= applies to the whole database: give it to configure(), "
                            f"not to intercept()")
    _policy.check_function(func, options)
    if result is None and (inspect.iscoroutinefunction(func) or inspect.isgeneratorfunction(func)
                           or inspect.isasyncgenfunction(func)):
        # The "result" is a coroutine/generator object, not worth keeping.
        result = False
    wrapper = _wrap(func, result, strict)
    _policy.set_own(wrapper, options)
    return wrapper
