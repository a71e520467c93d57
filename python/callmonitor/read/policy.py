"""A writer's capture policies as its database keeps them (meta["policy"],
docs/format.md): per function the calls seen, kept and dropped per reason,
the options in force and the session's seed; and why a call is missing.

Which calls first=, every=, sample= and max_calls= drop is decided by the
same native code that decided it at capture (capture_policy.h, through
``_core._policy_before``), from the seed stored here.
"""
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .. import _core


@dataclass
class FunctionCounts:
    """Calls of one function in one writer: ``seen`` (made while recording),
    ``kept`` (recorded), ``dropped`` per policy (``{"every": 80}``), and the
    ``options`` in force (max_calls, first, every, sample, max_bytes, keep,
    slower_than, exclude)."""
    seen: int
    kept: int
    dropped: Dict[str, int] = field(default_factory=dict)
    options: Dict[str, Any] = field(default_factory=dict)
    #: the options of the function's other interceptors, when they differ
    #: (``a = intercept(f, every=10); b = intercept(f, first=5)``)
    also: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def policy_text(self) -> str:
        """The options that drop or shape calls, as written: "every=5, max_bytes=1000";
        one function intercepted with different options: "every=10 | first=5"."""
        texts = [_options_text(o) for o in [self.options] + self.also]
        return " | ".join(t or "no policy" for t in texts) if self.also else texts[0]


def _options_text(o: Dict[str, Any]) -> str:
    parts: List[str] = []
    for name, default in (("first", 0), ("every", 1), ("sample", 1), ("max_calls", 0), ("max_bytes", 0)):
        if o.get(name, default) != default:
            parts.append(f"{name}={o[name]}")
    if o.get("keep", "all") != "all":
        parts.append(f"keep={o['keep']!r}")
    if o.get("slower_than") is not None:
        parts.append(f"slower_than={o['slower_than']}")
    if o.get("exclude"):
        parts.append(f"exclude={o['exclude']!r}")
    return ", ".join(parts)


@dataclass
class PolicyRecord:
    seed: int = 0
    max_db_bytes: int = 0
    stopped: Optional[Dict[str, int]] = None   # {"function": fid, "invocation": n}: max_db_bytes reached
    functions: Dict[int, FunctionCounts] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, function_base: int = 0) -> Optional["PolicyRecord"]:
        """None for a writer without one (older, or merged by an older
        callmonitor). `function_base`: added to the function ids (a merged
        source's counts are stored by its own ids)."""
        if not text:
            return None
        try:
            d = json.loads(text)
            functions = {int(k) + function_base: FunctionCounts(int(v["seen"]), int(v["kept"]), dict(v.get("dropped", {})),
                                                dict(v.get("options", {})), [dict(a) for a in v.get("also", [])])
                         for k, v in d.get("functions", {}).items()}
            return cls(int(d.get("seed", 0)), int(d.get("max_db_bytes", 0)), d.get("stopped"), functions)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # unreadable counts never hide the calls themselves


def why_not_recorded(record: Optional[PolicyRecord], fid: int, full_name: str, invocation: int,
                     last_kept: int) -> Optional[str]:
    """Which policy dropped call `invocation` of function `fid` (a sentence),
    or None when no policy explains its absence (it was never made)."""
    if record is None:
        return None
    counts = record.functions.get(fid)
    if counts is None or not 1 <= invocation <= counts.seen:
        return None
    by_db = counts.dropped.get("max_db_bytes", 0)
    if by_db and invocation > counts.seen - by_db:  # every call after the limit is dropped
        return _core._policy_explain("max_db_bytes") + f" ({record.max_db_bytes} bytes)"
    if not counts.also:
        return _why(counts.options, record.seed, counts, full_name, invocation, last_kept)
    # Intercepted with different options: which interceptor made the call is
    # not stored; the reasons any of them would give.
    reasons = [r for r in (_why(o, record.seed, counts, full_name, invocation, last_kept)
                           for o in [counts.options] + counts.also) if r]
    return "by one of its interceptors' policies: " + "; or ".join(dict.fromkeys(reasons)) if reasons else None


def _why(o: Dict[str, Any], seed: int, counts: FunctionCounts, full_name: str, invocation: int,
         last_kept: int) -> Optional[str]:
    reason, text = _core._policy_before(int(o.get("first", 0)), int(o.get("every", 1)), float(o.get("sample", 1)),
                                        0, seed, full_name, invocation, 0)
    if reason != "kept":
        return text
    if o.get("max_calls") and counts.kept >= o["max_calls"] and invocation > last_kept:
        return _core._policy_explain("max_calls", 0.0, int(o["max_calls"]))
    if o.get("keep") == "raised":
        return _core._policy_explain("keep")
    if o.get("slower_than") is not None:
        return _core._policy_explain("slower_than", float(o["slower_than"]))
    if o.get("max_calls") and counts.kept >= o["max_calls"]:
        return _core._policy_explain("max_calls", 0.0, int(o["max_calls"]))
    return None
