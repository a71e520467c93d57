"""``callmonitor api DB_OR_JSON...``: the API the recorded functions were really called with."""
import json
import os
import sys

from ..analyse import api_diff, api_json, stubs
from ..analyse.api import DEFAULT_OPTIONS, ApiModel, derive
from ..analyse.api_json import ApiFormatError
from ..read.database import load
from .errors import CommandError
from .table import render

HELP = "derive the API the functions were called with: types, counts, JSON, .pyi stubs, drift"
DESCRIPTION = (
    "Derive, from every recorded call, the API each function is really used with: per parameter "
    "how it was passed (position, keyword, default) and the types it received, with counts "
    "(Literal strings, array dtypes and shapes, container element types); returned types; "
    "exceptions; timing per distinct signature; calls per caller module and label. "
    "Inputs are databases (run or writer directories) and JSON files written by --json; "
    "all of them are combined. Prints a table; --json writes the model (schema: docs/api-json.md), "
    "--stubs writes one .pyi per module, --diff compares two inputs.")


def prepare_parser(p):
    p.add_argument("inputs", nargs="*", metavar="DB_OR_JSON",
                   help="databases (e.g. ./call-monitor) and API JSON files, combined")
    p.add_argument("--label", action="append", default=[], metavar="NAME",
                   help="count the calls of a database under this label (once: for every database; "
                        "once per database: in the order given)")
    p.add_argument("--json", metavar="FILE", help="write the API model (or, with --diff, the changes) "
                                                  "as JSON to FILE ('-': standard output)")
    p.add_argument("--stubs", metavar="DIR", help="write one .pyi stub per module into DIR")
    p.add_argument("--force", action="store_true", help="overwrite existing stub or JSON files")
    p.add_argument("--functions", action="append", default=[], metavar="PATTERN",
                   help="only functions whose full name, qualname or name matches this glob, or "
                        "one definition named NAME@LINE / NAME@FILE:LINE (repeatable)")
    p.add_argument("--top-pct", type=float, default=stubs.DEFAULT_TOP_PCT, metavar="P",
                   help="stubs: an @overload for each signature with at least P%% of the calls "
                        f"(at most {stubs.DEFAULT_MAX_OVERLOADS}; default %(default)s)")
    p.add_argument("--max-union", type=int, default=stubs.DEFAULT_MAX_UNION, metavar="N",
                   help="stubs: a union of more than N types is written Any (default %(default)s)")
    p.add_argument("--diff", nargs=2, metavar=("OLD", "NEW"),
                   help="print what changed from OLD to NEW (databases or JSON files)")
    p.add_argument("--threshold", type=float, default=api_diff.DEFAULT_THRESHOLD, metavar="R",
                   help="--diff: report a count that changed by more than this fraction (default %(default)s)")
    p.add_argument("--sample-items", type=int, default=DEFAULT_OPTIONS.sample_items, metavar="K",
                   help="type the first K elements of each container (default %(default)s)")


def _read_input(path, functions, label, sample_items):
    if api_json.is_api_json(path):
        try:
            model = api_json.read(path)
        except ApiFormatError as e:
            raise CommandError(str(e)) from None
        except OSError as e:
            raise CommandError(f"cannot read {path}: {e.strerror}") from None
        model = model.select(functions)
        return model.with_label(label) if label else model
    with load(path) as db:
        return derive(db, functions, label=label, sample_items=sample_items)


def combined(paths, labels, functions, sample_items=DEFAULT_OPTIONS.sample_items):
    """The model of all `paths` (databases and JSON files) combined."""
    if labels and len(labels) not in (1, len(paths)):
        raise CommandError(f"--label was given {len(labels)} times for {len(paths)} inputs: give it once "
                           f"(for all of them) or once per input, in order")
    per_input = labels if len(labels) == len(paths) else labels * len(paths) if labels else [None] * len(paths)
    model = ApiModel()
    for path, label in zip(paths, per_input):
        model = model.merged(_read_input(path, functions, label, sample_items))
    return model


def _check_writable(path, force):
    if path != "-" and os.path.exists(path) and not force:
        raise CommandError(f"{path} exists: choose another file or pass --force to overwrite it")


def _write_json(data, path):
    if path == "-":
        json.dump(data, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, ensure_ascii=False)
        out.write("\n")
    os.replace(tmp, path)


SIGNATURES_SHOWN = 5   # per function in the table (all of them are in --json)


def _types_text(counts, limit=4):
    items = list(counts.items())
    text = ", ".join(f"{t} {n}" for t, n in items[:limit])
    return text + (f", +{len(items) - limit}" if len(items) > limit else "")


