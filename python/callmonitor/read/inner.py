"""The inner calls recorded with ``@intercept(inner=True)``: per call
(``db.call(f, n).inner``) and per call site over all calls (``db.profile(f)``,
``callmonitor profile``). See docs/inner-calls.md."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from .. import _core
from .._call_at_site import CallAtSite, SiteTimes


@dataclass(frozen=True)
class InnerSite:
    """A call site inside the function: the callee as written (``a.run``,
    ``int``, ``obj["k"]``), its resolved qualified name (the callee as written
    when the site was never called while recording), line, column, awaited."""
    index: int
    callee: str
    name: str
    line: int
    column: int
    awaited: bool


def inner_sites(record) -> List[InnerSite]:
    """The call-site table of a function record (empty without inner=True)."""
    return [InnerSite(i, s.callee, s.name or s.callee, s.line, s.column, s.awaited)
            for i, s in enumerate(record.inner_sites)]


@dataclass(frozen=True)
class RecordedInnerCall(CallAtSite):
    """One call made inside a recorded call: where (its site: ``callee`` and
    ``line`` are the site's), when (seconds from the outer call's start), for
    how long, and whether it raised."""
    site: InnerSite
    start: float
    duration: float
    raised: bool

    @property
    def name(self) -> str:
        return self.site.name


@dataclass(frozen=True)
class InnerSiteTotal:
    """Inner calls past the recorder's per-invocation entry limit: only counted
    and summed per site."""
    site: InnerSite
    count: int
    total: float


def _unknown_site(index: int) -> InnerSite:
    return InnerSite(index, f"<site {index}>", f"<site {index}>", 0, 0, False)


class InnerCalls(Sequence[RecordedInnerCall]):
    """The inner calls of one recorded call, in call order; ``summed``: those
    past the entry limit, per site. Prints as a table."""

    def __init__(self, calls: List[RecordedInnerCall], summed: List[InnerSiteTotal]):
        self._calls = calls
        self.summed = summed

    def __getitem__(self, i):
        return self._calls[i]

    def __len__(self) -> int:
        return len(self._calls)

    @property
    def made(self) -> int:
        """All inner calls made, summed ones included."""
        return len(self._calls) + sum(s.count for s in self.summed)

    def rows(self) -> List[dict]:
        return [{"callee": c.callee, "name": c.name, "line": c.line, "start_s": c.start,
                 "duration_s": c.duration, "raised": c.raised} for c in self._calls]

    def __str__(self) -> str:
        lines = [f"{'line':>5}  {'callee':<28} {'start':>10} {'duration':>10}  raised"]
        for c in self._calls:
            callee = c.callee if c.name == c.callee else f"{c.callee} ({c.name})"
            lines.append(f"{c.line:>5}  {callee:<28.60} {c.start * 1e3:>8.3f}ms {c.duration * 1e3:>8.3f}ms"
                         f"  {'yes' if c.raised else ''}")
        for s in self.summed:
            lines.append(f"{s.site.line:>5}  {s.site.callee:<28.60} + {s.count} more, {s.total * 1e3:.3f}ms in all")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<InnerCalls: {self.made} inner calls>"


def decode_inner_calls(encoded: Optional[bytes], sites: List[InnerSite]) -> Optional[InnerCalls]:
    """The InnerCalls of a call record's InnerCalls ext bytes (None: not recorded)."""
    if encoded is None:
        return None
    entries, summed = _core.decode_inner_calls(encoded)

    def site(i):
        return sites[i] if i < len(sites) else _unknown_site(i)

    return InnerCalls([RecordedInnerCall(site(s), start * 1e-9, duration * 1e-9, raised)
                       for s, start, duration, raised in entries],
                      [InnerSiteTotal(site(s), count, total * 1e-9) for s, (count, total) in sorted(summed.items())])


@dataclass(frozen=True)
class InnerSiteProfile(SiteTimes):
    """One call site over every recorded invocation: :class:`SiteTimes`."""
    site: InnerSite


@dataclass(frozen=True)
class InnerProfile:
    """``db.profile(f)``: per call site, longest total first."""
    function: str
    sites: List[InnerSiteProfile]
    calls: int                 # invocations read
    profiled: int              # of them, with inner calls recorded
    without_inner_calls: int   # pending, or recorded without inner=True
    undecodable: int

    def rows(self) -> List[dict]:
        return [{"callee": r.site.callee, "name": r.site.name, "line": r.site.line, "count": r.count,
                 "raised": r.raised, "total_s": r.total, "mean_s": r.mean, "p50_s": r.p50, "p95_s": r.p95,
                 "max_s": r.max, "invocations": r.invocations} for r in self.sites]


def build_profile(function: str, sites: List[InnerSite], rows: List[dict], counts: dict) -> InnerProfile:
    out = []
    for r in rows:
        i = r["site"]
        site = sites[i] if i < len(sites) else _unknown_site(i)
        out.append(InnerSiteProfile(site=site, **SiteTimes.fields_of(r)))
    out.sort(key=lambda s: (-s.total, s.site.index))
    return InnerProfile(function, out, counts["calls"], counts["profiled"], counts["without_inner_calls"],
                        counts["undecodable"])
