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
        ranks = db.ranks
        print(f"{args.path}: {len({f.full_name for f in functions})} functions, {total} calls, "
              f"{len(db.writers)} writer(s)" + (f" ({len(ranks)} MPI ranks)" if ranks else "") +
              f", {_human(sizes.get('file_bytes', 0))} on disk")
        by_name = {}
        for f in functions:
            by_name.setdefault(f.full_name, []).append(f)
        rows = [(name, sum(f.calls for f in group),
                 group[0].writer if len(group) == 1 else f"{len(group)} writers",
                 group[0].signature_text()) for name, group in by_name.items()]
        print(render(["function", "calls", "recorded by", "signature"], rows, ["<", ">", "<", "<"]))
        writers = db.writer_info()
        if len(writers) > 1:
            print()
            rows = [(w["id"], w["rank"] if w["rank"] >= 0 else "-", w["pid"], w["host"], w["calls"])
                    for w in writers]
            print(render(["writer", "rank", "pid", "host", "calls"], rows, ["<", ">", ">", "<", ">"]))
        notes = [f"{v} {k.replace('_', ' ')}" for k, v in stats.items() if v]
        if notes:
            print("capture: " + ", ".join(notes))
    return 0
