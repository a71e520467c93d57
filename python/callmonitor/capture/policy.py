"""Capture policies: which calls are recorded, and how much of each.

Per function (``@intercept(every=10)``), for the process (``configure(every=10)``)
and by environment variables (``CALLMONITOR_EVERY=10``); the function's own
options win over ``configure``, which wins over the environment. The
decision itself is native (python/src/capture/capture_policy.h); this module
checks the options, merges the three levels and tells the native side, once
per function and session, what to do (``resolve``). Documented in
docs/policies.md.
"""
import inspect
import math
import os
import warnings
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .. import _core
from ..handlers import REGISTRY
from ..trace.summary import ValueSummary, summarize_large, value_nbytes

KEEP = ("all", "raised")

# Options of a function (and of configure); max_db_bytes and seed are the session's.
FUNCTION_OPTIONS = ("max_calls", "first", "every", "sample", "max_bytes", "exclude", "keep", "slower_than")
SESSION_OPTIONS = ("max_db_bytes", "seed")
_ENV_PREFIX = "CALLMONITOR_"


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value}")
    return float(value)


def check(**options: Any) -> Dict[str, Any]:
    """The options given (not None), checked: TypeError for a wrong type,
    ValueError for a value out of range, each naming the option."""
    out: Dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        if name in ("max_calls", "first", "every", "max_bytes", "max_db_bytes"):
            out[name] = _count(name, value, 1)
        elif name == "seed":
            out[name] = _count(name, value, 0)
            if value >= 1 << 63:
                raise ValueError(f"seed must be below 2**63, got {value}")
        elif name == "sample":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"sample must be a probability (a float in [0, 1]), got {type(value).__name__} {value!r}")
            if not 0 <= value <= 1:
                raise ValueError(f"sample must be in [0, 1] (the share of calls kept), got {value}")
            out[name] = float(value)
        elif name == "slower_than":
            out[name] = _seconds(name, value)
        elif name == "keep":
            if not isinstance(value, str):
                raise TypeError(f"keep must be one of {KEEP}, got {type(value).__name__} {value!r}")
            if value not in KEEP:
                raise ValueError(f"keep must be one of {KEEP}, got {value!r}")
            out[name] = value
        elif name == "exclude":
            if isinstance(value, str):
                value = [value]
            try:
                names = tuple(value)
            except TypeError:
                raise TypeError(f"exclude must be a list of parameter names, got {type(value).__name__}") from None
            for n in names:
                if not isinstance(n, str) or not n.isidentifier():
                    raise TypeError(f"exclude must be a list of parameter names (str), got {n!r}")
            out[name] = names
        else:
            raise TypeError(f"unknown capture policy option {name!r}; the options are "
                            f"{', '.join(FUNCTION_OPTIONS + SESSION_OPTIONS)}")
    return out


def check_function(func: Any, options: Dict[str, Any]) -> None:
    """exclude= of one function names its parameters: ValueError otherwise."""
    names = options.get("exclude")
    if not names:
        return
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return  # a builtin inspect cannot describe: names are matched as keywords only
    for n in names:
        if n not in params:
            raise ValueError(f"exclude={list(names)!r}: {getattr(func, '__qualname__', func)!r} has no parameter "
                             f"{n!r}; its parameters are {', '.join(params) or '(none)'}")
        if params[n].kind is inspect.Parameter.VAR_KEYWORD:
            raise ValueError(f"exclude={list(names)!r}: **{n} cannot be excluded as a whole; "
                             f"name the keyword arguments to exclude instead")


# ---- the environment -----------------------------------------------------------------

_warned_env: set = set()


def _parse_env(name: str, text: str) -> Any:
    if name in ("sample", "slower_than"):
        return float(text)
    if name == "keep":
        return text.strip()
    if name == "exclude":
        return tuple(t.strip() for t in text.split(",") if t.strip())
    return int(text)


