"""Tells active watches about modules imported after they began.

A finder first on ``sys.meta_path`` asks the other finders for the spec and
wraps its loader, so that once the module has run, ``on_loaded(module)``
patches it. The module's ``__loader__`` and ``__spec__.loader`` are the
original loader again before its code runs: the module cannot tell.
"""
import sys
import threading

_state = {"callback": None}
_local = threading.local()


class _Loader:
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            spec.loader = self._loader
        self._loader.exec_module(module)
        callback = _state["callback"]
        if callback is not None:
            callback(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class WatchFinder:
    """The meta-path finder (one instance, installed while a watch is on)."""

    def find_spec(self, fullname, path=None, target=None):
        if getattr(_local, "finding", False):
            return None
        _local.finding = True
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            _local.finding = False
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec  # namespace packages, legacy loaders: nothing to patch
        spec.loader = _Loader(loader)
        return spec

    def invalidate_caches(self):
        pass


_FINDER = WatchFinder()


def install(callback):
    _state["callback"] = callback
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall():
    _state["callback"] = None
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
