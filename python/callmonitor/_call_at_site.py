"""The shapes inner calls have at both stages: a call at a site, live
(:class:`callmonitor.inner.calls.InnerCall`, capture side) or recorded
(:class:`callmonitor.read.inner.RecordedInnerCall`, read side), and a site's
times over many invocations (``SiteProfile`` and ``InnerSiteProfile``). Neutral:
the read side must not import the capture-side ``inner`` package."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


class CallAtSite:
    """A call made at a call site (``self.site``: any object with ``callee`` and
    ``line``): the callee as written there and its line are the site's."""

    __slots__ = ()
    site: Any

    @property
    def callee(self) -> str:
        """The callee as written at the call site (``a.run``, ``int``, ``obj["k"]``)."""
        return self.site.callee

    @property
    def line(self) -> int:
        """The call site's line in the function's file."""
        return self.site.line


@dataclass(frozen=True)
class SiteTimes:
    """One call site over many invocations. Times in seconds; p50/p95 are
    nearest-rank percentiles of the calls kept one by one (``summed`` calls,
    past the per-invocation entry limit, count in count/total/mean)."""
    count: int
    raised: int
    total: float
    mean: float
    p50: float
    p95: float
    max: float
    summed: int
    invocations: int

    @staticmethod
    def fields_of(row: Mapping[str, Any]) -> dict:
        """The fields from a row of C++'s site profile (SiteProfileBuilder; ns)."""
        return {"count": row["count"], "raised": row["raised"], "total": row["total_ns"] * 1e-9,
                "mean": row["mean_ns"] * 1e-9, "p50": row["p50_ns"] * 1e-9, "p95": row["p95_ns"] * 1e-9,
                "max": row["max_ns"] * 1e-9, "summed": row["summed"], "invocations": row["invocations"]}
