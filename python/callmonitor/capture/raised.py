"""What is kept of an exception that an intercepted call raised: its traceback as
text, bounded, formatted on the calling thread when (and only when) the call raised.

The text reads as Python prints a traceback (chained exceptions included), without
the ``^^^^`` position markers: those cost the standard formatter ~150 us a call (it
parses every source line), this one ~15 us."""
import linecache
import traceback
from typing import Optional

TRACEBACK_FRAMES = 30          # the innermost frames of each exception in the chain
TRACEBACK_BYTES = 8 * 1024     # of UTF-8 text, the end kept (where it was raised)

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _frames(tb):
    """The lines of the innermost TRACEBACK_FRAMES frames of a traceback."""
    entries = []
    while tb is not None:
        entries.append((tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    lines = []
    if len(entries) > TRACEBACK_FRAMES:
        lines.append(f"  [... {len(entries) - TRACEBACK_FRAMES} outer frames left out ...]\n")
    for code, lineno in entries[-TRACEBACK_FRAMES:]:
        lines.append(f'  File "{code.co_filename}", line {lineno}, in {code.co_name}\n')
        source = linecache.getline(code.co_filename, lineno) if lineno else ""
        if source.strip():
            lines.append(f"    {source.strip()}\n")
    return lines


def _one(exc):
    lines = ["Traceback (most recent call last):\n"] + _frames(exc.__traceback__) \
        if exc.__traceback__ is not None else []
    return lines + traceback.format_exception_only(type(exc), exc)


def format_traceback(exc: BaseException) -> str:
    """The traceback of `exc` and of the exceptions it was raised from or during, keeping
    the innermost TRACEBACK_FRAMES frames of each and the last TRACEBACK_BYTES bytes."""
    parts, seen = [], set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(_one(current))
        if current.__cause__ is not None:
            parts.append([_CAUSE])
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            parts.append([_CONTEXT])
            current = current.__context__
        else:
            current = None
    text = "".join(line for part in reversed(parts) for line in part)
    data = text.encode("utf-8", "replace")
    if len(data) <= TRACEBACK_BYTES:
        return text
    tail = data[-TRACEBACK_BYTES:]
    newline = tail.find(b"\n")
    if 0 <= newline < len(tail) - 1:
        tail = tail[newline + 1:]          # start at a line
    cut = len(data) - len(tail)
    return f"[... {cut} bytes of the traceback left out ...]\n" + tail.decode("utf-8", "replace")
