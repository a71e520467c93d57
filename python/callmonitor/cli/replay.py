"""``callmonitor replay DB FN [N ...|--all|--calls SPEC] [--check]``: run recorded
calls again and compare their outcomes with the recorded ones (docs/replay.md).

Exit status: 0 every call passed, 1 a mismatch (or a call that errored,
crashed or timed out), 2 a usage error (bad option, function not found)."""
import json
import os
import sys

from ..analyse.compare import Rules
from ..analyse.replay import (CRASHED, ERROR, FAILED, PASSED, RAN, SKIPPED, TIMEOUT,
                              Replayer, ReplayError, _import_path, count_calls, parse_calls)
from .errors import CommandError
from .options import add_decoding_options, add_function_argument, open_database
from .progress import Progress
from .table import render

HELP = "replay recorded calls against the current code and check their outcomes"
DESCRIPTION = ("Call FUNCTION again with each chosen call's recorded arguments (every call "
               "unless N, --calls or --all says otherwise) and, with --check, compare what it "
               "returns or raises with the recording: dtype and shape strictly, floats within "
               "per-dtype tolerances. Arguments the call changes in place are reported by "
               "name. --func MODULE:ATTR replays into another implementation (the porting "
               "check). Exit status: 0 all passed, 1 any mismatch or failed call, 2 usage error.")

ROWS_LISTED = 100   # above this many calls, only the calls that did not pass are listed
DETAIL_CHARS = 100  # the table's difference column is cut here; the full text follows it
DETAILED_CALLS = 5  # failed calls whose differences are printed in full below the table


def add_selection_arguments(p):
    """DB FN [N ...] --all --calls --writer --rank --pid --allow-pickle --import
    --allow-import --path (shared with export-tests)."""
    p.add_argument("path", help="run directory or one writer directory")
    add_function_argument(p)
    p.add_argument("numbers", nargs="*", type=int, metavar="N",
                   help="invocation numbers (1 = first call, -1 = last)")
    p.add_argument("--all", action="store_true", help="every recorded call")
    p.add_argument("--calls", metavar="SPEC",
                   help="numbers and inclusive ranges, e.g. 1:100,250,-5:")
    p.add_argument("--writer", help="only calls recorded by this writer (e.g. rank-0002)")
    p.add_argument("--rank", type=int, help="only calls of this MPI rank")
    p.add_argument("--pid", type=int, help="only calls of this process")
    add_decoding_options(p)
    p.add_argument("--path", dest="import_path", action="append", default=[], metavar="DIR",
                   help="a directory to import the function's module from (repeatable)")


def add_rule_arguments(p):
    p.add_argument("--rtol", type=float, help="relative tolerance for floats (default: per dtype)")
    p.add_argument("--atol", type=float, help="absolute tolerance for floats (default: per dtype)")
    p.add_argument("--loose-dtype", action="store_true",
                   help="compare array values across dtypes (float32 vs float64)")


def chosen_numbers(args):
    """None (every call) or the list of numbers and ranges the options give."""
    given = [bool(args.numbers), bool(args.calls), args.all]
    if sum(given) > 1:
        raise CommandError("give call numbers, --calls or --all, not several", exit_code=2)
    if args.numbers:
        return list(args.numbers)
    if args.calls:
        try:
            return parse_calls(args.calls)
        except ReplayError as e:
            raise CommandError(str(e), exit_code=2) from None
    return None


def use_import_paths(args):
    """--path DIRs first on sys.path, the current directory last (as ``python -m``
    would: the console script's sys.path does not hold it)."""
    _import_path(args.import_path)
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())


def where(args):
    return dict(writer=args.writer, rank=args.rank, pid=args.pid)


def rules(args):
    for name in ("rtol", "atol"):
        value = getattr(args, name)
        if value is not None and not value >= 0:
            raise CommandError(f"--{name} must be a number >= 0, got {value}", exit_code=2)
    return Rules(args.rtol, args.atol, args.loose_dtype)


def prepare_parser(p):
    add_selection_arguments(p)
    p.add_argument("--check", action="store_true",
                   help="compare each outcome with the recorded one (implied by --func)")
    add_rule_arguments(p)
    p.add_argument("--func", metavar="MODULE:ATTR",
                   help="replay into this implementation instead (e.g. fastmod:step, "
                        "script.py:step) and compare: the porting check")
    p.add_argument("--isolate", action="store_true",
                   help="replay each call in a child process: a crash or a timeout is "
                        "reported and the replay goes on")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="with --isolate: seconds a call may take before it is stopped")
    p.add_argument("--json", action="store_true",
                   help="print the results as JSON (schema in docs/replay.md)")


def duration_text(ns):
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns} ns"


_LABEL = {PASSED: "PASS", RAN: "ran", FAILED: "FAIL", ERROR: "ERROR", CRASHED: "CRASH",
          TIMEOUT: "TIMEOUT", SKIPPED: "skipped"}
_STYLE = {PASSED: "green", RAN: "", FAILED: "bold red", ERROR: "red", CRASHED: "bold red",
          TIMEOUT: "red", SKIPPED: "yellow"}


