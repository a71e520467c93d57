"""Replay recorded calls against the current code (or another implementation)
and compare the outcomes with the recorded ones (docs/replay.md).

    from callmonitor import load
    db = load("call-monitor")
    r = db.replay("step", 3)                      # a ReplayResult
    r = db.replay("step", 3, func="fast:step")    # the porting check

Finding the function (:func:`find_function`): import the recorded module and
walk the qualname. A function of a script (module ``__main__``) is loaded from
its recorded source file as the module ``__mp_main__`` — the name
multiprocessing gives a re-imported main script — so its
``if __name__ == "__main__":`` block does not run; while replaying,
``sys.modules["__main__"]`` points to it so pickled objects of the script's
classes can be restored. ``<locals>`` functions cannot be found: give ``func=``.
"""
import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import types
from time import perf_counter_ns
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np

from .. import _core
from ..read.errors import DatabaseError
from ..read.objects import RecordedObject, not_rebuilt_reason
from ..read.values import Unrestorable
from .compare import _EXACT_SCALARS, EXACT, Rules, compare_exception, differences

MAIN_ALIAS = "__mp_main__"

# ReplayResult.status values; the first two count as passed.
PASSED, RAN, FAILED, ERROR, CRASHED, TIMEOUT, SKIPPED = (
    "passed", "ran", "failed", "error", "crashed", "timeout", "skipped")


class ReplayError(Exception):
    """The replay cannot start: the function is not found, a bad --func or --calls."""


@dataclass
class ReplayResult:
    """The outcome of replaying one recorded call.

    status:      passed / failed (outcome differs) / error (could not be replayed:
                 inputs not restorable, ...) / crashed / timeout (``isolate``) /
                 skipped (the recorded call never returned) / ran (no check asked).
    differences: readable differences between the recorded and the replayed outcome.
    mutated:     parameters the replayed call changed in place (``out``, ``self``, ``rest[1]``).
    recorded_ns, replay_ns: the recorded and the replayed duration.
    """
    function: str
    invocation: int
    writer: str
    status: str
    differences: Sequence[str] = ()   # lists when there are any (no list per passing call)
    mutated: Sequence[str] = ()
    recorded_ns: Optional[int] = None
    replay_ns: Optional[int] = None
    error: Optional[str] = None

    @property
    def passed(self) -> bool:
        return self.status in (PASSED, RAN, SKIPPED)

    @property
    def ratio(self) -> Optional[float]:
        """replay duration / recorded duration."""
        if self.recorded_ns and self.replay_ns is not None:
            return self.replay_ns / self.recorded_ns
        return None

    def as_json(self) -> dict:
        d = asdict(self)
        d["differences"], d["mutated"] = list(self.differences), list(self.mutated)
        d["passed"] = self.passed
        d["ratio"] = self.ratio
        return d


# -- finding the function ---------------------------------------------------------------

def _import_path(dirs: Iterable[str]):
    """Puts `dirs` first on sys.path (where replayed modules are imported from)."""
    for d in dirs:
        d = os.path.abspath(d)
        if d not in sys.path:
            sys.path.insert(0, d)


def _package_root(module: str, file: str) -> Optional[str]:
    """The directory `module` is imported from, judging by its recorded file
    (``/proj/heat/kernels.py`` for ``heat.kernels`` -> ``/proj``)."""
    if not file:
        return None
    parts = module.split(".")
    path = os.path.splitext(os.path.abspath(file))[0].split(os.sep)
    if path[-1] == "__init__":
        path = path[:-1]
    if path[-len(parts):] != parts:
        return None
    return os.sep.join(path[:-len(parts)]) or os.sep


_scripts: Dict[str, types.ModuleType] = {}


