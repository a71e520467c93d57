"""API drift between two models (two runs, two labels, two JSON files):
functions, parameters, argument and return types and exceptions that
appeared or disappeared, and counts that changed by more than a threshold."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

from .api import ApiModel, FunctionApi

DEFAULT_THRESHOLD = 0.25   # relative change of a count that is reported


@dataclass(frozen=True)
class ApiChange:
    """One difference. `what` says which part changed (see CHANGE_KINDS)."""
    what: str
    function: str
    item: str = ""             # parameter, type or exception concerned
    old: Optional[int] = None  # its count in the old model (None: absent)
    new: Optional[int] = None

    def __str__(self):
        where = f"{self.function}" + (f": {self.item}" if self.item else "")
        counts = {None: "absent"}
        return f"{self.what:<22} {where} ({counts.get(self.old, self.old)} -> {counts.get(self.new, self.new)})"

    def to_json(self) -> Dict:
        return asdict(self)


CHANGE_KINDS = ("function added", "function removed", "parameter added", "parameter removed",
                "type appeared", "type disappeared", "return appeared", "return disappeared",
                "exception appeared", "exception disappeared", "yield appeared", "yield disappeared",
                "parameter now passed", "parameter now unused",
                "calls changed", "type count changed", "exception count changed", "items yielded changed")


def _changed(old: int, new: int, threshold: float) -> bool:
    return abs(new - old) > threshold * max(old, 1)


def _counts(out: List[ApiChange], name: str, old: Dict[str, int], new: Dict[str, int], noun: str,
            threshold: float, prefix: str = "") -> None:
    for k in new:
        if k not in old:
            out.append(ApiChange(f"{noun} appeared", name, prefix + k, None, new[k]))
        elif _changed(old[k], new[k], threshold):
            out.append(ApiChange(f"{'type' if noun != 'exception' else noun} count changed", name, prefix + k,
                                 old[k], new[k]))
    for k in old:
        if k not in new:
            out.append(ApiChange(f"{noun} disappeared", name, prefix + k, old[k], None))


def _function(out: List[ApiChange], old: FunctionApi, new: FunctionApi, threshold: float) -> None:
    name = new.full_name
    if _changed(old.calls, new.calls, threshold):
        out.append(ApiChange("calls changed", name, "", old.calls, new.calls))
    op = {p.name: p for p in old.parameters}
    np_ = {p.name: p for p in new.parameters}
    for p in new.parameters:
        if p.name not in op:
            out.append(ApiChange("parameter added", name, p.name, None, p.passed))
            continue
        q = op[p.name]
        if q.never_passed and not p.never_passed:
            out.append(ApiChange("parameter now passed", name, p.name, 0, p.passed))
        elif p.never_passed and not q.never_passed:
            out.append(ApiChange("parameter now unused", name, p.name, q.passed, 0))
        _counts(out, name, q.types, p.types, "type", threshold, f"{p.name}: ")
    for p in old.parameters:
        if p.name not in np_:
            out.append(ApiChange("parameter removed", name, p.name, p.passed, None))
    _counts(out, name, old.returns, new.returns, "return", threshold)
    _counts(out, name, old.exceptions, new.exceptions, "exception", threshold)
    _counts(out, name, old.generator.yielded, new.generator.yielded, "yield", threshold, "yields: ")
    if _changed(old.generator.yields.total, new.generator.yields.total, threshold):
        out.append(ApiChange("items yielded changed", name, "", old.generator.yields.total,
                             new.generator.yields.total))


def diff(old: ApiModel, new: ApiModel, threshold: float = DEFAULT_THRESHOLD) -> List[ApiChange]:
    """Everything that differs between `old` and `new`, function by function."""
    out: List[ApiChange] = []
    for name, f in new.functions.items():
        if name not in old.functions:
            out.append(ApiChange("function added", name, "", None, f.calls))
        else:
            _function(out, old.functions[name], f, threshold)
    for name, f in old.functions.items():
        if name not in new.functions:
            out.append(ApiChange("function removed", name, "", f.calls, None))
    return out
