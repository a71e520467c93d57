"""``callmonitor show PATH FUNCTION N``: one recorded call, its values printed in full."""
import json

from ..read.values import Unrestorable
from .options import add_decoding_options, add_writer_options, open_database, writer_choice
from .values import duration_text, to_json, value_text

HELP = "print one recorded call: arguments, result or exception, timing"
DESCRIPTION = ("Print call N (from 1; negative counts from the end) of FUNCTION: every "
               "argument by parameter name (defaults marked), the result or the exception "
               "with its traceback, where and when it ran. Arrays print as numpy does "
               "(summarised; --full prints all of them). --json writes the same as JSON "
               "(docs/cli-json.md).")


def prepare_parser(p):
    p.add_argument("path", help="run directory or one writer directory")
    p.add_argument("function", help="bare name, Class.method or module.qualname")
    p.add_argument("n", type=int, help="invocation number (1 = first call, -1 = last)")
    add_writer_options(p)
    add_decoding_options(p)
    p.add_argument("--full", action="store_true",
                   help="print whole arrays, strings and containers (no summarising)")
    p.add_argument("--json", action="store_true", help="write the call as JSON (docs/cli-json.md)")


def _arguments(call):
    """[(name, value, is_default)]: bound to the signature when it is known."""
    bound = call.bound
    if bound is None:
        return ([(f"[{i}]", v, False) for i, v in enumerate(call.args)] +
                [(k, v, False) for k, v in call.kwargs.items()])
    given = set(bound.arguments)
    bound.apply_defaults()
    return [(name, value, name not in given) for name, value in bound.arguments.items()]


def _traceback(call):
    """The formatted traceback the record carries (None when not recorded)."""
    return getattr(call, "traceback", None)


def _outcome(call):
    """returned, raised, pending, closed (a generator closed before its end), or
    not-recorded (result capture off; callmonitor 0.3)."""
    if call.exception is not None:
        return "raised"
    if not call.completed:
        return "pending"
    if getattr(call, "closed", False):
        return "closed"
    return "not-recorded" if getattr(call, "outcome", None) == "result-skipped" else "returned"


def _duration(call):
    """Seconds, or None when not known (0.3 records, imported ones too, have no timing)."""
    if _outcome(call) == "not-recorded" and not call.duration:
        return None
    return call.duration


def _where(call):
    return {"writer": call.writer, "rank": call.rank if call.rank >= 0 else None,
            "pid": call.pid, "run": call.run or None}


def call_json(call, full=False):
    """The JSON object of one call (``show --json``)."""
    f = call.function
    exc = call.exception
    return {
        "function": f.full_name, "module": f.module, "qualname": f.qualname,
        "invocation": call.invocation, **_where(call),
        "defined": {"file": f.file, "line": f.line}, "signature": f.signature_text(),
        "arguments": [{"name": n, "value": to_json(v, full), "default": d}
                      for n, v, d in _arguments(call)],
        "outcome": _outcome(call),
        "result": to_json(call.result, full) if _outcome(call) == "returned" else None,
        "exception": None if exc is None else {"type": exc.type, "message": exc.message,
                                               "traceback": _traceback(call)},
        "yields": getattr(call, "yields", None),
        "yielded": (None if getattr(call, "yielded", None) is None
                    else [to_json(v, full) for v in call.yielded]),
        "started": call.started.isoformat(), "started_ns": call.started_ns,
        "duration_s": _duration(call),
        "thread": {"ident": call.thread, "name": call.thread_name}, "caller": call.caller,
    }


def _placeholder_note(v):
    if isinstance(v, Unrestorable) and "allow_pickle=True" in v.reason:
        return f"   ({v.reason}; here: callmonitor show --allow-pickle)"
    if isinstance(v, Unrestorable):
        return f"   ({v.reason})"
    return ""


def _items(n):
    return f"{n or 0} item" + ("" if n == 1 else "s")


def _print_yields(call, full):
    """A generator's items: how many, and the items when recorded (yields=True)."""
    n = getattr(call, "yields", None)
    if n is None:
        return
    items = getattr(call, "yielded", None)
    if _outcome(call) != "closed":  # a closed call's outcome line says how many
        note = " (values not recorded: @intercept(yields=True) records them)" if n and not items else ""
        print(f"  yielded   {_items(n)}{note}")
    for i, v in enumerate(items or ()):
        head = f"    [{i}] "
        print(f"{head}{value_text(v, len(head), full)}")


def print_call(call, full=False):
    f = call.function
    where = f"writer {call.writer}" + (f", rank {call.rank}" if call.rank >= 0 else "") + f", pid {call.pid}"
    print(f"{f.full_name} call #{call.invocation} ({where})")
    print(f"  defined   {f.file}:{f.line}" if f.file else "  defined   (not recorded)")
    print(f"  signature {f.signature_text()}")
    print("  arguments:")
    for name, value, is_default in _arguments(call):
        head = f"    {name} = "
        note = "   (default)" if is_default else _placeholder_note(value)
        print(f"{head}{value_text(value, len(head), full)}{note}")
    if call.exception is not None:
        print(f"  raised    {call.exception}")
        tb = _traceback(call)
        if tb:
            print("  traceback:")
            for line in str(tb).rstrip("\n").splitlines():
                print(f"    {line}")
    elif not call.completed:
        print("  outcome   did not return (still running, or the process died)")
    elif _outcome(call) == "closed":
        print(f"  outcome   closed after {_items(call.yields)}, before its end")
    elif _outcome(call) == "not-recorded":
        print("  outcome   not recorded (result capture was off, or a callmonitor 0.3 record)")
    else:
        head = "  returned  "
        print(f"{head}{value_text(call.result, len(head), full)}{_placeholder_note(call.result)}")
    _print_yields(call, full)
    print(f"  started   {call.started.isoformat()}")
    if _duration(call) is not None:
        print(f"  duration  {duration_text(call.duration)}")
    print(f"  thread    {call.thread_name} ({call.thread})" if call.thread is not None
          else "  thread    (not recorded)")
    print(f"  caller    {call.caller or '(not recorded)'}")


def run(args):
    with open_database(args) as db:
        call = db.call(args.function, args.n, **writer_choice(args))
        if args.json:
            print(json.dumps(call_json(call, args.full), indent=2, ensure_ascii=False))
        else:
            print_call(call, args.full)
    return 0
