"""Recorded objects, references and pickles, as the reading process gets them back.

An instance of a plain class, a dataclass, a namedtuple or an enum is recorded
by its class name and its state (docs/objects.md); a function, class or module
by its qualified name. Reading them back runs no code of the recorded program
unless the reader opts in:

* without opt-in, an object comes back as a :class:`RecordedObject`: a
  read-only view whose attributes are the recorded ones (``v.u``) and whose
  methods raise :class:`RecordedViewError` saying how to rebuild the object;
* ``load(path, allow_import=["mypkg"])`` rebuilds objects whose class lives in
  ``mypkg`` (or a submodule), importing it; ``allow_pickle=True`` rebuilds any.
  Rebuilding follows pickle's semantics: ``cls.__new__(cls)`` then the state
  (``__setstate__`` when the class has one); ``__init__`` does not run.

A reference resolves when its module is already imported in this process (no
code runs) or the same opt-in allows importing it. A value that cannot be
restored (class missing, pickle failing, handler not registered) becomes an
:class:`~callmonitor.Unrestorable` saying why and what to do; the rest of the
call still loads.

The native decoder (python/src/read/object_view.cpp) calls the functions at the
bottom of this module.
"""
from __future__ import annotations

import builtins
import functools
import importlib
import io
import pickle
import sys
import types
import weakref
from typing import Any, Iterable, Optional, Sequence, Tuple, cast

from .values import PlaceholderError, Unrestorable

__all__ = ["RecordedObject", "RecordedCallable", "RecordedViewError", "recorded_class", "recorded_state",
           "not_rebuilt_reason", "import_rule"]

# ObjectForm of include/callmonitor/value_format.h
ATTRS, NAMED_TUPLE, ENUM, STATE = 0, 1, 2, 3
METHOD, PARTIAL, WRAPPER, LOCAL = 4, 5, 6, 7  # callables: module/qualname name the function
_FORM_NAMES = {ATTRS: "object", NAMED_TUPLE: "namedtuple", ENUM: "enum member", STATE: "object",
               METHOD: "bound method", PARTIAL: "functools.partial", WRAPPER: "method wrapper",
               LOCAL: "local function"}
# RefKind of value_format.h
_REF_KINDS = ("function", "class", "module")


class RecordedViewError(PlaceholderError):
    """An attribute a :class:`RecordedObject` view does not have (a method, or
    an attribute that was not recorded), or an attempt to change the view."""


def import_rule(allow_import: Optional[Iterable[str]]) -> Tuple[str, ...]:
    """The ``allow_import`` argument of ``load()`` as a tuple of module names.

    Refuses a bare string (``allow_import="mypkg"`` would mean m, y, p, ...)."""
    if allow_import is None:
        return ()
    if isinstance(allow_import, str):
        raise TypeError(f"allow_import takes a list of module names, e.g. allow_import=[{allow_import!r}]")
    names = tuple(allow_import)
    for n in names:
        if not isinstance(n, str) or not n or n.startswith(".") or n.endswith("."):
            raise ValueError(f"allow_import: {n!r} is not a module name (e.g. 'mypkg' or 'mypkg.grid')")
    return names


def _importable(module: str, allow_pickle: bool, allow_import: Sequence[str]) -> bool:
    """True when the reader opted in to importing `module` (the package or a submodule)."""
    return allow_pickle or any(module == p or module.startswith(p + ".") for p in allow_import)


def _opt_in_hint(module: str) -> str:
    if module == "__main__":
        return ("its class was defined in the recorded program's main script (__main__): another "
                "process does not have it (define the class in a module and record again); the "
                "recording script itself can rebuild it with load(path, allow_import=['__main__'])")
    top = module.split(".")[0]
    return (f"load(path, allow_import=[{top!r}]) rebuilds it (or allow_pickle=True; only for "
            f"databases you trust: rebuilding imports {top} and runs its code)")


def _qualified(module: str, qualname: str) -> str:
    if not qualname:
        return module
    return qualname if module == "builtins" else f"{module}.{qualname}"


def _short_repr(value: Any) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if isinstance(shape, tuple) and dtype is not None and getattr(value, "size", 0) > 8:
        return f"array(shape={shape}, dtype={dtype})"
    try:
        text = repr(value)
    except Exception as e:  # a repr that fails must not hide the rest
        return f"<repr failed: {type(e).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


