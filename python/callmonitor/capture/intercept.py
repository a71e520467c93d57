"""``@intercept``: record every call of a callable."""
import functools
import inspect
from typing import Any, Callable, Optional, TypeVar, overload

from .. import _core
from . import policy as _policy


def _flag(value):
    return -1 if value is None else int(bool(value))


# begin_call's kinds (call_iteration.cpp).
_COROUTINE, _GENERATOR, _ASYNC_GENERATOR = 0, 1, 2


def _call_kind(func):
    """_COROUTINE / _GENERATOR / _ASYNC_GENERATOR when calling `func` returns
    one (``async def``, a generator function, ``async def`` with ``yield``;
    partials of them too), else None."""
    if inspect.iscoroutinefunction(func):
        return _COROUTINE
    if inspect.isasyncgenfunction(func):
        return _ASYNC_GENERATOR
    if inspect.isgeneratorfunction(func):
        return _GENERATOR
    return None


def _python_wrapper(core, kind):
    """A Python function of the same kind as the wrapped one (inspect and
    asyncio tell what it is by its code), whose body records the call through
    `core`'s capture step when it starts running: the first ``await`` of the
    coroutine, the first item asked of the generator."""
    begin = _core.begin_call
    if kind == _COROUTINE:
        async def wrapper(*args, **kwargs):
            return await begin(core, args, kwargs, _COROUTINE)
    elif kind == _GENERATOR:
        def wrapper(*args, **kwargs):
            return (yield from begin(core, args, kwargs, _GENERATOR))
    else:
        async def wrapper(*args, **kwargs):
            call = begin(core, args, kwargs, _ASYNC_GENERATOR)
            agen = call.inner
            try:
                item = await agen.__anext__()
                while True:
                    call._yielded(item)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as e:  # thrown in by athrow(): into the inner generator
                        item = await agen.athrow(e)
                    else:
                        item = await agen.asend(sent)
            except StopAsyncIteration:
                call._returned(None)
            except GeneratorExit:  # aclose(), or collected unfinished
                try:
                    await agen.aclose()
                except BaseException as e:
                    call._raised(e)
                    raise
                call._closed()
                raise
            except BaseException as e:
                call._raised(e)
                raise
    return wrapper


def _wrap(func, result, strict, watch=None, yields=False, inner=False, only_with_output=False):
    """A callable recording the calls of `func` that looks like `func` to
    Python: an Interceptor (with `watch`, a WatchOptions: the Watched subtype
    callmonitor.watch places), or, for coroutine, generator and async
    generator functions, a Python function of the same kind over one (a
    watch's too: begin_call applies its caller filter).
    inner: `func` is rewritten by callmonitor.inner (its inner calls go with
    each call's outcome); only_with_output: recorded only once an output
    was chosen (flat_profile)."""
    kind = _call_kind(func)
    if watch is None:
        wrapper = core = _core.Interceptor(func, _flag(result), _flag(strict), yields=bool(yields),
                                           inner=bool(inner), only_with_output=bool(only_with_output))
    else:
        wrapper = core = _core.Watched(func, _flag(result), _flag(strict), watch)
    if kind is not None:
        wrapper = _python_wrapper(core, kind)
        wrapper.__callmonitor_target__ = func
        wrapper.__callmonitor_interceptor__ = core
    target = func.func if isinstance(func, functools.partial) else func
    try:
        functools.update_wrapper(wrapper, target)
    except Exception:  # builtins without some attributes: keep what is there
        pass
    wrapper.__wrapped__ = func
    for attr in ("__defaults__", "__kwdefaults__"):  # a function's, as inspect and users read them
        if hasattr(target, attr) and kind is None:
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


def _rewritten_for_inner(func, inner_args=False):
    """`func` rewritten so that every call inside it is timed (callmonitor.inner),
    each invocation's inner calls handed to the Interceptor around it. A
    function without source is returned as it is, with an InnerCallsWarning."""
    from ..inner.rewrite import CallSelection  # the inner-call front end, loaded only when used
    from ..inner.wrap import rewrite_calls
    return rewrite_calls(func, what="intercept(inner=True)", wrapper=None,
                         selection=CallSelection(False, None, None), rewrite_details=None, attach=True,
                         inner_args=inner_args)


def _interceptor_of(wrapper):
    """The Interceptor that records (the wrapper itself, or the one inside a
    coroutine/generator function's Python wrapper): it carries the policy."""
    return getattr(wrapper, "__callmonitor_interceptor__", wrapper)


