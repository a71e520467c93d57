"""``callmonitor run --to MOD (script.py | -m module) [args...]``: run a
program with a library watched (callmonitor.trace.run)."""
import argparse
import os

from ..trace.run import Program, run_watched
from ..trace.watch import PolicyNotSupportedError, WatchError
from .errors import CommandError

HELP = "run a program and record the calls it makes into a library (no code changes)"
DESCRIPTION = (
    "Run a Python script (or -m module) as python would -- same argv, stdin, stdout, stderr "
    "and exit status -- while recording every call it makes into the --to packages. Ends "
    "with one line on stderr saying what was recorded and where. Example: "
    "callmonitor run --to numpy --from pint --values summary -m pytest --pyargs pint.testsuite -q")

# Capture policies (docs/policies.md): flag, keyword, type, help.
_POLICIES = (("--every", "every", int, "record calls 1, K+1, 2K+1, ... of each function"),
             ("--sample", "sample", float, "record each call with probability P (seeded, reproducible)"),
             ("--max-calls", "max_calls", int, "record at most N calls of each function"),
             ("--max-bytes", "max_bytes", int, "store a value over B bytes as a summary"))


def prepare_parser(p):
    p.add_argument("-o", "--output", metavar="DIR",
                   help="base path of the run directory (default ./call-monitor or $CALLMONITOR_DIR; "
                        "-1, -2, ... is appended if it exists)")
    p.add_argument("--to", action="append", required=True, metavar="MOD",
                   help="package whose calls are recorded (with its submodules); repeatable")
    p.add_argument("--from", dest="from_modules", action="append", metavar="MOD",
                   help="record only calls made from these modules (prefix match); repeatable. "
                        "Default: every caller but the --to packages themselves")
    p.add_argument("--label", help="label of the recorded calls")
    p.add_argument("--values", choices=("full", "summary"), default="full",
                   help="full: values as @intercept keeps them (default); summary: types, dtypes, "
                        "shapes and short literals only")
    for flag, dest, kind, text in _POLICIES:
        p.add_argument(flag, dest=dest, type=kind, metavar=flag[2:].split("-")[-1][0].upper(), help=text)
    p.add_argument("-m", dest="module", nargs=argparse.REMAINDER, metavar="MODULE [ARGS]",
                   help="run a library module as a script (like python -m); the rest are its arguments")
    p.add_argument("program", nargs=argparse.REMAINDER, metavar="script.py [ARGS]",
                   help="the script to run and its arguments")


def _program(args):
    if args.module is not None:
        if args.program:
            raise CommandError("give either a script or -m MODULE, not both")
        if not args.module:
            raise CommandError("-m needs a module name (e.g. -m pytest)")
        return Program(module=args.module[0], args=args.module[1:])
    if not args.program:
        raise CommandError("nothing to run: give a script (callmonitor run --to numpy script.py) "
                           "or -m MODULE")
    script, *rest = args.program
    if script == "--" and rest:
        script, *rest = rest
    if not os.path.isfile(script):
        raise CommandError(f"{script}: no such script (to run a module, use -m {script})")
    return Program(script=script, args=rest)


def run(args):
    policy = {dest: getattr(args, dest) for _, dest, _, _ in _POLICIES if getattr(args, dest) is not None}
    program = _program(args)
    try:
        return run_watched(program, args.to, from_modules=args.from_modules, label=args.label,
                           values=args.values, output=args.output, policy=policy)
    except (WatchError, PolicyNotSupportedError, TypeError, ValueError) as e:
        raise CommandError(str(e)) from e
