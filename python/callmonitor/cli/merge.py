"""``callmonitor merge OUT RUN_OR_WRITER...``: many writers and runs, one environment."""
import os

from .. import _core
from ..read.database import _human
from .errors import CommandError
from .progress import Progress
from .table import print_table

HELP = "consolidate the writers of runs (ranks, processes) into one database"
DESCRIPTION = ("Copy every call of the given runs or writer directories into one new database "
               "OUT, keeping where each call was recorded (run, writer, rank, pid, thread). "
               "A writer given twice, or already inside a merged input, is copied once, so "
               "merging again is harmless. OUT must not exist.")


def prepare_parser(p):
    p.add_argument("out", help="the new database directory to create (never overwritten)")
    p.add_argument("inputs", nargs="+", metavar="RUN_OR_WRITER",
                   help="run directories (e.g. ./call-monitor), writer directories in them, "
                        "or earlier merges")


def merge(out, inputs, progress=None):
    """Merges run/writer/merged directories into `out`; returns the counts."""
    if os.path.lexists(out):
        raise CommandError(f"{out} exists: merge never overwrites; give a new output path")
    writers = [pair for path in inputs for pair in _core.find_environments(os.fspath(path))]
    return _core.merge(os.fspath(out), writers, progress)


def run(args):
    progress = Progress("merging calls")
    try:
        result = merge(args.out, args.inputs, progress)
    except _core.StoreError as e:
        raise CommandError(str(e)) from None
    finally:
        progress.close()
    rows = [("writers copied", result["writers"]),
            ("writers already there (skipped)", result["duplicates"]),
            ("calls", result["calls"]), ("array payloads", result["blobs"]),
            ("size", _human(result["bytes"]))]
    print(f"merged into {args.out}")
    print_table(["", "count"], rows, ["<", ">"])
    return 0
