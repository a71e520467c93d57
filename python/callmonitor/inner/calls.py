"""What a rewritten function recorded: its call sites and its invocations' inner calls."""
from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Iterable

from .. import _core
from .._call_at_site import CallAtSite, SiteTimes
from .rewrite import CallSite


@dataclasses.dataclass(frozen=True)
class InnerCall(CallAtSite):
    """One inner call of an invocation (``callee`` and ``line`` are its site's).
    Times in seconds; `start` from the invocation's start."""
    site: CallSite
    name: str          # the callee's qualified name, resolved at the site's first call
    start: float
    duration: float
    raised: bool


@dataclasses.dataclass(frozen=True)
class SiteTotal:
    """Inner calls of one site in one invocation: how many, and their summed duration (s)."""
    site: CallSite
    name: str
    count: int
    total: float


def _seconds(value: float) -> str:
    """1.23 s, 4.56 ms, 7.89 us, 12 ns."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.0f} ns"


class InnerInvocation:
    """The inner calls of one finished (or running) invocation of a rewritten function.

    ``calls`` lists them in call order; past the entry limit (100,000 calls per
    invocation) calls are only summed per site (``overflow``); ``by_site()``
    and ``times()`` include both."""

    def __init__(self, function: InnerFunction, buffer: _core.InnerCalls):
        self.function = function
        self._buffer = buffer
        self._names = function.profile.names if function.profile is not None else []

    def _name(self, site: int) -> str:
        return self._names[site] or self.function.sites[site].callee

    @property
    def total(self) -> float:
        """Duration of the invocation, s (for a generator or coroutine: first resume to end)."""
        return self._buffer.total_ns * 1e-9

    @property
    def finished(self) -> bool:
        return self._buffer.closed

    @property
    def calls(self) -> list[InnerCall]:
        sites = self.function.sites
        return [InnerCall(sites[s], self._name(s), start * 1e-9, duration * 1e-9, raised)
                for s, start, duration, raised in self._buffer.records()]

    @property
    def overflow(self) -> list[SiteTotal]:
        """Per site, the calls past the entry limit (not kept one by one)."""
        sites = self.function.sites
        return [SiteTotal(sites[s], self._name(s), count, total * 1e-9)
                for s, (count, total) in sorted(self._buffer.overflow().items())]

    def __len__(self) -> int:
        return len(self._buffer)

    def encode(self) -> bytes:
        """The inner calls as bytes (include/callmonitor/inner_calls.h): what a record stores."""
        return self._buffer.encode()

    def by_site(self) -> list[SiteTotal]:
        """Per call site: count and total duration, longest first."""
        counts: dict[int, list] = {}
        for s, _start, duration, _raised in self._buffer.records():
            entry = counts.setdefault(s, [0, 0])
            entry[0] += 1
            entry[1] += duration
        for s, (count, total) in self._buffer.overflow().items():
            entry = counts.setdefault(s, [0, 0])
            entry[0] += count
            entry[1] += total
        sites = self.function.sites
        out = [SiteTotal(sites[s], self._name(s), c, t * 1e-9) for s, (c, t) in counts.items()]
        return sorted(out, key=lambda t: t.total, reverse=True)

    def times(self) -> dict[str, list[float]]:
        """recompyle's TimeDict: callee name -> durations (s) in call order.

        Calls past the entry limit appear as one summed duration per site."""
        out: dict[str, list[float]] = {}
        names = [self._name(s) for s in range(len(self.function.sites))]
        for s, _start, duration, _raised in self._buffer.records():
            out.setdefault(names[s], []).append(duration * 1e-9)
        for s, (_count, total) in self._buffer.overflow().items():
            out.setdefault(names[s], []).append(total * 1e-9)
        return out

    def __str__(self) -> str:
        """A flat profile: one line per call site, longest total first."""
        rows = self.by_site()
        head = f"{self.function.qualname}: {len(self)} inner calls in {_seconds(self.total)}"
        if not rows:
            return head
        callee_width = max(len("callee"), *(len(r.site.callee) for r in rows))
        name_width = max(len("name"), *(len(r.name) for r in rows))
        lines = [head, f"{'line':>6}  {'callee':{callee_width}}  {'name':{name_width}}  {'calls':>7}  {'total':>9}  "
                       f"{'share':>6}"]
        for r in rows:
            share = r.total / self.total if self.total > 0 else 0.0
            lines.append(f"{r.site.line:>6}  {r.site.callee:{callee_width}}  {r.name:{name_width}}  {r.count:>7}  "
                         f"{_seconds(r.total):>9}  {share:>6.1%}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "" if self.finished else ", running"
        return (f"<InnerInvocation of {self.function.qualname}: {len(self)} inner calls in "
                f"{self.total:.3g}s{state}>")


class InnerFunction:
    """What callmonitor knows about a rewritten function (its ``__callmonitor_inner__``).

    sites: the call sites, by site id; original: the function before the
    rewrite; profile: the native recorder (None with a user wrapper)."""

    def __init__(self, original: types.FunctionType, sites: list[CallSite], profile: _core.InnerProfile | None):
        self.original = original
        self.sites = sites
        self.profile = profile
        self.qualname = original.__qualname__

    def last(self) -> InnerInvocation | None:
        """The last finished invocation in this thread (wrap_calls() without a wrapper), or None."""
        buffer = self.profile.last() if self.profile is not None else None
        return None if buffer is None else InnerInvocation(self, buffer)

    def invocation(self, buffer: _core.InnerCalls) -> InnerInvocation:
        return InnerInvocation(self, buffer)

    def __repr__(self) -> str:
        kind = "recorded" if self.profile is not None else "wrapped"
        return f"<InnerFunction {self.qualname}: {len(self.sites)} call sites, {kind}>"


@dataclasses.dataclass(frozen=True)
class SiteProfile(SiteTimes):
    """One call site (and its callee's name) over many invocations: :class:`SiteTimes`."""
    site: CallSite
    name: str


def site_profile(function: InnerFunction, encoded: Iterable[bytes]) -> list[SiteProfile]:
    """Aggregates invocations (``InnerInvocation.encode()`` bytes) per call site, longest total first.

    The aggregation runs in C++ (callmonitor::SiteProfileBuilder), the code that
    ``callmonitor profile`` uses over a database's records."""
    names = function.profile.names if function.profile is not None else [None] * len(function.sites)
    rows = []
    for r in _core.inner_site_profile(encoded):
        s = r["site"]
        if s >= len(function.sites):
            raise ValueError(f"inner calls of {function.qualname} name call site {s}, but the function has "
                             f"{len(function.sites)}: were they recorded from another version of its source?")
        rows.append(SiteProfile(site=function.sites[s], name=names[s] or function.sites[s].callee,
                                **SiteTimes.fields_of(r)))
    return sorted(rows, key=lambda row: row.total, reverse=True)


def inner_function(func: Callable) -> InnerFunction | None:
    """The InnerFunction of a function made by wrap_calls/flat_profile, else None."""
    target = getattr(func, "__func__", func)
    return getattr(target, "__callmonitor_inner__", None)
