"""Entry point of ``callmonitor`` and ``python -m callmonitor``."""
import argparse
import sys

from .. import __version__
from ..read.errors import DatabaseError
from . import api, calls, export, export_tests, import_legacy, merge, profile, replay, run, show, summary
from .errors import CommandError

# One module per subcommand, each with HELP, DESCRIPTION, prepare_parser() and run().
COMMANDS = {"summary": summary, "show": show, "calls": calls, "replay": replay, "export": export,
            "export-tests": export_tests, "api": api, "run": run, "merge": merge,
            "import-legacy": import_legacy, "profile": profile}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="callmonitor",
        description="Inspect databases of recorded function calls (made with @callmonitor.intercept).")
    parser.add_argument("--version", action="version", version=f"callmonitor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION)
        module.prepare_parser(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except CommandError as e:
        print(f"callmonitor {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except (DatabaseError, LookupError, IndexError) as e:
        print(f"callmonitor {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
