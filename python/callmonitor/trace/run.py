"""Runs a program (a script or ``-m module``) as ``python`` would, with a
watch on: same ``sys.argv``, stdin, stdout, stderr and exit status; then one
line on stderr saying what was recorded and where (``callmonitor run``).

Like ``python -m cProfile``: the program runs as ``__main__`` (runpy), with
``sys.path[0]`` the script's directory (a script) or the current directory
(``-m``). An uncaught exception prints its traceback without callmonitor's
frames and the status is 1, as Python does.
"""
import json
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from ..capture.settings import CONFIG
from .report import summary_line
from .watch import unwatch, watch

# Set while a program runs under `callmonitor run`: what it watches, as JSON
# ({"to", "from", "values", "label"}), for the pytest plugin in xdist workers.
WATCH_ENV = "CALLMONITOR_RUN_WATCH"


@dataclass
class Program:
    """What to run: a script path or a module name, and its arguments."""
    script: Optional[str] = None
    module: Optional[str] = None
    args: List[str] = field(default_factory=list)

    @property
    def argv0(self):
        return self.script if self.script is not None else self.module


def _run(program):
    if program.module is not None:
        sys.argv = [program.module, *program.args]  # runpy sets argv[0] to the module's file
        sys.path.insert(0, os.getcwd())
        runpy.run_module(program.module, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [program.script, *program.args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(program.script)))
        runpy.run_path(program.script, run_name="__main__")


def _exit_status(code):
    """The status Python gives a SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")  # sys.exit("message"): printed, status 1
    return 1


def _print_program_traceback(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") in (__name__, "runpy"):
        tb = tb.tb_next  # the program's frames only, as `python script.py` shows them
    traceback.print_exception(type(exc), exc, tb)


def run_watched(program: Program, to: Sequence[str], from_modules: Optional[Sequence[str]] = None,
                label: Optional[str] = None, values: str = "full", output: Optional[str] = None,
                policy: Optional[dict] = None) -> int:
    """Runs `program` with `to` watched; returns its exit status. The last
    line written to stderr says what was recorded and where."""
    import callmonitor
    if output is not None:
        callmonitor.configure(output=output)
    w = watch(list(to), from_modules=from_modules or None, label=label, values=values, **(policy or {}))
    saved = (list(sys.argv), list(sys.path), os.environ.get(WATCH_ENV))
    # For pytest-xdist workers: the plugin there watches the same way.
    os.environ[WATCH_ENV] = json.dumps({"to": list(to), "from": list(from_modules or ()),
                                        "values": values, "label": label, "policy": policy or {},
                                        "out": CONFIG.base_output()})
    try:
        _run(program)
        status = 0
    except SystemExit as e:
        status = _exit_status(e.code)
    except KeyboardInterrupt as e:
        _print_program_traceback(e)
        status = 130
    except BaseException as e:  # the program's own error: reported as Python would
        _print_program_traceback(e)
        status = 1
    finally:
        unwatch(w)
        sys.argv, sys.path[:], env = saved
        if env is None:
            os.environ.pop(WATCH_ENV, None)
        else:
            os.environ[WATCH_ENV] = env
    sys.stdout.flush()
    sys.stderr.write(summary_line("callmonitor run", w.packages, w.options_from) + "\n")
    sys.stderr.flush()
    return status
