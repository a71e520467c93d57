"""``callmonitor export DB FN N --to DIR [--npz]``: one recorded call as files
any tool reads (.npy arrays, JSON plain values, pickles, manifest.json)."""
import json
import os
import pickle
import sys

from ..analyse.export import ExportError, export_call
from .errors import CommandError
from .options import add_decoding_options, add_function_argument, open_database

HELP = "write one recorded call's arguments and result as .npy / JSON files"
DESCRIPTION = ("Write call N of FUNCTION into DIR: arrays as .npy, plain values as JSON, "
               "other values pickled, and manifest.json naming each parameter, its type and "
               "its file (schema in docs/replay.md). Loadable with numpy alone.")


def prepare_parser(p):
    p.add_argument("path", help="run directory or one writer directory")
    add_function_argument(p)
    p.add_argument("n", type=int, help="invocation number (1 = first call, -1 = last)")
    p.add_argument("--to", required=True, metavar="DIR", help="the directory to write")
    p.add_argument("--npz", action="store_true", help="every value in one DIR/call.npz")
    p.add_argument("--force", action="store_true", help="write into a non-empty DIR")
    p.add_argument("--writer", help="writer id when several recorded the function")
    p.add_argument("--rank", type=int, help="the MPI rank whose call to export")
    p.add_argument("--pid", type=int, help="the process whose call to export")
    add_decoding_options(p)
    p.add_argument("--json", action="store_true", help="print the manifest")


def run(args):
    if os.getcwd() not in sys.path:   # pickled values of the user's classes import from here
        sys.path.append(os.getcwd())
    with open_database(args) as db:
        try:
            manifest = export_call(db, args.function, args.n, args.to, npz=args.npz,
                                   force=args.force, writer=args.writer, rank=args.rank,
                                   pid=args.pid)
        except ExportError as e:
            raise CommandError(str(e)) from None
        except (ImportError, AttributeError, pickle.UnpicklingError) as e:
            raise CommandError(f"cannot restore a recorded value ({type(e).__name__}: {e}): "
                               f"its class must be importable; run where its module is "
                               f"imported from") from None
    if args.json:
        print(json.dumps(manifest, indent=1))
        return 0
    print(f"exported {manifest['function']} call #{manifest['invocation']} to {args.to}")
    entries = manifest["parameters"] + ([manifest["result"]] if manifest["result"] else [])
    for entry in entries:
        where = entry.get("file", "not exported: " + entry.get("unavailable", ""))
        if "key" in entry:
            where += f"[{entry['key']}]"
        shape = f" {entry['dtype']} {tuple(entry['shape'])}" if "dtype" in entry else ""
        print(f"  {entry['name']:<16} {entry['type']}{shape}  -> {where}")
    if manifest["exception"]:
        print(f"  raised {manifest['exception']['type']}: {manifest['exception']['message']}")
    return 0
