"""Progress of long commands on stderr, shown only on a terminal: a ``rich``
progress bar when rich is installed, a one-line counter otherwise.

Used as a callback ``progress(done, total)`` (total 0 or None: not known);
``close()`` when finished."""
import sys
import time

from .table import use_rich


class Progress:
    def __init__(self, label, stream=None, interval=0.2):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = getattr(self.stream, "isatty", lambda: False)()
        self.interval = interval
        self._last = 0.0
        self._bar = None
        self._task = None

    def _rich_bar(self):
        if self._bar is None and use_rich(self.stream):
            from rich.console import Console
            from rich.progress import Progress as RichProgress
            self._bar = RichProgress(console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=None)
        return self._bar

    def __call__(self, done, total):
        now = time.monotonic()
        if not self.enabled or (now - self._last < self.interval and (not total or done < total)):
            return
        self._last = now
        bar = self._rich_bar()
        if bar is not None:
            bar.update(self._task, completed=done, total=total or None)
            return
        pct = f"{100 * done / total:5.1f}%" if total else "     "
        self.stream.write(f"\r{self.label}: {pct} {done}/{total}")
        self.stream.flush()

    def close(self):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.enabled and self._last:
            self.stream.write("\n")
            self.stream.flush()
