"""What is kept of an exception that an intercepted call raised: its traceback as
text, bounded, formatted on the calling thread when (and only when) the call raised."""
import traceback

TRACEBACK_FRAMES = 30          # the innermost frames of each exception in the chain
TRACEBACK_BYTES = 8 * 1024     # of UTF-8 text, the end kept (where it was raised)


def format_traceback(exc: BaseException) -> str:
    """The traceback of `exc` as Python prints it (chained exceptions included), keeping the
    last TRACEBACK_FRAMES frames of each exception and the last TRACEBACK_BYTES bytes."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__,
                                              limit=-TRACEBACK_FRAMES))
    data = text.encode("utf-8", "replace")
    if len(data) <= TRACEBACK_BYTES:
        return text
    tail = data[-TRACEBACK_BYTES:]
    newline = tail.find(b"\n")
    if 0 <= newline < len(tail) - 1:
        tail = tail[newline + 1:]          # start at a line
    cut = len(data) - len(tail)
    return f"[... {cut} bytes of the traceback left out ...]\n" + tail.decode("utf-8", "replace")
