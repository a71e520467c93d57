"""``callmonitor show PATH FUNCTION N``: one recorded call."""
import reprlib

from ..read.database import load
from ..read.values import Unrestorable

HELP = "print one recorded call: arguments, result, timing"
DESCRIPTION = "Print call N (from 1; negative counts from the end) of FUNCTION."

_repr = reprlib.Repr()
_repr.maxstring = 120
_repr.maxother = 120
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 12


def prepare_parser(p):
    p.add_argument("path", help="run directory or one writer directory")
    p.add_argument("function", help="bare name, Class.method or module.qualname")
    p.add_argument("n", type=int, help="invocation number (1 = first call, -1 = last)")
    p.add_argument("--writer", help="writer id (e.g. main, rank-0002, pid-4242) when several recorded it")
    p.add_argument("--rank", type=int, help="the MPI rank whose call to show")
    p.add_argument("--pid", type=int, help="the process whose call to show")
    p.add_argument("--allow-pickle", action="store_true",
                   help="restore values stored as pickles (only for databases you trust)")


def _value(v):
    """One line per value; arrays as dtype, shape, order and a few statistics;
    placeholders with their whole reason (it says what to do)."""
    if isinstance(v, Unrestorable):
        reason = v.reason
        if "allow_pickle=True" in reason:
            reason += "; here: callmonitor show --allow-pickle"
        return f"<Unrestorable {v.type_name}: {_repr.repr(v.repr)[1:-1]}> {reason}"
    try:
        import numpy
    except ImportError:
        numpy = None
    if numpy is not None and isinstance(v, numpy.ndarray):
        order = "F" if v.flags.f_contiguous and not v.flags.c_contiguous else "C"
        text = f"ndarray {v.dtype.str} shape={v.shape} order={order}"
        if v.size and v.dtype.kind in "biuf":
            with numpy.errstate(all="ignore"):
                text += f"  min={v.min():.6g} max={v.max():.6g} mean={v.mean():.6g}"
        elif v.size <= 6:
            text += f"  {v.tolist()!r}"
        return text
    return _repr.repr(v)


def run(args):
    with load(args.path, allow_pickle=args.allow_pickle) as db:
        call = db.call(args.function, args.n, writer=args.writer, rank=args.rank, pid=args.pid)
        f = call.function
        where = f"writer {call.writer}" + (f", rank {call.rank}" if call.rank >= 0 else "") + f", pid {call.pid}"
        print(f"{f.full_name} call #{call.invocation} ({where})")
        print(f"  defined   {f.file}:{f.line}")
        print(f"  signature {f.signature_text()}")
        bound = call.bound
        print("  arguments:")
        if bound is not None:
            given = set(bound.arguments)
            bound.apply_defaults()
            for name, value in bound.arguments.items():
                note = "" if name in given else "   (default)"
                print(f"    {name} = {_value(value)}{note}")
        else:
            for i, value in enumerate(call.args):
                print(f"    [{i}] = {_value(value)}")
            for name, value in call.kwargs.items():
                print(f"    {name} = {_value(value)}")
        if call.exception is not None:
            print(f"  raised    {call.exception}")
        elif not call.completed:
            print("  outcome   did not return (still running, or the process died)")
        else:
            print(f"  returned  {_value(call.result)}")
        print(f"  started   {call.started.isoformat()}")
        if call.duration is not None:
            print(f"  duration  {call.duration * 1e6:.1f} µs")
        print(f"  thread    {call.thread_name} ({call.thread})")
        print(f"  caller    {call.caller}")
    return 0