def profiled(func, time_limit: float, only_with_output: bool):
    """flat_profile's recording of `func` (rewritten with attach=True): each
    call with its inner calls, kept when slower than `time_limit`; with
    only_with_output, only when an output was chosen (configure(output=...)
    or $CALLMONITOR_DIR) at the time of the call."""
    if isinstance(func, (staticmethod, classmethod)):
        return type(func)(profiled(func.__func__, time_limit, only_with_output))
    wrapper = _wrap(func, None, None, inner=True, only_with_output=only_with_output)
    _policy.set_own(_interceptor_of(wrapper), _policy.check(slower_than=time_limit))  # above the limit: kept
    return wrapper


@overload
def intercept(func: F, *, result: Optional[bool] = None, strict: Optional[bool] = None,
              yields: bool = False, inner: bool = False, inner_args: bool = False, **policy: Any) -> F: ...
@overload
def intercept(func: None = None, *, result: Optional[bool] = None,
              strict: Optional[bool] = None, yields: bool = False, inner: bool = False,
              inner_args: bool = False, **policy: Any) -> Callable[[F], F]: ...


def intercept(func=None, *, result=None, strict=None, yields=False, inner=False, inner_args=False, **policy):
    """Record every call of `func` into the callmonitor database.

    Use as ``@intercept`` or ``@intercept(result=False)``; also on builtins
    (``dot = intercept(numpy.dot)``), ``functools.partial`` objects (recorded as
    calls of their function, frozen arguments included), methods,
    ``staticmethod`` / ``classmethod`` objects, generators and coroutines.

    result: record the return value (default: the session setting, on). For
            an ``async def`` function, what the awaited call returned; for a
            generator, its return value (the items yielded are counted).
    strict: raise TypeError when an argument cannot be captured, before the
            function runs (default: the session setting, off — a placeholder
            is stored instead). For tests.
    yields: generators and async generators: also record every item yielded
            (kept in memory until the generator ends; read as a list, [] for
            none). Default: only count them.

    A coroutine or generator call is recorded when its body starts: the first
    ``await`` of the coroutine, the first item asked of the generator. Its
    inputs are then the ones the body runs with, and a generator created but
    never iterated is not recorded (nor counted by the policies): capturing
    at creation would need a wrapper that is not a Python function.
    Intercept a plain function returning the generator to record creation.
    inner:  also record the calls made inside the function (callee, line,
            start, duration, raised), stored with each call's outcome and
            read as ``db.call(f, n).inner`` (docs/inner-calls.md). The
            function's source is rewritten as ``wrap_calls()`` does.
    inner_args: with inner, also record each inner call as a call of its
            own, with its arguments and result, child of the outer call
            (``db.children(call)``); the capture policies apply to it.

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
    same exceptions, same signature and metadata; ``inspect.iscoroutinefunction``,
    ``isgeneratorfunction`` and ``isasyncgenfunction`` say the same of both.
    """
    options = _policy.check(**policy)  # TypeError / ValueError now, not at the first call
    same = dict(result=result, strict=strict, yields=yields, inner=inner, inner_args=inner_args, **options)
    if func is None:
        return lambda f: intercept(f, **same)
    if isinstance(func, staticmethod):
        return staticmethod(intercept(func.__func__, **same))
    if isinstance(func, classmethod):
        return classmethod(intercept(func.__func__, **same))
    if isinstance(func, _core.Interceptor) or isinstance(getattr(func, "__callmonitor_interceptor__", None),
                                                        _core.Interceptor):
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
    if inner_args and not inner:
        raise ValueError("intercept(inner_args=True) records the arguments of inner calls: it needs inner=True")
    if type(func) is functools.partial:
        return _bound_partial(func, intercept(func.func, **same))
    if inner:
        func = _rewritten_for_inner(func, inner_args=bool(inner_args))
    wrapper = _wrap(func, result, strict, yields=yields, inner=bool(inner))
    _policy.set_own(_interceptor_of(wrapper), options)
    return wrapper


def _bound_partial(original, recorded):
    """The same partial over the recording wrapper of its function: a call
    records the whole call the partial makes (frozen arguments first, then
    the call's; keywords merged, the call's winning), so it replays as a call
    of the function itself."""
    bound = functools.partial(recorded, *original.args, **original.keywords)
    bound.__wrapped__ = original
    bound.__callmonitor_target__ = original.func
    bound.__callmonitor_interceptor__ = getattr(recorded, "__callmonitor_interceptor__", recorded)
    return bound
