"""``watch(module)`` / ``unwatch()``: record the calls a program makes into a
library, without editing either.

A watch replaces, in place, the public callables of a package and of its
submodules by recording wrappers (``_core.Watched``: an Interceptor that
passes for what it wraps) and puts them back on ``unwatch``. What is replaced
and what cannot be reached is listed in docs/code-free-tracing.md.
"""
import importlib
import sys
import types
from typing import List, Optional, Sequence, Union

from .. import _core
from ..capture import describe
from ..capture import policy as _policy
from ..capture.intercept import _interceptor_of, _wrap
from . import import_hook, labels
from .summary import summarize

_VALUES = ("full", "summary")
_UFUNC_METHODS = ("reduce", "accumulate", "reduceat", "outer", "at")


class WatchError(ValueError):
    """A watch cannot be started as asked (bad module, option or policy)."""


class PolicyNotSupportedError(WatchError):
    """A capture policy a watch cannot apply (max_db_bytes= and seed= are the
    database's: give them to configure())."""


def _module_of(obj):
    m = getattr(obj, "__module__", None)
    return m if isinstance(m, str) else None


def _in_packages(name, packages):
    return any(name == p or name.startswith(p + ".") for p in packages)


def _is_public_module(name):
    return not any(part.startswith("_") for part in name.split("."))


def _function_like(obj):
    """Callables a watch wraps: Python functions, builtins / C functions and
    numpy ufuncs (and numpy >= 1.25's array-function dispatchers)."""
    if isinstance(obj, (_core.Interceptor, type)) or hasattr(obj, "__callmonitor_interceptor__"):
        return False  # already recorded by @intercept (or watched); classes: see _watch_class
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return True
    t = type(obj)
    return t.__module__ == "numpy" and t.__name__ in ("ufunc", "_ArrayFunctionDispatcher")


