"""Values that come back from a database in place of objects that were not kept."""


class Unrestorable:
    """Stands in for a recorded value that cannot (or may not) be rebuilt.

    type_name: the recorded object's type, ``module.qualname``.
    repr:      its repr at capture time (truncated).
    reason:    why it is not the object itself, and what to do about it.
    """

    __slots__ = ("type_name", "repr", "reason")

    def __init__(self, type_name, repr, reason):
        self.type_name = type_name
        self.repr = repr
        self.reason = reason

    def __repr__(self):
        return f"<Unrestorable {self.type_name}: {self.repr} ({self.reason})>"

    def __eq__(self, other):
        return (isinstance(other, Unrestorable) and self.type_name == other.type_name
                and self.repr == other.repr and self.reason == other.reason)

    def __hash__(self):
        return hash((self.type_name, self.repr))
