"""``callmonitor summary PATH``: what a database holds."""
import json

from ..read.database import _human, load
from .table import print_table

HELP = "list the recorded functions, call counts, signatures and sizes"
DESCRIPTION = ("Summarise a callmonitor database: every recorded function with its call "
               "count and signature, the writers, and the space used. --json writes the same "
               "as JSON (docs/cli-json.md).")


_LABELS_SHOWN = 10  # labels listed without --labels (a test suite has thousands)


def prepare_parser(p):
    p.add_argument("path", help="run directory (e.g. ./call-monitor) or one writer directory")
    p.add_argument("--labels", action="store_true",
                   help=f"list the calls of every label (by default the {_LABELS_SHOWN} busiest)")
    p.add_argument("--json", action="store_true", help="write the summary as JSON (docs/cli-json.md)")


def _label_counts(db):
    """[(label, calls)], the busiest first (then by name); calls without a
    label are not listed. Empty when nothing is labelled."""
    counts = db.labels()
    return sorted(((k, v) for k, v in counts.items() if k is not None), key=lambda kv: (-kv[1], kv[0]))


def _parameters(f):
    sig = f.signature
    if sig is None:
        return None
    return [{"name": p.name, "kind": p.kind.name,
             "default": None if p.default is p.empty else repr(p.default),
             "annotation": None if p.annotation is p.empty else str(p.annotation)}
            for p in sig.parameters.values()]


def _by_name(functions):
    """Functions by the name that chooses them (one definition per group; a
    redefined function or two lambdas of a module are two: "mod.f@30")."""
    groups = {}
    for f in functions:
        groups.setdefault(f.unique_name, []).append(f)
    return groups


def summary_json(db, path):
    functions = db.functions
    groups = _by_name(functions)
    return {
        "path": str(path),
        "functions": [{"name": name, "module": g[0].module, "qualname": g[0].qualname,
                       "calls": sum(f.kept for f in g),
                       "writers": [{"id": f.writer, "calls": f.calls, "seen": f.seen, "kept": f.kept,
                                    "dropped": f.dropped} for f in g],
                       "seen": sum(f.seen for f in g), "kept": sum(f.kept for f in g),
                       "policy": g[0].policy,
                       "signature": g[0].signature_text(), "parameters": _parameters(g[0]),
                       "file": g[0].file, "line": g[0].line}
                      for name, g in groups.items()],
        "calls": sum(f.kept for f in functions),
        "writers": [{**w, "rank": w["rank"] if w["rank"] >= 0 else None} for w in db.writer_info()],
        "ranks": db.ranks,
        "labels": [{"label": k, "calls": v} for k, v in _label_counts(db)],
        "bytes_on_disk": db.sizes.get("file_bytes", 0),
        "capture": dict(db.stats),
    }


def run(args):
    with load(args.path) as db:
        if args.json:
            print(json.dumps(summary_json(db, args.path), indent=2, ensure_ascii=False))
            return 0
        functions = db.functions
        sizes, stats = db.sizes, db.stats
        total = sum(f.kept for f in functions)
        ranks = db.ranks
        groups = _by_name(functions)
        print(f"{args.path}: {len(groups)} functions, {total} calls, "
              f"{len(db.writers)} writer(s)" + (f" ({len(ranks)} MPI ranks)" if ranks else "") +
              f", {_human(sizes.get('file_bytes', 0))} on disk")
        if any(f.policy or f.seen != f.kept for f in functions):  # capture policies: seen / kept
            rows = [(name, sum(f.kept for f in group), sum(f.seen for f in group), group[0].policy or "-",
                     group[0].writer if len(group) == 1 else f"{len(group)} writers",
                     group[0].signature_text()) for name, group in groups.items()]
            print_table(["function", "kept", "seen", "policy", "recorded by", "signature"], rows,
                        ["<", ">", ">", "<", "<", "<"])
        else:
            rows = [(name, sum(f.calls for f in group),
                     group[0].writer if len(group) == 1 else f"{len(group)} writers",
                     group[0].signature_text()) for name, group in groups.items()]
            print_table(["function", "calls", "recorded by", "signature"], rows, ["<", ">", "<", "<"])
        writers = db.writer_info()
        if len(writers) > 1:
            print()
            rows = [(w["id"], w["rank"] if w["rank"] >= 0 else "-", w["pid"], w["host"], w["calls"])
                    for w in writers]
            print_table(["writer", "rank", "pid", "host", "calls"], rows, ["<", ">", ">", "<", ">"])
        labels = _label_counts(db)
        if labels:
            shown = labels if args.labels else labels[:_LABELS_SHOWN]
            unlabelled = total - sum(v for _, v in labels)
            print()
            print_table(["label", "calls"], shown, ["<", ">"])
            rest = len(labels) - len(shown)
            print(f"{len(labels)} label(s)" + (f", {unlabelled} call(s) without one" if unlabelled else "")
                  + (f"; {rest} more: --labels lists them all" if rest else ""))
        notes = [f"{v} {k.replace('_', ' ')}" for k, v in stats.items() if v]
        if notes:
            print("capture: " + ", ".join(notes))
    return 0
