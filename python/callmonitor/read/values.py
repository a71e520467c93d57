"""Values that come back from a database in place of objects that were not kept."""
from typing import Any


class PlaceholderError(AttributeError):
    """An attribute of a placeholder (an :class:`Unrestorable`, or a recorded
    object's read-only view) that is not there: the value is not the object.
    An AttributeError, so ``hasattr`` and ``getattr(x, name, default)`` work."""


class Unrestorable:
    """Stands in for a recorded value that cannot (or may not) be rebuilt.

    type_name: the recorded object's type, ``module.qualname``.
    repr:      its repr at capture time (truncated).
    reason:    why it is not the object itself, and what to do about it.
    recorded:  what was recorded of it, when something was (an object that
               cannot be rebuilt here: its read-only view); else None.
    """

    __slots__ = ("type_name", "repr", "reason", "recorded")

    def __init__(self, type_name, repr, reason, recorded=None):
        self.type_name = type_name
        self.repr = repr
        self.reason = reason
        self.recorded = recorded

    def __getattr__(self, name: str) -> Any:
        if name in Unrestorable.__slots__:  # not set yet (copy, unpickling)
            raise AttributeError(name)
        if name.startswith("__") and name.endswith("__"):
            raise PlaceholderError(f"an Unrestorable placeholder has no {name}")
        raise PlaceholderError(
            f"cannot get .{name}: this value is an Unrestorable placeholder for a recorded "
            f"{self.type_name}, not the object ({self.reason})")

    def __repr__(self):
        return f"<Unrestorable {self.type_name}: {self.repr} ({self.reason})>"

    def __eq__(self, other):
        return (isinstance(other, Unrestorable) and self.type_name == other.type_name
                and self.repr == other.repr and self.reason == other.reason)

    def __hash__(self):
        return hash((self.type_name, self.repr))