class RecordedObject:
    """A read-only view of a recorded object: its class name and recorded state.

    ``v.name`` returns a recorded attribute; anything else (a method, an
    attribute that was not recorded) raises :class:`RecordedViewError`. Use
    :func:`recorded_class` and :func:`recorded_state` to inspect it, or load
    with ``allow_import=[...]`` / ``allow_pickle=True`` to get the object.
    """

    __slots__ = ("_cm_module", "_cm_qualname", "_cm_form", "_cm_state", "_cm_note")

    def __init__(self, module: str, qualname: str, form: int, state: Any = None, note: str = ""):
        set_ = object.__setattr__
        set_(self, "_cm_module", module)
        set_(self, "_cm_qualname", qualname)
        set_(self, "_cm_form", form)
        set_(self, "_cm_state", state)
        set_(self, "_cm_note", note)

    def _fields(self) -> dict:
        state = self._cm_state
        if self._cm_form != STATE and isinstance(state, dict):
            return state
        if isinstance(state, dict):
            return state
        if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
            merged = dict(state[0] or {})
            merged.update(state[1] or {})
            return merged  # object.__getstate__'s (dict, slots) pair
        return {}

    def __getattr__(self, name: str) -> Any:
        if name in RecordedObject.__slots__:  # not set yet (copy, unpickling)
            raise AttributeError(name)
        fields = self._fields()
        if name in fields:
            return fields[name]
        cls = _qualified(self._cm_module, self._cm_qualname)
        if name.startswith("__") and name.endswith("__"):
            raise RecordedViewError(f"a recorded view of {cls} has no {name}")
        recorded = ", ".join(map(str, list(fields)[:12])) or "none"
        raise RecordedViewError(
            f"{cls}.{name}: this is a read-only view of a recorded {cls}, not the object: it has the "
            f"recorded attributes ({recorded}) but not the class's methods. "
            f"{self._cm_note or _opt_in_hint(self._cm_module)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise RecordedViewError(f"a recorded view of {_qualified(self._cm_module, self._cm_qualname)} "
                                f"is read-only: it cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def __dir__(self):
        return sorted(map(str, self._fields()))

    def __reduce__(self):  # pickle and copy make a view again (its __setattr__ refuses)
        return (RecordedObject, (self._cm_module, self._cm_qualname, self._cm_form, self._cm_state, self._cm_note))

    # A namedtuple's view indexes and iterates like the tuple.
    def __getitem__(self, index):
        if self._cm_form != NAMED_TUPLE:
            raise TypeError(f"a recorded view of {_qualified(self._cm_module, self._cm_qualname)} "
                            f"is not subscriptable")
        return tuple(self._fields().values())[index]

    def __len__(self) -> int:
        if self._cm_form != NAMED_TUPLE:
            raise TypeError(f"a recorded view of {_qualified(self._cm_module, self._cm_qualname)} has no len()")
        return len(self._fields())

    def __iter__(self):
        if self._cm_form != NAMED_TUPLE:
            raise TypeError(f"a recorded view of {_qualified(self._cm_module, self._cm_qualname)} "
                            f"is not iterable")
        return iter(tuple(self._fields().values()))

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, RecordedObject):
            return NotImplemented
        if (self._cm_module, self._cm_qualname, self._cm_form) != (other._cm_module, other._cm_qualname, other._cm_form):
            return False
        if self._cm_state is other._cm_state:
            return True
        try:
            return bool(self._cm_state == other._cm_state)
        except Exception:  # arrays inside: element-wise ==
            return False

    __hash__ = None  # type: ignore[assignment]  # compares by content, like the dict of its state

    def __repr__(self) -> str:
        cls = _qualified(self._cm_module, self._cm_qualname)
        if self._cm_form == ENUM and isinstance(self._cm_state, dict):
            return f"<recorded {cls}.{self._cm_state.get('name')}: {_short_repr(self._cm_state.get('value'))}>"
        fields = self._fields()
        if fields:
            inner = ", ".join(f"{k}={_short_repr(v)}" for k, v in list(fields.items())[:12])
            if len(fields) > 12:
                inner += ", ..."
        else:
            inner = _short_repr(self._cm_state)
        return f"<recorded {cls} (read-only view): {inner}>"


