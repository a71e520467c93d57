"""Options several subcommands share: choosing a writer, reading pickles,
importing a user's handler modules, and opening the database with them."""
import importlib
import os
import sys

from ..read.database import load
from .errors import CommandError


def add_writer_options(p):
    p.add_argument("--writer", help="writer id (e.g. main, rank-0002, pid-4242) when several recorded it")
    p.add_argument("--rank", type=int, help="the MPI rank whose calls to read")
    p.add_argument("--pid", type=int, help="the process whose calls to read")


def add_decoding_options(p):
    p.add_argument("--allow-pickle", action="store_true",
                   help="restore values stored as pickles (only for databases you trust)")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE before decoding (it registers its handlers with "
                        "callmonitor.REGISTRY); repeatable; the current directory is searched too")
    p.add_argument("--allow-import", dest="allow_import", action="append", default=[], metavar="MODULE",
                   help="rebuild recorded objects of MODULE's classes (and its submodules'), importing "
                        "it; without it they print as read-only views; repeatable (docs/objects.md)")


def import_modules(names):
    """Imports the user's modules (e.g. the ones that call REGISTRY.add)."""
    if names and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as e:
            raise CommandError(
                f"--import {name}: importing it failed ({type(e).__name__}: {e}); give a module "
                f"importable from here (check the name and PYTHONPATH)") from None


def open_database(args):
    """load(args.path) after importing `--import` modules."""
    import_modules(getattr(args, "imports", []))
    if getattr(args, "allow_import", None) and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the user's modules, as --import finds them
    return load(args.path, allow_pickle=getattr(args, "allow_pickle", False),
                allow_import=getattr(args, "allow_import", None) or None)


def writer_choice(args):
    """The writer=/rank=/pid= keywords of db.call and db.calls."""
    return {"writer": args.writer, "rank": args.rank, "pid": args.pid}
