"""``callmonitor calls PATH FUNCTION``: a function's invocations, one line each."""
import argparse
import json
import re

from .options import (add_decoding_options, add_function_argument, add_label_option, add_writer_options,
                      open_database, writer_choice)
from .progress import Progress
from .show import _duration, _outcome
from .table import print_table
from .values import duration_text, preview

HELP = "list the invocations of a function: number, start, duration, thread, outcome, arguments"
DESCRIPTION = ("List the recorded calls of FUNCTION, writer after writer (in start-time "
               "order within each), with filters. The number is the invocation number to "
               "give `callmonitor show` (with --writer/--rank when several writers recorded "
               "the function). --json writes the list as JSON (docs/cli-json.md).")

_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "min": 60.0}


def seconds(text):
    """``0.5``, ``10ms``, ``250us``, ``2s``, ``1min`` -> seconds (argparse type)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|ms|us|µs|ns|min)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: give seconds (0.5) or a number with a unit (10ms, 250us, 2s)")
    return float(m.group(1)) * _UNITS[m.group(2) or ""]


def _positive(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: --limit needs a whole number of calls, 1 or more")
    return n


def prepare_parser(p):
    p.add_argument("path", help="run directory or one writer directory")
    add_function_argument(p)
    add_writer_options(p)
    p.add_argument("--raised", action="store_true", help="only calls that raised an exception")
    p.add_argument("--slower-than", type=seconds, metavar="SECONDS",
                   help="only calls that took longer (seconds, or with a unit: 10ms, 250us)")
    p.add_argument("--limit", type=_positive, metavar="N", help="show at most N calls")
    add_label_option(p, "only calls recorded under this label")
    add_decoding_options(p)
    p.add_argument("--json", action="store_true", help="write the calls as JSON (docs/cli-json.md)")


def _keep(call, args):
    if args.raised and call.exception is None:
        return False
    if args.slower_than is not None and (call.duration is None or call.duration <= args.slower_than):
        return False
    return True


def _outcome_text(call):
    if call.exception is not None:
        return f"raised {call.exception.type}"
    return _outcome(call)


def call_row_json(call):
    exc = call.exception
    return {"invocation": call.invocation, "writer": call.writer,
            "rank": call.rank if call.rank >= 0 else None, "pid": call.pid,
            "thread": {"ident": call.thread, "name": call.thread_name},
            "started": call.started.isoformat(), "duration_s": _duration(call),
            "outcome": _outcome(call),
            "exception": None if exc is None else {"type": exc.type, "message": exc.message},
            "label": call.label, "arguments": preview(call.args, call.kwargs, 200)}


def run(args):
    with open_database(args) as db:
        chosen = writer_choice(args)
        total = 0
        found = []
        progress = Progress(f"reading calls of {args.function}")
        try:
            expected = sum(f.calls for f in db.find(args.function, **chosen))
            if args.label:
                expected = 0  # not known without reading the labels: no total
            for call in db.calls(args.function, label=args.label, **chosen):
                total += 1
                progress(total, expected)
                if _keep(call, args):
                    found.append(call)
                    if args.limit and len(found) >= args.limit:
                        break
        finally:
            progress.close()
        several = len({c.writer for c in found}) > 1 or len(db.writers) > 1
        if args.json:
            name = found[0].function.full_name if found else args.function
            print(json.dumps({"function": name, "calls": [call_row_json(c) for c in found]},
                             indent=2, ensure_ascii=False))
            return 0
        ranks = any(c.rank >= 0 for c in found)
        labelled = any(c.label is not None for c in found)
        headers = ["#"] + (["writer"] if several else []) + (["rank"] if ranks else []) + \
            ["start", "duration", "thread"] + (["label"] if labelled else []) + ["outcome", "arguments"]
        rows = []
        for c in found:
            row = [c.invocation] + ([c.writer] if several else []) + \
                ([c.rank if c.rank >= 0 else "-"] if ranks else [])
            row += [c.started.strftime("%Y-%m-%d %H:%M:%S.%f"), duration_text(_duration(c)),
                    c.thread_name or "-"] + ([c.label or "-"] if labelled else []) + \
                [_outcome_text(c), preview(c.args, c.kwargs)]
            rows.append(row)
        align = [">"] + (["<"] if several else []) + ([">"] if ranks else []) + ["<", ">", "<"] + \
            (["<"] if labelled else []) + ["<", "<"]
        print_table(headers, rows, align)
        more = " (--limit reached)" if args.limit and len(found) >= args.limit else ""
        print(f"{len(found)} call(s) shown{more}")
    return 0
