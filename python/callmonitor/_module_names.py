"""The module name a function is recorded (and looked up) under: capture
(describe.py) and the reader (matching a function object) ask the C++ table,
include/callmonitor/module_names.h, which also names objects' classes and
caller modules (a spawn/forkserver child's "__mp_main__" is "__main__")."""
from . import _core


def recorded_module(module: str) -> str:
    """The module name a function whose ``__module__`` is `module` is recorded under."""
    return _core.recorded_module(module)