def load_script(file: str):
    """The module of a script run as ``__main__``, loaded from `file` without its
    ``if __name__ == "__main__":`` block (executed as ``__mp_main__``; any other
    top-level code runs, as it would on import). Cached per file."""
    file = os.path.abspath(file)
    main = sys.modules.get("__main__")
    if main is not None and os.path.abspath(getattr(main, "__file__", "") or "") == file:
        return main   # replaying from inside the recorded script itself
    if file in _scripts:
        return _scripts[file]
    if not os.path.isfile(file):
        raise ReplayError(f"the script {file} that defined the function is gone: give "
                          f"--func module:function to replay into another implementation")
    _import_path([os.path.dirname(file)])
    spec = importlib.util.spec_from_file_location(MAIN_ALIAS, file)
    if spec is None or spec.loader is None:
        raise ReplayError(f"{file} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(MAIN_ALIAS)
    sys.modules[MAIN_ALIAS] = module
    try:
        with recording_paused():
            spec.loader.exec_module(module)
    except BaseException as e:
        if previous is not None:
            sys.modules[MAIN_ALIAS] = previous
        else:
            sys.modules.pop(MAIN_ALIAS, None)
        raise ReplayError(f"loading the script {file} failed: {type(e).__name__}: {e}") from e
    _scripts[file] = module
    return module


def _walk(obj, qualname: str, where: str):
    for part in qualname.split("."):
        try:
            obj = inspect.getattr_static(obj, part) if isinstance(obj, type) else getattr(obj, part)
        except AttributeError:
            raise ReplayError(f"{where} has no attribute {part!r} (looking for {qualname}): "
                              f"was it renamed? give --func module:function") from None
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__   # a classmethod's cls was recorded as its first argument
    return obj


def unwrap(func: Callable) -> Callable:
    """The undecorated function of an ``@intercept`` wrapper (replay must not record)."""
    target = getattr(func, "__callmonitor_target__", None)
    if target is not None:
        return target
    while type(func).__name__ == "Interceptor" and hasattr(func, "__wrapped__"):
        func = func.__wrapped__
    return func


def find_function(module: str, qualname: str, file: str = "", path: Sequence[str] = (), *,
                  line: int = 0, shadowed: bool = False) -> Callable:
    """The function recorded as `module`.`qualname` (defined in `file`), undecorated.
    With `line`, the definition made there (:func:`recorded_definition`; `shadowed`:
    the database holds several definitions of the name)."""
    found = _find_current(module, qualname, file, path)
    if not line:
        return found
    return recorded_definition(found, module, qualname, file, line, shadowed)


def _find_current(module: str, qualname: str, file: str, path: Sequence[str]) -> Callable:
    """What `module`.`qualname` is now, undecorated."""
    _import_path(path)
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise ReplayError(f"{module}.{qualname} is defined inside another function (or is a "
                          f"lambda) and cannot be imported: give the implementation to replay "
                          f"with --func module:function (db.replay(..., func=))")
    if not module:
        raise ReplayError(f"{qualname} has no recorded module: give --func module:function")
    if module == "__main__":
        return unwrap(_walk(load_script(file), qualname, f"the script {file}"))
    try:
        mod = _import(module)
    except ImportError as first:
        root = _package_root(module, file)
        if root is None or root in sys.path:
            raise ReplayError(f"cannot import {module} ({first}): run from the directory it is "
                              f"imported from, or give --path DIR") from None
        sys.path.append(root)
        try:
            mod = _import(module)
        except ImportError as e:
            raise ReplayError(f"cannot import {module} ({e}): give --path DIR") from None
    return unwrap(_walk(mod, qualname, f"module {module}"))


def _same_file(a: str, b: str) -> bool:
    if a == b:
        return True
    if not (a and b) or a.startswith("<") or b.startswith("<"):
        return False
    return os.path.realpath(a) == os.path.realpath(b)


def _definition_site(func) -> tuple:
    """(file, first line) of a Python function's code; ("", 0) for other callables."""
    code = getattr(func, "__code__", None)
    return (code.co_filename, code.co_firstlineno) if isinstance(code, types.CodeType) else ("", 0)


def _defined_at(func, file: str, line: int) -> bool:
    """Whether `func` was defined at `line` of `file` (any file when `file` is "")."""
    f, n = _definition_site(func)
    return n == line and (not file or _same_file(f, file))


def _definitions_in_source(file: str, qualname: str) -> int:
    """How many code objects of the source `file` define `qualname` (two: a name
    defined twice, the first shadowed); 0 when the source cannot be read."""
    try:
        with open(file, "rb") as f:
            code = compile(f.read(), file, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return 0
    found, todo = 0, [code]
    while todo:
        c = todo.pop()
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                found += getattr(const, "co_qualname", const.co_name) == qualname
                todo.append(const)
    return found


def _live_definition(module: str, qualname: str, file: str, line: int) -> Optional[Callable]:
    """A function object alive in this process defined at (file, line) as
    `module`.`qualname` (a shadowed definition something still holds), or None."""
    import gc
    from .._module_names import recorded_module
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType and obj.__qualname__ == qualname \
                and recorded_module(obj.__module__ or "") == module:
            if _defined_at(obj, file, line):
                return obj
    return None


def recorded_definition(current: Callable, module: str, qualname: str, file: str, line: int,
                        shadowed: bool, unique_name: str = "") -> Callable:
    """The function defined where the recorded one was (`file`:`line`), when
    `current` (what `module`.`qualname` is now) may be another definition of
    the same name: `shadowed` (the database holds several), or the source
    defines the name twice. A function whose source was merely edited (its
    line moved) is `current`: replaying the current code is the point. Raises
    ReplayError rather than replay a different definition."""
    cur_file, cur_line = _definition_site(current)
    if not line or not cur_line or _defined_at(current, file, line):
        return current
    if not shadowed and _definitions_in_source(cur_file, qualname) < 2:
        return current   # one definition, moved by an edit
    found = _live_definition(module, qualname, file, line)
    if found is not None:
        return unwrap(found)
    name = unique_name or f"{module}.{qualname}"
    raise ReplayError(
        f"the recorded definition {name} ({qualname} defined at {file or cur_file}:{line}) is no longer in "
        f"module {module}: {module}.{qualname} is now the definition at {cur_file}:{cur_line} "
        f"(the name was defined again), and replaying that one would run other code than the "
        f"calls were recorded from. Keep the old definition reachable under another name, or "
        f"give the implementation to replay with --func module:function (db.replay(..., func=))")


def _import(module: str):
    """import_module; an error while the module runs (not a missing module) is a ReplayError."""
    try:
        with recording_paused():
            return importlib.import_module(module)
    except ImportError:
        raise
    except BaseException as e:
        raise ReplayError(f"importing {module} failed: {type(e).__name__}: {e}") from e


def parse_func(spec: str, path: Sequence[str] = ()) -> Callable:
    """``module:attr`` (attr may be dotted, ``mod:Class.method``) -> the callable."""
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ReplayError(f"--func wants module:function (e.g. fastmod:step), got {spec!r}")
    _import_path(list(path) + [os.getcwd()])
    if module.endswith(".py") and os.path.isfile(module):
        return unwrap(_walk(load_script(module), attr, f"the script {module}"))
    try:
        mod = _import(module)
    except ImportError as e:
        raise ReplayError(f"--func {spec}: cannot import {module} ({e}); give --path DIR") from None
    return unwrap(_walk(mod, attr, f"module {module}"))


@contextlib.contextmanager
def recording_paused():
    """No recording inside: replayed code (and generated tests) call intercepted
    functions, which must not write a new run into the current directory."""
    _core.set_enabled(False)
    try:
        yield
    finally:
        _core.set_enabled(True)


@contextlib.contextmanager
def _main_is_script(func):
    """While replaying a script's function, ``__main__`` is that script (so
    pickles of its classes resolve), as multiprocessing does in its children."""
    module = sys.modules.get(getattr(func, "__module__", None) or "")
    if getattr(func, "__module__", None) != MAIN_ALIAS or module is None:
        yield
        return
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


# -- choosing calls ---------------------------------------------------------------------

def parse_calls(spec: str) -> List[Union[int, slice]]:
    """``"1:100,250,-1"`` -> [slice(1, 100), 250, -1]: numbers from 1 (negative from
    the end); ``a:b`` includes both ends; ``a:`` to the last call, ``:b`` from the first."""
    out: List[Union[int, slice]] = []
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if ":" in part:
                a, b = part.split(":", 1)
                first, last = int(a) if a else 1, int(b) if b else None
                if last is not None and (first > 0) == (last > 0) and last < first:
                    raise ReplayError(f"--calls: the range {part} runs backwards; write "
                                      f"{last}:{first}")
                out.append(slice(first, last))
            else:
                out.append(int(part))
        except ValueError:
            raise ReplayError(f"--calls wants numbers and ranges like 1:100,250,-1; got {spec!r}") \
                from None
    if not out:
        raise ReplayError("--calls is empty")
    return out


@dataclass
class Unreadable:
    """Stands in for a chosen call whose record could not be turned back into
    values (a pickled class that does not import here, a missing handler)."""
    function: Any         # the FunctionInfo
    invocation: int
    writer: str
    error: str
    duration_ns: Optional[int] = None


_READ_ERRORS = (IndexError, LookupError, DatabaseError)   # about the database: not per call


def _unreadable_text(e):
    return (f"its values cannot be restored ({type(e).__name__}: {e}): a pickled or handled "
            f"value's class must be importable here; run where its module is imported from, "
            f"or give --path DIR")


def select_calls(db, fn, numbers: Optional[Sequence[Union[int, slice]]] = None, *,
                 writer=None, rank=None, pid=None) -> Iterator:
    """The recorded calls chosen: every call (`numbers` None: writer after writer,
    in invocation order) or the given numbers and ranges, in the order given. A
    call whose values cannot be restored comes as an :class:`Unreadable`, and
    the others still come."""
    where = dict(writer=writer, rank=rank, pid=pid)
    if numbers is None:
        for info in _functions(db, fn, where):
            yield from _writer_calls(db, fn, info)
        return
    for item in numbers:
        if isinstance(item, slice):
            first = _read(db, fn, item.start, where)
            count = first.function.calls
            last = item.stop if item.stop is not None else count
            if last < 0:
                last = count + 1 + last
            yield first
            for n in range(first.invocation + 1, last + 1):
                yield _read(db, fn, n, where)
        else:
            yield _read(db, fn, item, where)


def _functions(db, fn, where):
    """The recorded FunctionInfos (one per writer) `fn` names (NAME@LINE too), in
    writer order; the database raises for an unknown or ambiguous name."""
    return db.find(fn, **where)


def _writer_calls(db, fn, info):
    last = 0
    try:
        for call in db.calls(fn, writer=info.writer):
            last = call.invocation
            yield call
        return
    except _READ_ERRORS:
        raise
    except Exception as e:
        yield Unreadable(info, last + 1, info.writer, _unreadable_text(e))
    for n in range(last + 2, info.calls + 1):   # after a failure: one call at a time
        try:
            yield db.call(fn, n, writer=info.writer)
        except IndexError:
            continue   # no call n in this writer
        except _READ_ERRORS:
            raise
        except Exception as e:
            yield Unreadable(info, n, info.writer, _unreadable_text(e))


def _read(db, fn, n, where):
    try:
        return db.call(fn, n, **where)
    except _READ_ERRORS:
        raise
    except Exception as e:
        info = _functions(db, fn, where)[0]
        m = n if n > 0 else info.calls + 1 + n
        return Unreadable(info, m, info.writer, _unreadable_text(e))


def count_calls(db, fn, numbers=None, *, writer=None, rank=None, pid=None) -> Optional[int]:
    """How many calls :func:`select_calls` yields (for a progress bar), or None."""
    try:
        total = sum(f.calls for f in db.find(fn, writer=writer, rank=rank, pid=pid))
    except Exception:
        return None
    if numbers is None:
        return total
    n = 0
    for item in numbers:
        if isinstance(item, slice):
            stop = total if item.stop is None else (item.stop if item.stop > 0 else total + 1 + item.stop)
            n += max(0, stop - (item.start if item.start > 0 else total + 1 + item.start) + 1)
        else:
            n += 1
    return n


# -- replaying --------------------------------------------------------------------------

# Kinds whose calls record no result (the wrapper sees a coroutine or generator
# object, not what it produces).
_NO_RESULT = ("generator", "async-generator", "coroutine")

_IMMUTABLE = frozenset((int, float, complex, str, bytes, bool, type(None), frozenset))


def _snapshot(v):
    """A cheap copy of `v` to compare with after the call: a list or dict of
    immutable scalars (shallow copy), an array (copy); None: re-decode instead."""
    t = type(v)
    if t is list:
        for x in v:
            if type(x) not in _IMMUTABLE:
                return None
        return v[:]
    if t is dict:
        for x in v.values():
            if type(x) not in _IMMUTABLE:
                return None
        return v.copy()
    if t is np.ndarray and v.dtype.kind != "O":
        return v.copy()
    return None


def _changed(before, after):
    """Whether a snapshot differs from the value after the call (exactly;
    NaN equal to NaN; an element of another type is a change)."""
    if type(before) is list:
        if before == after and list(map(type, before)) == list(map(type, after)):
            return False
    elif type(before) is dict:
        if before == after and list(map(type, before.values())) == list(map(type, after.values())):
            return False
    return bool(differences(before, after, EXACT))


def _parameter_names(call, nargs):
    """Names of the positional arguments (``rest[0]`` for ``*rest``)."""
    sig = call.function.signature
    names = []
    star = None
    if sig is not None:
        for p in sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                names.append(p.name)
            elif p.kind is p.VAR_POSITIONAL:
                star = p.name
    out = names[:nargs]
    for i in range(len(out), nargs):
        out.append(f"{star}[{i - len(names)}]" if star else f"args[{i}]")
    return out


class Replayer:
    """Replays calls of one recorded function into `func` (default: the
    function found from the record) and compares the outcomes.

    One instance per (database, function); :meth:`replay` per call is the hot loop."""

    def __init__(self, db, fn, func: Union[None, str, Callable] = None, *, check: bool = True,
                 rules: Rules = Rules(), path: Sequence[str] = (), writer=None, rank=None,
                 pid=None):
        self.db, self.fn = db, fn
        self.check = check or func is not None
        self.rules = rules
        self.path = list(path)
        self.where = dict(writer=writer, rank=rank, pid=pid)
        self._func = parse_func(func, self.path) if isinstance(func, str) else func
        self._given = func is not None
        self._found: Dict[tuple, Callable] = {}
        self._last_info: Any = None
        self._last_func: Optional[Callable] = None
        self._last_name = ""

    def target(self, info) -> Callable:
        """The callable to replay a call of the recorded function `info` into."""
        if self._func is not None:
            return self._func
        if info.kind == "partial":
            raise ReplayError(f"{info.full_name} was recorded through a functools.partial, whose "
                              f"bound arguments are not in the record: give the partial with "
                              f"--func module:name")
        line = getattr(info, "line", 0)
        key = (info.module, info.qualname, info.file, line)
        if key not in self._found:
            current = _find_current(info.module, info.qualname, info.file, self.path)
            # The definition the calls were recorded from (NAME@LINE: a redefined function).
            self._found[key] = recorded_definition(
                current, info.module, info.qualname, info.file, line,
                shadowed=getattr(info, "unique_name", info.full_name) != info.full_name,
                unique_name=getattr(info, "unique_name", ""))
        return self._found[key]

    def prepare(self):
        """Finds the function before any call is decoded (a script's classes must
        exist before its pickles are restored)."""
        self.db.functions   # names each FunctionInfo's definition (unique_name: NAME@LINE when shadowed)
        try:
            found = self.db.find(self.fn, **self.where)
        except (LookupError, ValueError):
            return self._func   # unknown or ambiguous: reading the calls says so
        return self.target(found[0]) if found else self._func

    def run(self, numbers=None, progress=None) -> List[ReplayResult]:
        """Every chosen call replayed, in order; progress(done) after each."""
        func = self.prepare()
        out: List[ReplayResult] = []
        append = out.append
        replay = self.replay
        with recording_paused(), _main_is_script(func):
            for call in select_calls(self.db, self.fn, numbers, **self.where):
                append(replay(call))
                if progress is not None:
                    progress(len(out))
        return out

    def replay(self, call) -> ReplayResult:
        """Replays one recorded :class:`~callmonitor.Call` (the hot loop: one pass
        over the inputs, the common outcomes without extra calls)."""
        info = call.function
        if type(call) is Unreadable:
            return ReplayResult(info.full_name, call.invocation, call.writer, ERROR,
                                error=call.error)
        if info is self._last_info:
            func, name = self._last_func, self._last_name
        else:
            func, name = None, info.full_name
        result = ReplayResult(name, call.invocation, call.writer, RAN, recorded_ns=call.duration_ns)
        args, kwargs = call.args, call.kwargs
        snapshots = None       # [(position or keyword, copy before the call)]
        redecode = False       # some input has no cheap copy: decode the record again
        for key, v in (enumerate((*args, *kwargs.values())) if kwargs else enumerate(args)):
            t = type(v)
            if t not in _IMMUTABLE:
                if t is Unrestorable or issubclass(t, RecordedObject):  # a view, of an object or a callable
                    result.status = ERROR
                    why = v.reason if t is Unrestorable else not_rebuilt_reason(v)
                    result.error = f"an input could not be restored: {why}"
                    return result
                copy = _snapshot(v)
                if copy is None:
                    redecode = True
                else:
                    if snapshots is None:
                        snapshots = []
                    snapshots.append((key, copy))
        if func is None:
            try:
                func = self.target(info)
            except ReplayError as e:
                result.status, result.error = ERROR, str(e)
                return result
            self._last_info, self._last_func, self._last_name = info, func, name
        raised = None
        start = perf_counter_ns()
        try:
            value = func(*args, **kwargs)
            if info.kind == "coroutine":
                import asyncio
                value = asyncio.run(value)
        except Exception as e:  # the replayed function's own exception is an outcome
            raised, value = e, None
        result.replay_ns = perf_counter_ns() - start
        if snapshots is not None or redecode:
            result.mutated = self._mutated(call, args, kwargs, snapshots, redecode)
        if not self.check:
            if raised is not None:
                result.differences = [f"raised {type(raised).__name__}: {raised}"]
            return result
        if not call.completed:
            result.status = SKIPPED
            result.error = "the recorded call never returned (the process stopped in it)"
            return result
        if call.exception is not None:
            found = compare_exception(call.exception, raised)
        elif raised is not None:
            found = [f"exception: raised {type(raised).__name__}: {raised}; expected a return"]
        elif getattr(call, "outcome", None) == "result-skipped" or info.kind in _NO_RESULT:
            found = ()   # the result was not recorded: only "it did not raise" is checked
        else:
            expected = call.result
            if type(expected) is type(value) and type(value) in _EXACT_SCALARS:
                found = () if expected == value else differences(expected, value, self.rules,
                                                                 "result")
            else:
                found = differences(expected, value, self.rules, "result")
        if found:
            result.status = FAILED
            result.differences = [str(d) for d in found]
        else:
            result.status = PASSED
        return result

    def _mutated(self, call, args, kwargs, snapshots, redecode) -> Sequence[str]:
        """Parameters whose value after the call differs from before it: the
        snapshot taken before the call, or a fresh decode of the record."""
        values = (*args, *kwargs.values())
        changed = set()
        for key, before in snapshots or ():
            if _changed(before, values[key]):
                changed.add(key)
        if redecode:
            before_args, before_kwargs = self.db.get(self.fn, call.invocation, writer=call.writer)
            taken = {key for key, _ in snapshots or ()}
            for key, before in enumerate((*before_args, *before_kwargs.values())):
                if key not in taken and type(before) not in _IMMUTABLE \
                        and differences(before, values[key], EXACT):
                    changed.add(key)
        if not changed:
            return ()
        names = _parameter_names(call, len(args)) + list(kwargs)
        return [names[key] for key in sorted(changed)]


def replay(db, fn, n=None, func=None, *, check=True, rtol=None, atol=None, loose_dtype=False,
           path=(), isolate=False, timeout=None, writer=None, rank=None, pid=None):
    """``db.replay``: call `n` of `fn` (an int: one :class:`ReplayResult`), or the
    calls `n` lists (numbers and ``slice(a, b)`` ranges; None: every call) -> a list."""
    rules = Rules(rtol, atol, loose_dtype)
    numbers = None if n is None else ([n] if isinstance(n, int) else list(n))
    if isolate:
        from .isolated import IsolatedReplayer
        engine = IsolatedReplayer(db.path, fn, func, check=check, rules=rules, path=path,
                                  timeout=timeout, allow_pickle=db.allow_pickle, writer=writer,
                                  rank=rank, pid=pid, allow_import=getattr(db, "allow_import", ()))
        try:
            results = engine.run(db, numbers)
        finally:
            engine.close()
    else:
        results = Replayer(db, fn, func, check=check, rules=rules, path=path, writer=writer,
                           rank=rank, pid=pid).run(numbers)
    return results[0] if isinstance(n, int) else results
