"""Connects the native core to the Python side (called once at import)."""
import pickle
import threading

from . import _core
from .capture import describe, raised, session
from .handlers import REGISTRY
from .read import objects
from .read.values import Unrestorable


def install():
    _core._install_hooks({
        "registry_lookup": REGISTRY._lookup,
        "legacy_save": REGISTRY._legacy_save,
        "describe_function": describe.describe,
        "open_session": session.open_session,
        "thread_name": session.thread_name,
        "make_unrestorable": Unrestorable,
        "decode_handler": REGISTRY._decode,
        "legacy_load": REGISTRY._legacy_load,
        "pickle_dumps": pickle.dumps,
        "object_begin": objects.object_begin,
        "object_finish": objects.object_finish,
        "resolve_ref": objects.resolve_ref,
        "load_pickle": objects.load_pickle,
        "restore_failed": objects.restore_failed,
        "warn": session.warn,
        "format_traceback": raised.format_traceback,
    })