def _print_tables(model, out):
    frows = [(f.full_name, f.calls, len(f.signatures), _types_text(f.returns, 3) or "-",
              _types_text(f.exceptions, 3) or "-") for f in model]
    prows = []
    for f in model:
        for p in f.parameters:
            how = f"{p.positional}/{p.keyword}/{p.defaulted}"
            note = "required" if p.required else "never passed" if p.never_passed else ""
            if p.mismatches:
                note = (note + "; " if note else "") + f"annotated {p.annotation}: " + _types_text(p.mismatches, 2)
            types = _types_text(p.types)
            if p.literals:
                types = "Literal " + _types_text({repr(k): v for k, v in p.literals.items()})
            prows.append((f.qualname, p.name, p.kind.lower().replace("_", "-"), how, types or "-", note))
    grows = []
    for f in model:
        g = f.generator
        if g.empty:
            continue
        y = g.yields
        items = f"{y.total} ({y.min}/{y.mean:.3g}/{y.max})" if y.calls and y.mean is not None else "-"
        types = _types_text(g.yielded, 3) if g.yielded else "-"
        if g.yielded_unrecorded:
            types += f" (+{g.yielded_unrecorded} not recorded)" if g.yielded else "not recorded"
        grows.append((f.full_name, y.calls, items, types, g.closed + g.dropped))
    srows = []
    for f in model:  # which argument types are slow: the most called signatures, with their timing
        for sig in f.signatures[:SIGNATURES_SHOWN]:
            t = sig.timing
            srows.append((f.qualname, ", ".join(f"{k}: {v}" for k, v in sig.types.items()) or "()", sig.calls,
                          stubs.ns_text(t.mean_ns), stubs.ns_text(t.p50_ns), stubs.ns_text(t.p95_ns)))
    fheads = ["function", "calls", "signatures", "returns", "raises"]
    sheads = ["function", "signature", "calls", "mean", "p50", "p95"]
    pheads = ["function", "parameter", "kind", "pos/kw/default", "types", "note"]
    gheads = ["generator", "calls", "items (min/mean/max)", "item types", "closed early"]
    tables = [(fheads, frows, "functions"), (pheads, prows, "parameters"), (sheads, srows, "signatures")]
    if grows:
        tables.append((gheads, grows, "generators"))
    right = ("calls", "signatures", "closed early", "mean", "p50", "p95")
    if out.isatty():
        try:
            from rich.console import Console
            from rich.markup import escape
            from rich.table import Table
        except ImportError:  # plain text below
            pass
        else:
            console = Console(file=out)
            for heads, rows, title in tables:
                table = Table(title=title)
                for h in heads:
                    table.add_column(h, justify="right" if h in right else "left")
                for r in rows:
                    table.add_row(*(escape(str(c)) for c in r))  # "list[int]" is not markup
                console.print(table)
            return
    print(render(fheads, frows, ["<", ">", ">", "<", "<"]), file=out)
    if prows:
        print(file=out)
        print(render(pheads, prows), file=out)
    if srows:
        print(file=out)
        print(render(sheads, srows, ["<", "<", ">", ">", ">", ">"]), file=out)
    if grows:
        print(file=out)
        print(render(gheads, grows, ["<", ">", "<", "<", ">"]), file=out)


def _check_options(args):
    if args.sample_items < 1:
        raise CommandError(f"--sample-items must be at least 1, not {args.sample_items}", exit_code=2)
    if not 0 <= args.top_pct <= 100:
        raise CommandError(f"--top-pct is a percentage (0 to 100), not {args.top_pct}", exit_code=2)
    if args.max_union < 1:
        raise CommandError(f"--max-union must be at least 1, not {args.max_union}", exit_code=2)


def run(args):
    _check_options(args)
    if args.diff:
        if args.inputs:
            raise CommandError("give either inputs or --diff OLD NEW, not both")
        old = combined([args.diff[0]], args.label[:1], args.functions, args.sample_items)
        new = combined([args.diff[1]], args.label[1:2] or args.label[:1], args.functions, args.sample_items)
        changes = api_diff.diff(old, new, args.threshold)
        if args.json:
            _check_writable(args.json, args.force)
            _write_json({"format": "callmonitor-api-diff", "version": 1, "old": args.diff[0],
                         "new": args.diff[1], "threshold": args.threshold,
                         "changes": [c.to_json() for c in changes]}, args.json)
        if args.json != "-":
            print(f"{len(changes)} change(s) from {args.diff[0]} to {args.diff[1]}")
            for c in changes:
                print(f"  {c}")
        return 0
    if not args.inputs:
        raise CommandError("give at least one database or API JSON file (or --diff OLD NEW)", exit_code=2)
    model = combined(args.inputs, args.label, args.functions, args.sample_items)
    if not len(model):
        raise CommandError("no recorded function matches" + (
            f" {', '.join(args.functions)}" if args.functions else f" in {', '.join(args.inputs)}"))
    if args.json:
        _check_writable(args.json, args.force)
        _write_json(api_json.to_json(model), args.json)
    if args.stubs:
        targets = {stubs.stub_path(args.stubs, f.module) for f in model}
        clash = sorted(t for t in targets if os.path.exists(t))
        if clash and not args.force:
            raise CommandError(f"{clash[0]} exists: choose another directory or pass --force to overwrite")
        written = stubs.write_stubs(model, args.stubs, top_pct=args.top_pct, max_union=args.max_union)
        print(f"wrote {len(written)} stub file(s) to {args.stubs}", file=sys.stderr)
    if args.json != "-":
        _print_tables(model, sys.stdout)
    return 0