class RecordedCallable(RecordedObject):
    """A read-only view of a recorded callable that is not rebuilt here: a bound
    method (``model.loss``: ``v.__self__`` is the recorded object), a
    ``functools.partial`` (``v.func``, ``v.args``, ``v.keywords``), or a
    ``staticmethod``/``classmethod`` object (``v.__func__``). Calling it raises
    :class:`RecordedViewError` saying why it is not the callable and how to get it.
    """

    __slots__ = ()

    def _fields(self) -> dict:
        state, form = self._cm_state, self._cm_form
        if form == METHOD:
            return {"__self__": state, "__name__": self._cm_qualname.rpartition(".")[2],
                    "__qualname__": self._cm_qualname}
        if form == WRAPPER:
            return {"__func__": state}
        return state if isinstance(state, dict) else {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RecordedViewError(f"{self!r} cannot be called: it is a read-only view of a recorded "
                                f"{_FORM_NAMES.get(self._cm_form, 'callable')}, not the callable: "
                                f"{self._cm_note or _opt_in_hint(self._cm_module)}")

    def __reduce__(self):
        return (RecordedCallable, (self._cm_module, self._cm_qualname, self._cm_form, self._cm_state, self._cm_note))

    def __repr__(self) -> str:
        state, form = self._cm_state, self._cm_form
        if form == METHOD:
            return f"<recorded bound method {self._cm_qualname} of {_short_repr(state)}>"
        if form == PARTIAL and isinstance(state, dict):
            parts = [_short_repr(state.get("func"))]
            parts += [_short_repr(a) for a in state.get("args") or ()]
            parts += [f"{k}={_short_repr(v)}" for k, v in (state.get("keywords") or {}).items()]
            return f"<recorded functools.partial({', '.join(parts)})>"
        return f"<recorded {self._cm_qualname} of {_short_repr(state)}>"


def recorded_class(view: RecordedObject) -> str:
    """The recorded object's class, ``module.qualname``."""
    return _qualified(view._cm_module, view._cm_qualname)


def not_rebuilt_reason(view: RecordedObject) -> str:
    """Why `view` is not the object, and how to get it (for replay and export)."""
    cls = recorded_class(view)
    return f"it is a read-only view of a recorded {cls}, not the object: {view._cm_note or _opt_in_hint(view._cm_module)}"


def recorded_state(view: RecordedObject) -> Any:
    """The recorded state: {attribute: value} (a namedtuple: {field: value}; an
    enum member: {"name", "value"}), or what the class's ``__getstate__`` returned."""
    return view._cm_state


# --- resolving names ---------------------------------------------------------------

class _NotFound(Exception):
    pass


def _lookup(module: str, qualname: str, allow_pickle: bool, allow_import: Sequence[str]) -> Any:
    """The object `qualname` of `module`: without importing anything unless the
    opt-in allows it. Raises _NotFound with the reason and what to do."""
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise _NotFound(f"{_qualified(module, qualname)} was defined inside a function: it cannot be "
                        f"looked up by name")
    if module == "builtins":
        mod = builtins
    elif module == "__main__" and not _importable(module, allow_pickle, allow_import):
        raise _NotFound("it was defined in the recorded program's main script (__main__), which this "
                        "process does not have: define it in a module and record again, or read the "
                        "recorded view (no allow_pickle)")
    elif module in sys.modules:
        mod = sys.modules[module]
    elif _importable(module, allow_pickle, allow_import):
        try:
            mod = importlib.import_module(module)
        except Exception as e:
            raise _NotFound(f"importing {module} failed ({type(e).__name__}: {e}): make it importable "
                            f"here (PYTHONPATH, the same environment as the recording)") from None
    else:
        raise _NotFound(f"its module {module} is not imported in this process; "
                        f"{_opt_in_hint(module).replace('rebuilds it', 'imports it')}")
    obj = mod
    for part in qualname.split(".") if qualname else ():
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = "the main script of this process" if module == "__main__" else f"module {module}"
            raise _NotFound(f"{where} has no {qualname} (it was renamed, moved or removed since the "
                            f"recording{'; a class of the recorded script is not in the reader' if module == '__main__' else ''})") from None
    return obj


# --- hooks called by the native decoder -----------------------------------------

def object_begin(module: str, qualname: str, form: int, allow_pickle: bool, allow_import: Sequence[str]) -> Any:
    """The object an Object value's memo index stands for while its state is read."""
    if form >= METHOD:
        return RecordedCallable(module, qualname, form)
    if form in (ATTRS, STATE) and _importable(module, allow_pickle, allow_import):
        try:
            cls = _lookup(module, qualname, allow_pickle, allow_import)
            if isinstance(cls, type):
                return cast(Any, cls).__new__(cls)
        except Exception:
            pass  # object_finish says why, with the view
    return RecordedObject(module, qualname, form)


def object_finish(shell: Any, module: str, qualname: str, form: int, state: Any,
                  allow_pickle: bool, allow_import: Sequence[str]) -> Any:
    """The value of an Object once its state is read: the rebuilt object, the
    view, or an Unrestorable (holding the view) saying why it is not rebuilt."""
    if isinstance(shell, RecordedCallable):
        return _callable_finish(shell, module, qualname, form, state, allow_pickle, allow_import)
    if isinstance(shell, RecordedObject):
        object.__setattr__(shell, "_cm_state", state)
        if not _importable(module, allow_pickle, allow_import):
            return shell
        try:
            cls = _lookup(module, qualname, allow_pickle, allow_import)
            if form == NAMED_TUPLE:
                return cls._make(list(state.values()))
            if form == ENUM:
                try:
                    return cls(state["value"])
                except ValueError:
                    return cls[state["name"]]
            raise _NotFound(f"{_qualified(module, qualname)} is not a class here "
                            f"(it is {type(cls).__name__})" if not isinstance(cls, type)
                            else f"{_qualified(module, qualname)}.__new__ failed")
        except Exception as e:
            return _cannot_rebuild(shell, module, qualname, e)
    try:
        _apply_state(shell, form, state)
        return shell
    except Exception as e:
        return _cannot_rebuild(RecordedObject(module, qualname, form, state), module, qualname, e)


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, (RecordedObject, Unrestorable))


