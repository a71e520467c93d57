"""``callmonitor summary PATH``: what a database holds."""
from ..read.database import _human, load
from .table import render

HELP = "list the recorded functions, call counts, signatures and sizes"
DESCRIPTION = ("Summarise a callmonitor database: every recorded function with its call "
               "count and signature, the writers, and the space used.")


def prepare_parser(p):
    p.add_argument("path", help="run directory (e.g. ./call-monitor) or one writer directory")


def run(args):
    with load(args.path) as db:
        functions = db.functions
        sizes, stats = db.sizes, db.stats
        total = sum(f.calls for f in functions)
        print(f"{args.path}: {len(functions)} functions, {total} calls, "
              f"writers: {', '.join(db.writers)}, {_human(sizes.get('file_bytes', 0))} on disk")
        rows = [(f.full_name, f.calls, f.writer, f.signature_text()) for f in functions]
        print(render(["function", "calls", "writer", "signature"], rows, ["<", ">", "<", "<"]))
        notes = [f"{v} {k.replace('_', ' ')}" for k, v in stats.items() if v]
        if notes:
            print("capture: " + ", ".join(notes))
    return 0
