"""wrap_calls: route every call inside a function through a wrapper (recompyle's contract)."""
from __future__ import annotations

import types
import warnings
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from .. import _core
from .calls import InnerFunction
from .rewrite import MARKER, PROFILE, WRAP, CallSelection, FunctionRewrite, NoSourceError, unwrap_method

F = TypeVar("F", bound=Callable[..., Any])


class InnerCallsWarning(UserWarning):
    """A function could not be rewritten (no source, not a Python function): it runs unwrapped."""


def _awaited_for(profile: _core.InnerProfile):
    """The recorder of ``await callee(...)``: timed until the await ends, not only the call."""
    now, add = profile.now_ns, profile.add

    async def awaited(calls, site, callee, /, *args, **kwargs):
        start = now()
        raised = True
        try:
            result = await callee(*args, **kwargs)
            raised = False
            return result
        finally:
            add(calls, site, callee, start, raised)

    return awaited


def rewrite_calls(func, *, what: str, wrapper: Callable | None, selection: CallSelection,
                  rewrite_details: dict | None,
                  finish: Callable[[InnerFunction, Callable], Callable | None] | None = None,
                  fallback: Callable[[Callable], Callable] | None = None, attach: bool = False,
                  inner_args: bool = False):
    """Rewrites `func` (a function, staticmethod or classmethod).

    wrapper: the user's wrapper, or None to record with the native InnerProfile
    (the last invocation per thread is kept for ``info.last()``);
    finish(info, new_function) -> callable(InnerCalls) run when an invocation ends;
    fallback(func) -> what to return when there is no source (default: func);
    attach: each invocation's inner calls go to the @intercept(inner=True)
    around it (capture/inner_calls.h), to be stored with its outcome;
    inner_args: each inner call is also recorded as a call of its own, with
    its arguments, child of that invocation (capture/call_capture.h)."""
    target, rewrap = unwrap_method(func)
    if not isinstance(target, types.FunctionType):
        warnings.warn(f"{what}: {target!r} is not a Python function (no source to rewrite); "
                      f"it runs unwrapped", InnerCallsWarning, stacklevel=3)
        return func
    if MARKER in target.__dict__:
        raise ValueError(f"{what}: {target.__qualname__} is already rewritten by callmonitor; "
                         f"apply wrap_calls or flat_profile once")
    recording = wrapper is None
    try:
        rewrite = FunctionRewrite(target, recording, selection)
        if recording:
            profile = _core.InnerProfile(len(rewrite.sites), keep_last=True, attach=attach, inner_args=inner_args)
            profile.awaited = _awaited_for(profile)
            cells = {PROFILE: profile}
        else:
            profile = None
            cells = {WRAP: wrapper}
        new = rewrite.build(cells)
    except NoSourceError as e:
        warnings.warn(f"{what}: {e}; it runs unwrapped", InnerCallsWarning, stacklevel=3)
        return rewrap(fallback(target)) if fallback else func
    info = InnerFunction(target, rewrite.sites, profile)
    if recording and finish is not None:
        profile.finish = finish(info, new)
    setattr(new, MARKER, info)
    if rewrite_details is not None:
        rewrite_details["original_func"] = target
        rewrite_details["original_source"] = rewrite.original_source
        rewrite_details["new_source"] = rewrite.new_source
        rewrite_details["sites"] = list(rewrite.sites)
    return rewrap(new)


def wrap_calls(wrapper: Callable | None = None, *, ignore_builtins: bool = False,
               blacklist: Collection[str] | None = None, whitelist: Collection[str] | None = None,
               rewrite_details: dict | None = None) -> Callable[[F], F]:
    """Decorator: every call inside the function goes through `wrapper`.

    ``wrapper(call, *args, **kwargs)`` must call ``call(*args, **kwargs)`` and
    return its result (recompyle's contract). Without a wrapper, a native
    recorder times each inner call; ``callmonitor.inner.inner_function(f).last()``
    gives the last invocation's inner calls in this thread.

    ignore_builtins: do not wrap calls of builtins (``int(...)``, ``len(...)``).
    blacklist / whitelist: call names not to wrap / the only ones to wrap, as
    written with string subscripts unquoted (``"a.b[k].run"``); a subscript
    may be ``[*]``. rewrite_details: a dict that receives ``original_func``,
    ``original_source``, ``new_source`` and ``sites``.

    The function keeps its signature, name, docstring, defaults, closure
    cells and ``__wrapped__`` (the original). Frame-sensitive calls
    (``locals()``, ``super()``, ``sys._getframe()``, ...) are not wrapped.
    A function without source runs unwrapped, with an InnerCallsWarning.
    Use it with parentheses: ``@wrap_calls()`` or ``@wrap_calls(my_wrapper)``.
    """
    if wrapper is not None and not callable(wrapper):
        raise TypeError(f"wrap_calls: wrapper must be callable (wrapper(call, *args, **kwargs)), "
                        f"got {type(wrapper).__name__}")
    if rewrite_details is not None and not isinstance(rewrite_details, dict):
        raise TypeError("wrap_calls: rewrite_details must be a dict (it receives the sources)")
    selection = CallSelection(ignore_builtins, blacklist, whitelist)

    def decorate(func: F) -> F:
        return rewrite_calls(func, what="wrap_calls", wrapper=wrapper, selection=selection,
                             rewrite_details=rewrite_details)

    return decorate
