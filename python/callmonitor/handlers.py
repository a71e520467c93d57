"""Type handlers: how values of a type are recorded and restored.

Two kinds of handler can be registered with ``REGISTRY.add(type, HandlerClass)``:

* new-style: a class with ``encode(self, obj) -> bytes-like`` and
  ``decode(self, data) -> obj``; the bytes are stored inline in the database.
* callmonitor 0.3 style: a subclass of :class:`Handler` with ``save(path)``,
  ``load(path)`` and the classmethod ``accumulator_done()``, using
  ``self.data`` and ``self.target``; it writes files into a per-invocation
  directory beside the database, as 0.3 did.

Lookup is by exact type, then along the type's MRO. A handler registered here
takes precedence over callmonitor's built-in ones (numpy arrays and scalars,
numpy masked arrays, pandas DataFrame/Series/Index: ``docs/handlers.md``);
``numpy.ndarray`` is registered as :class:`NDArrayHandler`, which stands for
the built-in one, and registering another handler for it replaces it.
"""
import os

from . import _core


class HandlerNotRegisteredError(LookupError):
    """A recorded value needs a handler that this process has not registered."""


class Handler:
    """Base class of callmonitor 0.3 style handlers (save/load with files)."""

    def __init__(self, data, target):
        self._data = data
        self._target = target

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        self._data = value

    @property
    def target(self):
        return self._target

    @target.setter
    def target(self, value):
        self._target = value

    def save(self, path):
        raise NotImplementedError

    def load(self, path):
        raise NotImplementedError

    @classmethod
    def accumulator_done(cls):
        pass


class NDArrayHandler:
    """numpy arrays, recorded natively by the C++ core (dtype, shape, order, bytes)."""


def _name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_legacy(cls):
    return isinstance(cls, type) and issubclass(cls, Handler) and not hasattr(cls, "encode")


class Registry:
    """type -> handler class pairs (``callmonitor.REGISTRY``)."""

    def __init__(self):
        self._handlers = {}
        self._instances = {}
        self._used_legacy = set()

    def add(self, type_, handler):
        if not isinstance(type_, type):
            raise TypeError(f"REGISTRY.add() needs a type, got {type_!r}")
        if getattr(handler, "_callmonitor_default", False):  # 0.3's DefaultHandler: no handler
            self.remove(type_)
            return
        if not (_is_legacy(handler) or handler is NDArrayHandler
                or (hasattr(handler, "encode") and hasattr(handler, "decode"))):
            raise TypeError(
                f"{handler!r} is not a handler: give it encode(obj) and decode(data), "
                f"or subclass callmonitor.Handler with save(path) and load(path)")
        self._handlers[type_] = handler
        self._instances.pop(handler, None)
        _core._registry_changed()

    def remove(self, type_):
        self._handlers.pop(type_, None)
        _core._registry_changed()

    def get(self, type_):
        for t in getattr(type_, "__mro__", (type_,)):
            if t in self._handlers:
                return self._handlers[t]
        return None

    def __contains__(self, type_):
        return type_ in self._handlers

    def items(self):
        return self._handlers.items()

    def _instance(self, handler):
        inst = self._instances.get(handler)
        if inst is None:
            inst = handler() if isinstance(handler, type) else handler
            self._instances[handler] = inst
        return inst

    def _by_name(self, name):
        for handler in self._handlers.values():
            if _name(handler) == name:
                return handler
        raise HandlerNotRegisteredError(
            f"this value was recorded by the handler {name}, which is not registered in this "
            f"process: import it and call callmonitor.REGISTRY.add(<type>, {name.rsplit('.', 1)[-1]}) "
            f"before reading")

    # hooks for the native core -------------------------------------------------
    def _lookup(self, type_):
        handler = self.get(type_)
        if handler is None:
            return None
        if handler is NDArrayHandler:
            return ("native", _name(handler), handler)
        if _is_legacy(handler):
            return ("legacy", _name(handler), handler)
        return ("codec", _name(handler), self._instance(handler))

    def _decode(self, name, data):
        return self._instance(self._by_name(name)).decode(data)

    def _legacy_save(self, cls, obj, target, path):
        os.makedirs(path, exist_ok=True)
        handler = cls(obj, target)
        handler.save(path)
        self._used_legacy.add(cls)
        state = dict(vars(handler))
        return state

    def _legacy_load(self, name, path, state):
        cls = self._by_name(name)
        handler = cls.__new__(cls)
        vars(handler).update(state)
        handler.load(path)
        return handler.data

    def _accumulators_done(self):
        for cls in list(self._used_legacy):
            cls.accumulator_done()
        self._used_legacy.clear()

    def __repr__(self):
        lines = ["{"]
        for t, h in self._handlers.items():
            lines.append(f"    {t!r}: {h!r}")
        lines.append("}")
        return "\n".join(lines)


REGISTRY = Registry()


def _register_builtin():
    try:
        import numpy
    except ImportError:  # numpy is a dependency, but reading must not need it
        return
    REGISTRY.add(numpy.ndarray, NDArrayHandler)


_register_builtin()
