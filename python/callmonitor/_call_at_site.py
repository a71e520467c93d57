"""The shape an inner call has at both stages: a live one
(:class:`callmonitor.inner.calls.InnerCall`, capture side) and a recorded one
(:class:`callmonitor.read.inner.RecordedInnerCall`, read side). Neutral: the read
side must not import the capture-side ``inner`` package."""
from __future__ import annotations

from typing import Any


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
