"""``@intercept``: record every call of a callable."""
import functools
import inspect
from typing import Any, Callable, Optional, TypeVar, overload

from .. import _core
from . import policy as _policy


def _flag(value):
    return -1 if value is None else int(bool(value))


def _wrap(func, result, strict, watch=None, inner=False, only_with_output=False):
    """An Interceptor for `func` that looks like `func` to Python (with
    `watch`, a WatchOptions: the subtype callmonitor.watch places; with
    `inner`, `func` is already rewritten by callmonitor.inner;
    `only_with_output`: recorded only once an output was chosen)."""
    if watch is None:
        wrapper = _core.Interceptor(func, _flag(result), _flag(strict), None, inner, only_with_output)
    else:
        wrapper = _core.Watched(func, _flag(result), _flag(strict), watch)
    target = func.func if isinstance(func, functools.partial) else func
    try:
        functools.update_wrapper(wrapper, target)
    except Exception:  # builtins without some attributes: keep what is there
        pass
    wrapper.__wrapped__ = func
    for attr in ("__defaults__", "__kwdefaults__"):  # a function's, as inspect and users read them
        if hasattr(target, attr):
            setattr(wrapper, attr, getattr(target, attr))
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
              inner: bool = False, inner_args: bool = False, **policy: Any) -> F: ...
@overload
def intercept(func: None = None, *, result: Optional[bool] = None,
              strict: Optional[bool] = None, inner: bool = False,
              inner_args: bool = False, **policy: Any) -> Callable[[F], F]: ...


def _rewritten_for_inner(func, inner_args=False):
    """`func` rewritten so that every call inside it is timed (callmonitor.inner),
    each invocation's inner calls handed to the Interceptor around it. A
    function without source is returned as it is, with an InnerCallsWarning."""
    from ..inner.rewrite import CallSelection  # the inner-call front end, loaded only when used
    from ..inner.wrap import rewrite_calls
    return rewrite_calls(func, what="intercept(inner=True)", wrapper=None,
                         selection=CallSelection(False, None, None), rewrite_details=None, attach=True,
                         inner_args=inner_args)


def profiled(func, time_limit: float, only_with_output: bool):
    """flat_profile's recording of `func` (rewritten with attach=True): each
    call with its inner calls; with only_with_output, only when an output was
    chosen (configure(output=...) or $CALLMONITOR_DIR) at the time of the call."""
    if isinstance(func, (staticmethod, classmethod)):
        return type(func)(profiled(func.__func__, time_limit, only_with_output))
    if inspect.iscoroutinefunction(func) or inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        return func  # their outcome comes after the call returns: recorded by the capture step's wrappers
    wrapper = _wrap(func, None, None, inner=True, only_with_output=only_with_output)
    _policy.set_own(wrapper, _policy.check(slower_than=time_limit))  # above the limit: kept in full
    return wrapper


def intercept(func=None, *, result=None, strict=None, inner=False, inner_args=False, **policy):
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

    inner:  also record the calls made inside the function (callee, line,
            start, duration, raised), stored with each call's outcome and
            read as ``db.call(f, n).inner`` (docs/inner-calls.md). The
            function's source is rewritten as ``wrap_calls()`` does.
    inner_args: with inner, also record each inner call as a call of its
            own, with its arguments and result, child of the outer call
            (``db.children(call)``); the capture policies apply to it.
    The wrapped callable behaves exactly like `func`: same return value,
    same exceptions, same signature and metadata.
    """
    options = _policy.check(**policy)  # TypeError / ValueError now, not at the first call
    same = dict(result=result, strict=strict, inner=inner, inner_args=inner_args, **options)
    if func is None:
        return lambda f: intercept(f, **same)
    if isinstance(func, staticmethod):
        return staticmethod(intercept(func.__func__, **same))
    if isinstance(func, classmethod):
        return classmethod(intercept(func.__func__, **same))
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
    if inner_args and not inner:
        raise ValueError("intercept(inner_args=True) records the arguments of inner calls: it needs inner=True")
    if inner:
        func = _rewritten_for_inner(func, inner_args=bool(inner_args))
    wrapper = _wrap(func, result, strict, inner=bool(inner))
    _policy.set_own(wrapper, options)
    return wrapper
