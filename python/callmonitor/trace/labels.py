"""The one place where code-free tracing sets the label of the calls recorded
from now on (a pytest node id and phase, ``callmonitor run --label``, or
``watch(label=...)``).

Labels are stored by the engine (format v2: a ``Label`` entry field per call,
label texts stored once). Until the capture side exposes a way to set the
current label, ``set_label`` can only remember it; ``supported()`` says which.
"""
from typing import Dict, Optional

from .. import _core

_current: Dict[str, Optional[str]] = {"label": None}


def supported() -> bool:
    """True when recorded calls carry the current label."""
    return hasattr(_core, "set_label")


def set_label(label: Optional[str]) -> None:
    """Label the calls recorded from now on in this process (None: no label)."""
    if label is not None and not isinstance(label, str):
        raise TypeError(f"a label is a str or None, got {type(label).__name__}")
    _current["label"] = label
    if supported():
        _core.set_label(label)


def current_label() -> Optional[str]:
    return _current["label"]
