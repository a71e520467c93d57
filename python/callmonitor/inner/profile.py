"""flat_profile: time every call inside a function; report when the function is slow.

recompyle's contract: ``callback(total, limit, times, func)`` with the total
duration (s), the time limit, ``times`` (callee name -> durations in call
order) and the rewritten function; the below callback runs when
``total < time_limit``, the above one otherwise. The defaults log one line
below the limit and, above it, the inner calls' summed times, longest first.
"""
from __future__ import annotations

import functools
import inspect
import logging
import numbers
from collections.abc import Callable, Collection
from operator import itemgetter
from pprint import pformat
from typing import Any, Protocol, TypeVar

from .. import _core
from .calls import InnerFunction
from .rewrite import MARKER, CallSelection
from .wrap import rewrite_calls

log = logging.getLogger("callmonitor.flat_profile")

F = TypeVar("F", bound=Callable[..., Any])
TimeDict = dict[str, list[float]]


class ProfilerCallback(Protocol):
    def __call__(self, total: float, limit: float, times: TimeDict, func: Callable) -> None: ...


def _sorted_times(times: TimeDict):
    sums = ((name, sum(durations)) for name, durations in times.items())
    return (f"{name}: {total:.3g}s" for name, total in sorted(sums, key=itemgetter(1), reverse=True))


def default_below_log(total: float, limit: float, times: TimeDict, func: Callable) -> None:
    """Logs (INFO) the total of an invocation below the limit."""
    log.info(f"{func.__qualname__} finished in {total:g}s, below limit of {limit:g}s")


def default_above_log(total: float, limit: float, times: TimeDict, func: Callable) -> None:
    """Logs (INFO) the total of an invocation at or above the limit and its inner calls, longest first."""
    log.info(f"{func.__qualname__} finished in {total:g}s, above limit of {limit:g}s"
             f"\n{pformat(tuple(_sorted_times(times)))}")


def _finisher(limit: float, below: ProfilerCallback | None, above: ProfilerCallback | None):
    """finish(info, func) for rewrite_calls: picks and runs the callback when an invocation ends."""
    if below is None and above is None:
        return lambda info, func: None

    def make(info: InnerFunction, func: Callable):
        def finish(calls: _core.InnerCalls) -> None:
            total = calls.total_ns * 1e-9
            callback = below if total < limit else above
            if callback is None:
                return
            if callback is default_below_log or callback is default_above_log:
                if not log.isEnabledFor(logging.INFO):
                    return  # the default callbacks would log nothing: skip building the times
                if callback is default_below_log:
                    default_below_log(total, limit, {}, func)
                    return
            try:
                callback(total, limit, info.invocation(calls).times(), func)
            except Exception:  # a failing callback must not fail the profiled function
                log.exception("flat_profile callback %r for %s raised", callback, func.__qualname__)

        return finish

    return make


def flat_profile(time_limit: float, below_callback: ProfilerCallback | None = default_below_log,
                 above_callback: ProfilerCallback | None = default_above_log, *, ignore_builtins: bool = False,
                 blacklist: Collection[str] | None = None, whitelist: Collection[str] | None = None,
                 rewrite_details: dict | None = None, record: bool | None = None) -> Callable[[F], F]:
    """Decorator: times every call inside the function (natively) and the function itself.

    When an invocation ends, ``below_callback`` runs if it took less than
    `time_limit` seconds, ``above_callback`` otherwise (None: nothing runs).
    The call selection and rewrite_details are those of wrap_calls. Timing is
    per invocation: threads, recursion, generators and coroutines are safe;
    awaited calls are timed until their await ends.

    record: an invocation above the limit is also kept in the callmonitor
    database in full -- its inputs (captured before it ran), its outcome and
    its inner calls -- and one below it is dropped, so the slow call can be
    replayed. None (default): when an output is chosen at the time of the
    call (``configure(output=...)`` or ``$CALLMONITOR_DIR``); True: always
    (``./call-monitor`` by default); False: never.
    """
    if isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real) or time_limit < 0:
        raise TypeError(f"flat_profile: time_limit must be a number of seconds >= 0, got {time_limit!r}")
    for name, cb in (("below_callback", below_callback), ("above_callback", above_callback)):
        if cb is not None and not callable(cb):
            raise TypeError(f"flat_profile: {name} must be callable(total, limit, times, func) or None")
    if record is not None and not isinstance(record, bool):
        raise TypeError(f"flat_profile: record must be True, False or None, got {record!r}")
    limit = float(time_limit)
    make_finish = _finisher(limit, below_callback, above_callback)
    selection = CallSelection(ignore_builtins, blacklist, whitelist)

    def without_source(func):
        """No source: the function runs unwrapped; its total is still timed and reported."""
        if inspect.isgeneratorfunction(func) or inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            return func
        profile = _core.InnerProfile(0, keep_last=True)
        begin, end = profile.begin, profile.end

        @functools.wraps(func)
        def timed(*args, **kwargs):
            calls = begin()
            try:
                return func(*args, **kwargs)
            finally:
                end(calls)

        info = InnerFunction(func, [], profile)
        profile.finish = make_finish(info, timed)
        setattr(timed, MARKER, info)
        return timed

    def decorate(func: F) -> F:
        new = rewrite_calls(func, what="flat_profile", wrapper=None, selection=selection,
                            rewrite_details=rewrite_details, finish=make_finish, fallback=without_source,
                            attach=record is not False)
        if record is False:
            return new
        from ..capture.intercept import profiled  # the capture front end, loaded only when used
        recorded = profiled(new, limit, only_with_output=record is None)
        outer = getattr(recorded, "__func__", recorded)  # staticmethod / classmethod
        info = getattr(getattr(new, "__func__", new), MARKER, None)
        if info is not None and info.profile is not None and outer is not getattr(new, "__func__", new):
            info.profile.finish = make_finish(info, outer)  # callbacks get what the user holds
        return recorded

    return decorate
