"""A one-line progress indicator on stderr, for long commands (shown only on a terminal)."""
import sys
import time


class Progress:
    def __init__(self, label, stream=None, interval=0.2):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.interval = interval
        self._last = 0.0

    def __call__(self, done, total):
        now = time.monotonic()
        if not self.enabled or (now - self._last < self.interval and done < total):
            return
        self._last = now
        pct = f"{100 * done / total:5.1f}%" if total else "     "
        self.stream.write(f"\r{self.label}: {pct} {done}/{total}")
        self.stream.flush()

    def close(self):
        if self.enabled and self._last:
            self.stream.write("\n")
            self.stream.flush()
