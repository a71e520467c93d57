"""``callmonitor profile PATH FUNCTION``: the inner calls of a function recorded
with ``@intercept(inner=True)``, per call site over all its recorded calls."""
import json

from .options import add_function_argument, add_writer_options, open_database, writer_choice
from .table import print_table
from .values import duration_text

HELP = "per call site inside FUNCTION: count, total, mean, p50, p95 of its inner calls"
DESCRIPTION = ("Aggregate the inner calls of FUNCTION (recorded with @intercept(inner=True) or "
               "flat_profile with a database) per call site across every recorded call, in C++ "
               "over the record stream: count, raised, total, mean, p50, p95, max; longest total "
               "first. --json writes the rows as JSON.")


def prepare_parser(p):
    p.add_argument("path", help="run directory or one writer directory")
    add_function_argument(p)
    add_writer_options(p)
    p.add_argument("--json", action="store_true", help="write the profile as JSON")


def run(args):
    with open_database(args) as db:
        prof = db.profile(args.function, **writer_choice(args))
    if args.json:
        print(json.dumps({"function": prof.function, "calls": prof.calls, "profiled": prof.profiled,
                          "without_inner_calls": prof.without_inner_calls, "undecodable": prof.undecodable,
                          "sites": prof.rows()}, indent=2))
        return 0
    if not prof.profiled:
        print(f"{prof.function}: none of its {prof.calls} recorded calls has inner calls "
              f"(record it with @intercept(inner=True))")
        return 0
    rows = [[s.site.line, s.site.callee if s.site.name == s.site.callee else f"{s.site.callee}  ({s.site.name})",
             s.count, s.raised or "", duration_text(s.total), duration_text(s.mean), duration_text(s.p50),
             duration_text(s.p95), duration_text(s.max)] for s in prof.sites]
    title = f"{prof.function}: inner calls of {prof.profiled} recorded calls"
    if prof.without_inner_calls:
        title += f" ({prof.without_inner_calls} more without inner calls)"
    print_table(["line", "callee", "count", "raised", "total", "mean", "p50", "p95", "max"], rows,
                align=[">", "<", ">", ">", ">", ">", ">", ">", ">"], title=title)
    return 0
