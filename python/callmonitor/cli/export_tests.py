"""``callmonitor export-tests DB FN [--calls SPEC|--all|--distinct|--max N] --to FILE``:
recorded calls as a pytest file (docs/replay.md)."""
from ..analyse.export import ExportError, export_tests
from .errors import CommandError
from .options import open_database
from ..analyse.replay import ReplayError, count_calls
from .replay import (CallProgress, add_rule_arguments, chosen_numbers, rules, use_import_paths,
                     where)

HELP = "write a pytest file that replays recorded calls and checks their outcomes"
DESCRIPTION = ("Write FILE: one pytest test per outcome (returns, raises) of FUNCTION, "
               "parametrized over the chosen calls (ids call_N), small values as literals, "
               "larger ones in FILE's stem + _data/ beside it, compared by the replay rules "
               "(needs callmonitor installed where the tests run). Every call unless N, "
               "--calls, --distinct or --max says otherwise. The same database gives the "
               "same file.")


def prepare_parser(p):
    from .replay import add_selection_arguments
    add_selection_arguments(p)
    p.add_argument("--distinct", action="store_true",
                   help="one call per distinct argument signature (types, dtypes, shapes)")
    p.add_argument("--max", type=int, metavar="N", dest="max_calls", help="at most N cases")
    p.add_argument("--to", required=True, metavar="FILE", help="the test file to write")
    p.add_argument("--force", action="store_true", help="overwrite FILE and its data folder")
    add_rule_arguments(p)


def run(args):
    numbers = chosen_numbers(args)
    if args.max_calls is not None and args.max_calls < 1:
        raise CommandError("--max must be at least 1", exit_code=2)
    if not args.to.endswith(".py"):
        raise CommandError(f"--to names a Python file (test_*.py), got {args.to}", exit_code=2)
    use_import_paths(args)
    with open_database(args) as db:
        progress = CallProgress(count_calls(db, args.function, numbers, **where(args)),
                             f"exporting {args.function}")
        try:
            out = export_tests(db, args.function, args.to, numbers, distinct=args.distinct,
                               max_calls=args.max_calls, rules=rules(args), force=args.force,
                               progress=progress, **where(args))
        except ExportError as e:
            raise CommandError(str(e)) from None
        except (ReplayError, LookupError, IndexError) as e:   # no such function, call, writer
            raise CommandError(str(e), exit_code=2) from None
        finally:
            progress.close()
    text = f"wrote {out['file']}: {out['cases']} cases ({out['returning']} returning, " \
           f"{out['raising']} raising)"
    if out["data_dir"]:
        text += f", {out['data_files']} data files in {out['data_dir']}"
    print(text)
    for case, why in out["skipped"]:
        print(f"  left out {case}: {why}")
    return 0