class Watch:
    """One active watch: what it replaced, so that ``unwatch`` can put back
    every attribute exactly (by identity)."""

    def __init__(self, packages, options, result, label, from_modules=(), policy=None):
        self.packages = tuple(packages)
        self.policy = dict(policy or {})  # every watched callable's capture policy (capture/policy.py)
        self.options_from = tuple(from_modules)
        self.options = options
        self.result = result
        self.label = label
        self.wrappers = {}    # id(original) -> wrapper
        self.originals = {}   # id(original) -> original (kept alive: the ids stay valid)
        self.patches = []     # (namespace dict or class, name, original, wrapper)
        self.named = []       # ids given names in describe.KNOWN_NAMES
        self.active = True

    def __repr__(self):
        state = "active" if self.active else "ended"
        return (f"<callmonitor watch of {', '.join(self.packages)}: {len(self.wrappers)} callables, "
                f"{len(self.patches)} names, {state}>")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        unwatch(self)

    # -- wrapping ---------------------------------------------------------------
    def _name(self, obj, module, qualname):
        describe.KNOWN_NAMES.setdefault(id(obj), (module, qualname))
        self.named.append(id(obj))

    def _wrapper_for(self, obj, module, qualname):
        w = self.wrappers.get(id(obj))
        if w is None:
            if _module_of(obj) is None or getattr(obj, "__qualname__", None) is None:
                self._name(obj, module, qualname)
            # coroutine / generator functions: a Python wrapper of the same
            # kind over the Watched (intercept.py), as @intercept does.
            w = _wrap(obj, self.result, None, self.options)
            _policy.set_own(_interceptor_of(w), self.policy)
            self.wrappers[id(obj)] = w
            self.originals[id(obj)] = obj
            if type(obj).__name__ == "ufunc":
                self._watch_ufunc_methods(obj, w, module, qualname)
        return w

    def _watch_ufunc_methods(self, ufunc, w, module, qualname):
        """np.add.reduce & co. are recorded as numpy.add.reduce: the wrapper
        holds one recording wrapper of each bound method."""
        for method in _UFUNC_METHODS:
            bound = getattr(ufunc, method, None)
            if bound is None:
                continue
            self.originals[id(bound)] = bound  # kept alive: its id names it
            self._name(bound, module, f"{qualname}.{method}")
            recorded = _wrap(bound, self.result, None, self.options)
            _policy.set_own(recorded, self.policy)
            setattr(w, method, recorded)

    def _owns(self, obj, found_in):
        m = _module_of(obj)
        if m is not None:
            return _in_packages(m, self.packages)
        return _in_packages(found_in, self.packages)  # a ufunc or builtin without __module__

    def _patch(self, namespace, name, original, wrapper):
        if isinstance(namespace, dict):
            namespace[name] = wrapper
        else:
            setattr(namespace, name, wrapper)
        self.patches.append((namespace, name, original, wrapper))

    def _watch_class(self, cls):
        """Public methods (plain, static, class) and the constructor
        (``__init__``, else ``__new__``) defined in the class itself."""
        own = vars(cls)
        names = [n for n in own if not n.startswith("_")]
        names += [n for n in ("__init__",) if n in own] or [n for n in ("__new__",) if n in own]
        for name in names:
            raw = own[name]
            inner = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
            if not isinstance(inner, types.FunctionType) or hasattr(inner, "__callmonitor_interceptor__"):
                continue  # not a Python function, or one @intercept records already
            w = self._wrapper_for(inner, cls.__module__, f"{cls.__qualname__}.{name}")
            replacement = type(raw)(w) if inner is not raw else w
            try:
                setattr(cls, name, replacement)
            except (TypeError, AttributeError):  # an immutable (C) type
                return
            self.patches.append((cls, name, raw, replacement))

    def watch_module(self, module):
        """Wraps what a public module of the package defines."""
        d = vars(module)
        for name, obj in list(d.items()):
            if name.startswith("_"):
                continue
            if isinstance(obj, type):
                if self._owns(obj, module.__name__) and id(obj) not in self.originals:
                    self.originals[id(obj)] = obj  # a class is patched once, where it is defined
                    self._watch_class(obj)
            elif _function_like(obj) and self._owns(obj, module.__name__):
                self._wrapper_for(obj, module.__name__, name)

    def rebind(self, namespaces):
        """Points every name bound to a wrapped original at its wrapper."""
        for d in namespaces:
            for name, obj in list(d.items()):
                w = self.wrappers.get(id(obj))
                if w is not None and self.originals.get(id(obj)) is obj:
                    self._patch(d, name, obj, w)

    def on_import(self, module):
        """A module imported while the watch is on (called by import_hook)."""
        name = module.__name__
        if _in_packages(name, self.packages) and _is_public_module(name):
            self.watch_module(module)
        self.rebind([vars(module)])

    # -- ending -------------------------------------------------------------------
    def restore(self):
        for namespace, name, original, wrapper in reversed(self.patches):
            if isinstance(namespace, dict):
                if namespace.get(name) is wrapper:
                    namespace[name] = original
            elif vars(namespace).get(name) is wrapper:
                setattr(namespace, name, original)
        # Names bound to a wrapper after the watch began (`from numpy import add`
        # in a module imported since): back to the original too.
        back = {id(w): self.originals[k] for k, w in self.wrappers.items()}
        for d in _module_namespaces():
            for name, obj in list(d.items()):
                original = back.get(id(obj))
                if original is not None and self.wrappers.get(id(original)) is obj:
                    d[name] = original
        for k in self.named:
            describe.KNOWN_NAMES.pop(k, None)
        self.patches.clear()
        self.active = False


_ACTIVE: List["Watch"] = []


def _module_namespaces():
    for name, m in list(sys.modules.items()):
        if name.startswith("callmonitor") and not name.startswith("callmonitor_"):
            continue
        d = getattr(m, "__dict__", None)
        if isinstance(d, dict):
            yield d


def _resolve(module_or_name):
    if isinstance(module_or_name, types.ModuleType):
        return module_or_name
    if isinstance(module_or_name, str):
        try:
            return importlib.import_module(module_or_name)
        except ImportError as e:
            raise WatchError(f"cannot watch {module_or_name!r}: {e}") from e
    raise WatchError(f"watch() takes a module or a module name, got {type(module_or_name).__name__}")


