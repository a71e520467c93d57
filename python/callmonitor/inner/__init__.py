"""Inside a function: the calls it makes (wrap_calls) and a flat profile of them (flat_profile).

See docs/inner-calls.md."""
from .calls import InnerCall, InnerFunction, InnerInvocation, SiteProfile, SiteTotal, inner_function, site_profile
from .profile import ProfilerCallback, default_above_log, default_below_log, flat_profile
from .rewrite import CallSite
from .wrap import InnerCallsWarning, wrap_calls

__all__ = [
    "wrap_calls", "flat_profile", "inner_function", "InnerCall", "InnerFunction", "InnerInvocation",
    "SiteTotal", "SiteProfile", "site_profile", "CallSite", "InnerCallsWarning", "ProfilerCallback", "default_below_log",
    "default_above_log",
]
