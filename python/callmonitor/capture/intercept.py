"""``@intercept``: record every call of a callable."""
import functools
import inspect
from typing import Any, Callable, Optional, TypeVar, overload

from .. import _core


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


def _wrap(func, result, strict, watch=None, yields=False):
    """A callable recording the calls of `func` that looks like `func` to
    Python: an Interceptor (with `watch`, a WatchOptions: the Watched subtype
    callmonitor.watch places), or, for coroutine, generator and async
    generator functions, a Python function of the same kind over one."""
    kind = _call_kind(func) if watch is None else None
    if watch is None:
        wrapper = core = _core.Interceptor(func, _flag(result), _flag(strict), yields=bool(yields))
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
              yields: bool = False) -> F: ...
@overload
def intercept(func: None = None, *, result: Optional[bool] = None,
              strict: Optional[bool] = None, yields: bool = False) -> Callable[[F], F]: ...


def intercept(func=None, *, result=None, strict=None, yields=False):
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
            (kept in memory until the generator ends). Default: only count them.
    The wrapped callable behaves exactly like `func`: same return value,
    same exceptions, same signature and metadata; ``inspect.iscoroutinefunction``,
    ``isgeneratorfunction`` and ``isasyncgenfunction`` say the same of both.
    """
    if func is None:
        return lambda f: intercept(f, result=result, strict=strict, yields=yields)
    if isinstance(func, staticmethod):
        return staticmethod(intercept(func.__func__, result=result, strict=strict, yields=yields))
    if isinstance(func, classmethod):
        return classmethod(intercept(func.__func__, result=result, strict=strict, yields=yields))
    if isinstance(func, _core.Interceptor) or isinstance(getattr(func, "__callmonitor_interceptor__", None),
                                                        _core.Interceptor):
        return func
    if not callable(func):
        raise TypeError(f"intercept() needs a callable, got {type(func).__name__}")
    if type(func) is functools.partial:
        return _bound_partial(func, intercept(func.func, result=result, strict=strict, yields=yields))
    return _wrap(func, result, strict, yields=yields)


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
