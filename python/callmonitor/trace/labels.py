"""The one place where code-free tracing sets the label of the calls recorded
from now on (a pytest node id and phase, ``callmonitor run --label``, or
``watch(label=...)``).

Each recorded call stores its label as format v2's ``Label`` entry field: an
id into the writer's ``labels`` table, where each text is stored once per
writer (``_core.set_label`` -> ``Recorder::setLabel``, capture/recorder.cpp).
So N tests making the same calls store N label texts, not N copies of them
per call. ``None`` falls back to the session's label (``configure(label=)``,
``$CALLMONITOR_LABEL``), if any.
"""
from typing import Dict, Optional

from .. import _core

_current: Dict[str, Optional[str]] = {"label": None}


def set_label(label: Optional[str]) -> None:
    """Label the calls recorded from now on in this process (None: no label
    of its own, the session's if one was configured)."""
    if label is not None and not isinstance(label, str):
        raise TypeError(f"a label is a str or None, got {type(label).__name__}")
    _core.set_label(label)
    _current["label"] = label


def current_label() -> Optional[str]:
    """The label last set with :func:`set_label` (None: none)."""
    return _current["label"]
