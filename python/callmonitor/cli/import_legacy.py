"""``callmonitor import-legacy OLD... NEW``: callmonitor 0.3 databases into one new run."""
import os
import shutil
import uuid

from .. import _core
from .._version import __version__
from ..capture import run_directory
from ..read.legacy import (LegacyDatabase, function_description, is_legacy_database,
                           legacy_databases_in)
from ..read.values import Unrestorable
from .errors import CommandError
from .options import import_modules
from .progress import Progress
from .table import print_table

HELP = "convert databases written by callmonitor 0.3 (db.pkl + call folders) into this format"
DESCRIPTION = ("Read callmonitor 0.3 databases (folders holding db.pkl and <function>/<n>/ "
               "call folders, e.g. call-monitor-tid=0) without the old package and write them "
               "as one new run directory NEW: each OLD becomes one writer (call-monitor-tid=N "
               "-> tid-N with rank N, call-monitor-pid=P... -> pid-P). An OLD folder that holds "
               "several 0.3 databases (the -tid=N folders of one MPI job) gives all of them. "
               "Every call keeps its invocation number and exact values; 0.3 recorded no "
               "module, result or timing, so those stay empty. NEW must not exist. "
               "See docs/migrating-from-0.3.md.")


def prepare_parser(p):
    p.add_argument("old", nargs="+", metavar="OLD", help="callmonitor 0.3 database folder(s)")
    p.add_argument("new", metavar="NEW", help="the run directory to create (never overwritten)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="unpickle classes other than 0.3's own, numpy's and plain builtins "
                        "(only for databases you trust; their modules must be importable)")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (e.g. one that registers handlers); repeatable")


def legacy_databases(paths, allow_pickle=False):
    """The 0.3 databases named by `paths` (each one, or the 0.3 folders inside it)."""
    out = []
    for path in map(os.fspath, paths):
        if is_legacy_database(path):
            out.append(LegacyDatabase(path, allow_pickle))
            continue
        if not os.path.isdir(path):
            raise CommandError(f"{path} does not exist: give a callmonitor 0.3 database folder "
                               f"(the one holding db.pkl)")
        inner = legacy_databases_in(path)
        if not inner:
            raise CommandError(f"{path} is not a callmonitor 0.3 database (no db.pkl, no "
                               f"<function>/<n>/input_descriptor.pkl) and holds none")
        out.extend(LegacyDatabase(os.path.join(path, d), allow_pickle) for d in inner)
    return out


def _refused(values):
    for v in values:
        if isinstance(v, Unrestorable):
            yield v
        elif type(v) in (list, tuple, set, frozenset):
            yield from _refused(v)
        elif type(v) is dict:
            yield from _refused(v.keys())
            yield from _refused(v.values())


def _writer_metadata(db, run_id):
    w = db.writer_info()[0]
    version = ".".join(map(str, db.version)) if db.version else "unknown"
    return {"host": w["host"], "pid": w["pid"], "rank": w["rank"], "writer_id": w["id"],
            "run_id": run_id, "package_version": f"{__version__} (imported from callmonitor {version})",
            "argv": ["callmonitor", "import-legacy", os.path.abspath(db.path)],
            "cwd": os.path.dirname(os.path.abspath(db.path)),
            "started_unix_ns": db._writer.info.started_unix_ns}


def import_legacy(old, new, allow_pickle=False, progress=None):
    """Converts the 0.3 databases `old` into the new run directory `new`;
    returns the counts {"writers", "functions", "calls"}."""
    new = os.fspath(new)
    if os.path.lexists(new):
        raise CommandError(f"{new} exists: import-legacy never overwrites; give a new output path")
    dbs = legacy_databases(old, allow_pickle)
    seen = {}
    for db in dbs:
        wid = db.writers[0]
        if wid in seen:
            raise CommandError(
                f"{seen[wid]} and {db.path} are both writer {wid} (two runs, e.g. 0.3 snapshots "
                f"call-monitor and call-monitor-1): import them into separate databases")
        seen[wid] = db.path
    total = sum(len(db) for db in dbs)
    run_id = f"import-legacy-{uuid.uuid4().hex}"
    os.makedirs(os.path.dirname(os.path.abspath(new)), exist_ok=True)
    os.mkdir(new)
    try:
        return _write(dbs, new, run_id, total, progress)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)  # never leave half a database behind
        raise


def _write(dbs, new, run_id, total, progress):
    run_directory._write_marker(new, run_id)
    done = functions = 0
    for db in dbs:
        with _core.RecordWriter(os.path.join(new, db.writers[0]), _writer_metadata(db, run_id)) as out:
            thread = out.add_thread(0, "(not recorded by callmonitor 0.3)")
            caller = out.add_caller("(not recorded by callmonitor 0.3)")
            for f in db.functions:
                spec = db._functions[f.name].argspec
                fid = out.add_function(function_description(f.name, spec) if spec is not None
                                       else {"qualname": f.name, "name": f.name})
                functions += 1
                for call in db.calls(f.name):
                    bad = sorted({u.type_name for u in _refused([call.args, call.kwargs])})
                    if bad:
                        raise CommandError(
                            f"{db.path}: call {call.invocation} of {f.name} holds values of "
                            f"{', '.join(bad)}, which are not unpickled from an untrusted database: "
                            f"if you trust it, rerun with --allow-pickle (with those modules "
                            f"importable, and --import for their handlers)")
                    out.add_call(fid, call.invocation, call.args, call.kwargs,
                                 start_ns=max(call.started_ns, 0), outcome="result-skipped",
                                 thread=thread, caller=caller)
                    done += 1
                    if progress:
                        progress(done, total)
    return {"writers": len(dbs), "functions": functions, "calls": done}


def run(args):
    import_modules(args.imports)
    progress = Progress("importing calls")
    try:
        result = import_legacy(args.old, args.new, args.allow_pickle, progress)
    except _core.StoreError as e:
        raise CommandError(f"writing {args.new} failed: {e}") from None
    finally:
        progress.close()
    print(f"imported into {args.new}")
    print_table(["", "count"], [("writers", result["writers"]), ("functions", result["functions"]),
                                ("calls", result["calls"])], ["<", ">"])
    return 0