def from_environment(names: Iterable[str] = FUNCTION_OPTIONS + SESSION_OPTIONS) -> Dict[str, Any]:
    """CALLMONITOR_<OPTION> variables, checked. A bad value is reported once
    (a warning naming the variable) and ignored: the program runs on."""
    out: Dict[str, Any] = {}
    for name in names:
        var = _ENV_PREFIX + name.upper()
        text = os.environ.get(var)
        if text is None or text == "":
            continue
        try:
            out.update(check(**{name: _parse_env(name, text)}))
        except (TypeError, ValueError) as e:
            if var not in _warned_env:
                _warned_env.add(var)
                warnings.warn(f"callmonitor: ignoring {var}={text!r}: {e}", RuntimeWarning, stacklevel=2)
    return out


# ---- what is stored instead of an excluded parameter -----------------------------------

class Excluded:
    """Stored in place of a parameter a policy excludes (``exclude=[...]``):
    the call was made with a value there, which was not recorded."""

    __slots__ = ("parameter",)

    def __init__(self, parameter: str):
        self.parameter = parameter

    def __eq__(self, other):
        return isinstance(other, Excluded) and other.parameter == self.parameter

    def __hash__(self):
        return hash(("Excluded", self.parameter))

    def __repr__(self):
        return f"<excluded: {self.parameter}>"


class ExcludedHandler:
    def encode(self, obj: Excluded) -> bytes:
        return obj.parameter.encode()

    def decode(self, data) -> Excluded:
        return Excluded(bytes(data).decode())


REGISTRY.add(Excluded, ExcludedHandler)


# ---- resolution (called by the native side) ------------------------------------------------

_OWN = "__callmonitor_policy__"   # a wrapper's own options, in its __dict__


def effective(own: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The options that apply to a function with `own` options: the
    environment's, then configure()'s, then its own."""
    from .settings import CONFIG
    merged = from_environment(FUNCTION_OPTIONS)
    merged.update(CONFIG.policy)
    merged.update(own or {})
    return merged


def session_options() -> Dict[str, Any]:
    """policy_seed and max_db_bytes for the session being opened."""
    from .settings import CONFIG
    s = from_environment(SESSION_OPTIONS)
    s.update({k: v for k, v in CONFIG.policy_session.items()})
    seed = s.get("seed")
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
    return {"policy_seed": seed, "max_db_bytes": s.get("max_db_bytes", 0)}


def _exclusions(func: Any, names: Tuple[str, ...]) -> List[Tuple[str, Optional[int], "Excluded", bool]]:
    """[(name, position or None, marker, rest)] for the native side."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    by_name = {p.name: (i, p) for i, p in enumerate(params)}
    out: List[Tuple[str, Optional[int], Excluded, bool]] = []
    for n in names:
        marker = Excluded(n)
        if n not in by_name:
            if not params:
                out.append((n, None, marker, False))  # a keyword of a builtin
            continue  # configure(exclude=["logger"]): functions without it are untouched
        i, p = by_name[n]
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            out.append((n, i, marker, True))
        elif p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            out.append((n, i, marker, False))
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            out.append((n, None, marker, False))
    return out


def resolve(wrapper: Any) -> Dict[str, Any]:
    """What the native side needs for `wrapper` in this session."""
    o = effective(getattr(wrapper, "__dict__", {}).get(_OWN))
    slower = o.get("slower_than")
    func = getattr(wrapper, "__wrapped__", wrapper)
    return {
        "max_calls": o.get("max_calls", 0),
        "first": o.get("first", 0),
        "every": o.get("every", 1),
        "sample": o.get("sample", 1.0),
        "max_bytes": o.get("max_bytes", 0),
        "keep_raised": o.get("keep") == "raised",
        "has_slower_than": slower is not None,
        "slower_than_ns": 0 if slower is None else int(round(slower * 1e9)),
        "exclude": _exclusions(func, o.get("exclude", ())),
    }


def set_own(wrapper: Any, options: Dict[str, Any]) -> None:
    if options:
        wrapper.__dict__[_OWN] = dict(options)


_core._set_policy_hooks(resolve, summarize_large, value_nbytes)

__all__ = ["Excluded", "ValueSummary", "check", "from_environment", "KEEP"]