def _bind(func: Any, obj: Any, qualname: str) -> Any:
    """`func` bound to `obj`, as `obj.<name>` was when it was recorded."""
    if isinstance(func, types.FunctionType):
        return types.MethodType(func, obj)
    if isinstance(func, types.MethodType):  # a classmethod, found bound to its class
        return types.MethodType(func.__func__, obj)
    get = getattr(type(func), "__get__", None)
    if get is not None:  # a method descriptor (list.append), an @intercept wrapper
        return get(func, obj, type(obj))
    return getattr(obj, qualname.rpartition(".")[2])  # a C method bound to a class (dict.fromkeys)


def _callable_finish(view: "RecordedCallable", module: str, qualname: str, form: int, state: Any,
                     allow_pickle: bool, allow_import: Sequence[str]) -> Any:
    """A recorded callable: rebuilt when its function resolves (its module is
    imported here, or the opt-in allows importing it) and the values it holds
    were rebuilt; else its view, whose note says which part is missing."""
    object.__setattr__(view, "_cm_state", state)
    name = _qualified(module, qualname)
    if form == LOCAL:
        where = (f"{state.get('file')}:{state.get('line')}" if isinstance(state, dict) else "an unknown place")
        return Unrestorable("function", f"{name} defined at {where}",
                            f"{name} was defined inside a function or is a lambda (at {where}): it cannot "
                            f"be looked up by name, so it is not rebuilt; define it at module level (def) "
                            f"to have it restored", recorded=view)
    if form == METHOD:
        parts = {"__self__": state}
    elif form == PARTIAL and isinstance(state, dict):
        parts = {"func": state.get("func"),
                 **{f"args[{i}]": a for i, a in enumerate(state.get("args") or ())},
                 **{f"keywords[{k!r}]": v for k, v in (state.get("keywords") or {}).items()}}
    else:
        parts = {"__func__": state}
    for what, part in parts.items():
        if _is_placeholder(part):
            reason = part.reason if isinstance(part, Unrestorable) else not_rebuilt_reason(part)
            object.__setattr__(view, "_cm_note", f"its {what} is not rebuilt ({reason})")
            return view
    try:
        if form == METHOD:
            return _bind(_lookup(module, qualname, allow_pickle, allow_import), state, qualname)
        if form == PARTIAL and isinstance(state, dict):
            return functools.partial(state["func"], *(state.get("args") or ()), **(state.get("keywords") or {}))
        if form == WRAPPER and qualname in ("staticmethod", "classmethod"):
            return staticmethod(state) if qualname == "staticmethod" else classmethod(state)
        raise _NotFound(f"{name} is not a callable this reader knows how to rebuild")
    except _NotFound as e:
        object.__setattr__(view, "_cm_note", f"its function {name} is not resolved: {e}")
    except Exception as e:
        object.__setattr__(view, "_cm_note", f"rebuilding it failed ({type(e).__name__}: {e})")
    return view


def _cannot_rebuild(view: RecordedObject, module: str, qualname: str, error: Exception) -> Unrestorable:
    why = str(error) if isinstance(error, _NotFound) else f"{type(error).__name__}: {error}"
    return Unrestorable(_qualified(module, qualname), repr(view),
                        f"cannot rebuild the {_FORM_NAMES.get(view._cm_form, 'object')} here: {why}; "
                        f"its recorded state is in .recorded", recorded=view)


