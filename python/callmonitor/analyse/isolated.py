"""``replay --isolate``: each call replayed in a child process, so a call that
crashes the interpreter (a segfault in an extension, ``os.abort``) or runs past
the timeout is reported and the replay goes on.

One worker process replays calls one after another (started once, not per
call); when a call kills it or times out, that call is reported as crashed /
timeout and a fresh worker takes the next call. Requests and answers travel
over two pipes of their own (one JSON line each), so whatever the replayed
code prints cannot confuse them; the worker's stdout goes to /dev/null and the
last lines of its stderr are quoted in a crash report.

    parent --"writer<TAB>invocation"--> worker --ReplayResult as JSON--> parent
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from typing import Optional

from .compare import Rules
from .replay import CRASHED, ERROR, TIMEOUT, ReplayResult, Unreadable, select_calls

_STDERR_TAIL = 3   # lines of a dead worker's stderr quoted in its report


class IsolatedReplayer:
    """Same results as :class:`~callmonitor.analyse.replay.Replayer`, each call in a child."""

    def __init__(self, db_path, fn, func=None, *, check=True, rules=Rules(), path=(),
                 timeout=None, allow_pickle=False, writer=None, rank=None, pid=None, allow_import=()):
        self.config = {"db": os.path.abspath(db_path), "fn": fn, "func": func, "check": check,
                       "rtol": rules.rtol, "atol": rules.atol, "loose_dtype": rules.loose_dtype,
                       "path": [os.path.abspath(p) for p in path], "allow_pickle": allow_pickle,
                       "allow_import": list(allow_import), "cwd": os.getcwd()}
        self.timeout = timeout
        self.where = dict(writer=writer, rank=rank, pid=pid)
        self._proc: Optional[subprocess.Popen] = None

    def _start(self):
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "callmonitor.analyse.isolated", str(req_r), str(res_w),
             json.dumps(self.config)],
            pass_fds=(req_r, res_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._stderr)
        os.close(req_r)
        os.close(res_w)
        self._requests = os.fdopen(req_w, "w", buffering=1)
        self._answers = os.fdopen(res_r, "r")

    def _stop(self, kill):
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (self._requests, self._answers):
            try:
                stream.close()
            except OSError:
                pass
        if kill:
            proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._stderr.close()

    def close(self):
        self._stop(kill=False)

    def _tail(self):
        self._stderr.seek(0)
        lines = [l for l in self._stderr.read().decode("utf-8", "replace").splitlines() if l.strip()]
        return " | ".join(lines[-_STDERR_TAIL:])

    def replay(self, call) -> ReplayResult:
        """Replays one recorded call in the worker (starting one if needed)."""
        if type(call) is Unreadable:
            return ReplayResult(call.function.full_name, call.invocation, call.writer, ERROR,
                                error=call.error)
        if self._proc is None:
            self._start()
        proc = self._proc
        assert proc is not None
        base = ReplayResult(call.function.full_name, call.invocation, call.writer, CRASHED,
                            recorded_ns=call.duration_ns)
        try:
            self._requests.write(f"{call.writer}\t{call.invocation}\n")
            self._requests.flush()
        except (BrokenPipeError, OSError):
            pass   # it died before: the read below reports it
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._answers], [], [], wait)
            if ready:
                break
            if deadline is not None and time.monotonic() >= deadline:
                self._stop(kill=True)
                base.status = TIMEOUT
                base.error = f"did not finish within {self.timeout:g} s (worker killed)"
                return base
        line = self._answers.readline()
        if not line:
            code = proc.wait()
            tail = self._tail()
            self._stop(kill=False)
            how = (f"killed by signal {-code}" if code < 0 else f"exited with status {code}")
            base.error = f"the replay process {how}" + (f": {tail}" if tail else "")
            return base
        data = json.loads(line)
        for k in ("passed", "ratio"):
            data.pop(k, None)
        return ReplayResult(**data)

    def run(self, db, numbers=None, progress=None):
        """Every chosen call replayed in the worker. The function is also found
        here: the calls are read here too (for their numbers and durations), and
        a script's classes must exist to restore its pickles."""
        from .replay import Replayer, _main_is_script
        # A function that cannot be found is a ReplayError here, as without isolation.
        func = Replayer(db, self.config["fn"], self.config["func"],
                        path=self.config["path"]).prepare()
        out = []
        with _main_is_script(func):
            for call in select_calls(db, self.config["fn"], numbers, **self.where):
                out.append(self.replay(call))
                if progress is not None:
                    progress(len(out))
        return out


def _worker(req_fd, res_fd, config):
    from ..read.database import load
    from .replay import Replayer, ReplayError, recording_paused, _main_is_script, _read
    os.chdir(config["cwd"])
    sys.path.insert(0, config["cwd"])
    answers = os.fdopen(res_fd, "w", buffering=1)
    db = load(config["db"], allow_pickle=config["allow_pickle"], allow_import=config.get("allow_import"))
    rules = Rules(config["rtol"], config["atol"], config["loose_dtype"])
    engine, func, failure = None, None, None
    try:
        engine = Replayer(db, config["fn"], config["func"], check=config["check"], rules=rules,
                          path=config["path"])
        func = engine.prepare()
    except ReplayError as e:
        failure = str(e)
    with os.fdopen(req_fd, "r") as requests, recording_paused(), _main_is_script(func):
        for line in requests:
            writer, invocation = line.rstrip("\n").split("\t")
            call = _read(db, config["fn"], int(invocation), dict(writer=writer, rank=None, pid=None))
            if failure is not None:
                result = ReplayResult(call.function.full_name, call.invocation, call.writer,
                                      ERROR, error=failure, recorded_ns=call.duration_ns)
            else:
                result = engine.replay(call)
            answers.write(json.dumps(result.as_json()) + "\n")


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]))