def _checked_policy(policy):
    """watch()'s capture policies, checked as intercept() checks them (TypeError /
    ValueError now, not at the first call); None values are left out."""
    given = {k: v for k, v in policy.items() if v is not None}
    database_wide = sorted(set(given) & set(_policy.SESSION_OPTIONS))
    if database_wide:
        raise PolicyNotSupportedError(f"{', '.join(database_wide)}= applies to the whole database: give it to "
                                      f"callmonitor.configure(), not to watch()")
    return _policy.check(**given)


def _options(packages, from_modules, values):
    if values not in _VALUES:
        raise WatchError(f"values must be one of {_VALUES}, got {values!r}")
    return _core.WatchOptions(allow=from_modules, deny=list(packages),
                              summarize=summarize if values == "summary" else None)


def watch(module_or_name: Union[str, types.ModuleType, Sequence[Union[str, types.ModuleType]]],
          from_modules: Optional[Union[str, Sequence[str]]] = None, label: Optional[str] = None, *,
          values: str = "full", result: bool = True, **policy) -> "Watch":
    """Record the calls made into a package (a module, its name, or a list of
    them) until ``unwatch``. Returns the Watch (also a context manager).

    from_modules: record only calls made from these modules (module-name
                  prefixes: "pint" covers "pint.testsuite"). By default every
                  caller except the watched package itself (its calls into
                  itself); name it in from_modules to record those too.
    label:        label of the calls recorded from now on (see labels.py).
    values:       "full" (default: values as @intercept keeps them) or
                  "summary" (types, dtypes, shapes, short literals).
    result:       record return values (default True).
    policy:       capture policies for every watched callable, as for
                  intercept(): every=, first=, sample=, max_calls=,
                  max_bytes=, exclude=, keep=, slower_than= (docs/policies.md).
    """
    targets = module_or_name if isinstance(module_or_name, (list, tuple)) else [module_or_name]
    roots = [_resolve(m) for m in targets]
    packages = [m.__name__ for m in roots]
    for w in _ACTIVE:
        overlap = [p for p in packages if _in_packages(p, w.packages) or _in_packages(w.packages[0], [p])]
        if overlap:
            raise WatchError(f"{', '.join(overlap)} is already watched: unwatch() it first")
    if isinstance(from_modules, str):
        from_modules = [from_modules]
    from_modules = [str(m) for m in (from_modules or ())]
    checked = _checked_policy(policy)
    options = _options(packages, from_modules, values)
    w = Watch(packages, options, result, label, from_modules, checked)
    for name, m in sorted(sys.modules.items()):
        if isinstance(m, types.ModuleType) and _in_packages(name, packages) and _is_public_module(name):
            w.watch_module(m)
    w.rebind(list(_module_namespaces()))
    _ACTIVE.append(w)
    import_hook.install(_on_import)
    if label is not None:
        labels.set_label(label)
    return w


def unwatch(what: Union[None, "Watch", str, types.ModuleType] = None) -> None:
    """Ends a watch (a Watch, a watched module or its name; None: every
    watch) and puts back every replaced attribute, by identity."""
    if what is None:
        chosen = list(_ACTIVE)
    elif isinstance(what, Watch):
        chosen = [what] if what in _ACTIVE else []
    else:
        name = what.__name__ if isinstance(what, types.ModuleType) else str(what)
        chosen = [w for w in _ACTIVE if name in w.packages]
        if not chosen:
            raise WatchError(f"{name!r} is not watched")
    for w in reversed(chosen):
        _ACTIVE.remove(w)
        w.restore()
        if w.label is not None and labels.current_label() == w.label:
            labels.set_label(None)
    if not _ACTIVE:
        import_hook.uninstall()


def active_watches() -> List["Watch"]:
    return list(_ACTIVE)


def _on_import(module):
    for w in list(_ACTIVE):
        w.on_import(module)
