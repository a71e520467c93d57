"""The module name a function is recorded (and looked up) under: one table,
used by capture (describe.py) and by the reader (matching a function object)."""

# multiprocessing's spawn and forkserver start methods run the parent's main
# script in the child as module "__mp_main__" (aliased to sys.modules["__main__"]):
# its functions are the user's "__main__" ones and are recorded as such.
_ALIASES = {"__mp_main__": "__main__"}


def recorded_module(module: str) -> str:
    """The module name a function whose ``__module__`` is `module` is recorded under."""
    return _ALIASES.get(module, module)