def _detail(r):
    if r.error:
        if "allow_import=" in r.error:   # a read-only view of an object recorded by state
            return r.error + "; here: --allow-import MODULE (or --allow-pickle)"
        if "allow_pickle=True" in r.error:
            return r.error + "; here: --allow-pickle"
        return r.error
    return "; ".join(r.differences)


def _cut(text):
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS - 3] + "..."


class CallProgress:
    """``progress(done)`` for the analyse loops, drawn by the commands' common
    :class:`~callmonitor.cli.progress.Progress` (on a terminal only)."""

    def __init__(self, total, label):
        self.total = total
        self.bar = Progress(label)

    def __call__(self, done):
        self.bar(done, self.total if self.total else done + 1)

    def close(self):
        self.bar.close()


def summary_line(results, check):
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    order = (PASSED, FAILED, ERROR, CRASHED, TIMEOUT, SKIPPED, RAN)
    parts = [f"{counts[s]} {'ran' if s == RAN else s}" for s in order if counts.get(s)]
    name = results[0].function if results else "?"
    text = f"replayed {len(results)} call(s) of {name}: " + (", ".join(parts) or "none")
    mutated = {}
    for r in results:
        for m in r.mutated:
            mutated[m] = mutated.get(m, 0) + 1
    if mutated:
        text += "; changed in place: " + ", ".join(
            f"{k} ({v} call{'s' if v > 1 else ''})" for k, v in mutated.items())
    rec = sum(r.recorded_ns or 0 for r in results if r.replay_ns is not None)
    rep = sum(r.replay_ns or 0 for r in results)
    if rec and rep:
        text += (f"; time recorded {duration_text(rec)}, replay {duration_text(rep)} "
                 f"({rep / rec:.2f}x)")
    return text


def print_table(results, several_writers, out=sys.stdout):
    listed = results if len(results) <= ROWS_LISTED else [r for r in results if not r.passed]
    headers = (["call"] + (["writer"] if several_writers else [])
               + ["result", "recorded", "replay", "ratio", "in place", "difference"])
    rows = []
    for r in listed[:ROWS_LISTED]:
        rows.append([f"#{r.invocation}"] + ([r.writer] if several_writers else [])
                    + [_LABEL[r.status], duration_text(r.recorded_ns), duration_text(r.replay_ns),
                       f"{r.ratio:.2f}x" if r.ratio is not None else "-",
                       ", ".join(r.mutated) or "-", _cut(_detail(r)) or "-"])
    if rows:
        if out.isatty():
            from rich.console import Console
            from rich.table import Table
            table = Table(*headers)
            status_col = headers.index("result")
            for row, r in zip(rows, listed):
                row = list(row)
                style = _STYLE[r.status]
                row[status_col] = f"[{style}]{row[status_col]}[/]" if style else row[status_col]
                table.add_row(*row)
            Console(file=out).print(table)
        else:
            print(render(headers, rows, ["<"] * len(headers)), file=out)
    detailed = [r for r in results if not r.passed and len(_detail(r)) > DETAIL_CHARS]
    for r in detailed[:DETAILED_CALLS]:
        print(f"call #{r.invocation}" + (f" ({r.writer})" if several_writers else "") + ":",
              file=out)
        for d in [_detail(r)] if r.error else r.differences:
            print(f"  {d}", file=out)
    hidden = len(results) - min(len(listed), ROWS_LISTED)
    if hidden:
        print(f"({hidden} calls not listed{' (all passed)' if len(listed) <= ROWS_LISTED else ''}"
              f"; --json lists every call)", file=out)


def run(args):
    numbers = chosen_numbers(args)
    if args.timeout is not None and not args.isolate:
        raise CommandError("--timeout needs --isolate (a call in this process cannot be "
                           "stopped safely)", exit_code=2)
    if args.timeout is not None and not args.timeout > 0:
        raise CommandError(f"--timeout must be > 0 seconds, got {args.timeout}", exit_code=2)
    the_rules = rules(args)
    use_import_paths(args)
    check = args.check or args.func is not None
    with open_database(args) as db:
        progress = CallProgress(count_calls(db, args.function, numbers, **where(args)),
                             f"replaying {args.function}")
        try:
            if args.isolate:
                from ..analyse.isolated import IsolatedReplayer
                engine = IsolatedReplayer(db.path, args.function, args.func, check=check,
                                          rules=the_rules, path=args.import_path,
                                          timeout=args.timeout, allow_pickle=args.allow_pickle,
                                          allow_import=args.allow_import, **where(args))
                try:
                    results = engine.run(db, numbers, progress)
                finally:
                    engine.close()
            else:
                engine = Replayer(db, args.function, args.func, check=check, rules=the_rules,
                                  path=args.import_path, **where(args))
                results = engine.run(numbers, progress)
        except (ReplayError, LookupError, IndexError) as e:   # no such function, call, writer
            raise CommandError(str(e), exit_code=2) from None
        finally:
            progress.close()
        several = len({r.writer for r in results}) > 1
    ok = all(r.passed for r in results)
    if args.json:
        json.dump({"function": results[0].function if results else args.function,
                   "check": check, "calls": len(results), "passed": ok,
                   "summary": summary_line(results, check),
                   "results": [r.as_json() for r in results]}, sys.stdout, indent=1)
        print()
    else:
        print_table(results, several)
        print(summary_line(results, check))
    return 0 if ok else 1