_SLOT_NAMES: "weakref.WeakKeyDictionary[type, frozenset]" = weakref.WeakKeyDictionary()


def _slot_names(cls: type) -> frozenset:
    """The slot attributes of `cls`'s MRO (set with object.__setattr__, not in __dict__)."""
    names = _SLOT_NAMES.get(cls)
    if names is None:
        names = frozenset(name for klass in cls.__mro__ for name, attr in vars(klass).items()
                          if isinstance(attr, types.MemberDescriptorType))
        _SLOT_NAMES[cls] = names
    return names


def _apply_state(obj: Any, form: int, state: Any) -> None:
    """pickle's BUILD: __setstate__ when the class has one, else the attributes."""
    setstate = getattr(type(obj), "__setstate__", None)
    if form == STATE and setstate is not None:
        setstate(obj, state)
        return
    slots = None
    if form == STATE and isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    attrs = {**(state or {}), **(slots or {})}
    members = _slot_names(type(obj)) if attrs else set()
    d = getattr(obj, "__dict__", None)
    for name, value in attrs.items():
        if d is not None and name not in members:
            d[name] = value
        else:
            object.__setattr__(obj, name, value)


def resolve_ref(kind: int, module: str, qualname: str, allow_pickle: bool, allow_import: Sequence[str]) -> Any:
    """The function, class or module a Ref names, or an Unrestorable saying why not."""
    what = _REF_KINDS[kind] if 0 <= kind < len(_REF_KINDS) else "object"
    name = _qualified(module, qualname)
    try:
        return _lookup(module, qualname, allow_pickle, allow_import)
    except _NotFound as e:
        reason = str(e)
    except Exception as e:
        reason = f"looking it up failed ({type(e).__name__}: {e})"
    return Unrestorable(what, name, f"the recorded reference to {what} {name} is not resolved: {reason}")


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only classes and functions of the modules allow_import names."""

    def __init__(self, data: bytes, allow_import: Sequence[str]):
        super().__init__(io.BytesIO(data))
        self.allow_import = allow_import

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS or _importable(module, False, self.allow_import):
            return super().find_class(module, name)
        raise _NotFound(f"its pickle refers to {module}.{name}, and allow_import does not include "
                        f"{module}: add it (allow_import=[..., {module.split('.')[0]!r}]) or load with "
                        f"allow_pickle=True if you trust the database")


_SAFE_BUILTINS = {"int", "float", "complex", "str", "bytes", "bytearray", "bool", "list", "tuple",
                  "dict", "set", "frozenset", "slice", "range", "object"}  # not getattr: it reaches anything


def load_pickle(type_name: str, data: bytes, allow_pickle: bool, allow_import: Sequence[str]) -> Any:
    """A Pickle value: unpickled when allowed (allow_import: only its modules), else,
    or when unpickling fails, an Unrestorable saying why."""
    shown = f"<pickled object, {len(data)} bytes>"
    if not allow_pickle and not allow_import:
        return Unrestorable(type_name, shown,
                            "stored as a pickle; load(path, allow_pickle=True) restores it "
                            "(only for databases you trust: unpickling can run code)")
    try:
        if allow_pickle:
            return pickle.loads(data)
        return _RestrictedUnpickler(data, allow_import).load()
    except _NotFound as e:
        return Unrestorable(type_name, shown, str(e))
    except Exception as e:
        return Unrestorable(type_name, shown, f"its pickle cannot be loaded here ({type(e).__name__}: {e}); "
                            f"{_pickle_fix(type_name, e)}")


def _pickle_fix(type_name: str, error: Exception) -> str:
    module = type_name.rpartition(".")[0] or type_name
    if module == "__main__" or "__main__" in str(error):
        return ("its class was defined in the recorded program's main script (__main__), which this "
                "process does not have: define the class in a module and record again")
    return f"its class must be importable here under the same name ({type_name}: same package, same version)"


def restore_failed(type_name: str, what: str, error: BaseException) -> Unrestorable:
    """A value whose handler failed to decode it (or is not registered)."""
    from ..handlers import HandlerNotRegisteredError
    if isinstance(error, HandlerNotRegisteredError):
        return Unrestorable(type_name, f"<recorded by {type_name}>", str(error))
    return Unrestorable(type_name, f"<recorded by {type_name}>",
                        f"{what} failed to restore it here ({type(error).__name__}: {error}); check that "
                        f"the handler registered is the one that recorded it (same version)")
