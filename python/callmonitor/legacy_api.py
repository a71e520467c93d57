"""The names callmonitor 0.3 exported, kept working on the new engine
(docs/migrating-from-0.3.md says what each one does now).

    from callmonitor import intercept, rc      # 0.3's test/mpi_monitor.py
    rc(multi_threading=True, pid=rank, tident=0)
    callmonitor.CONTEXT.new()                  # start a new database (call-monitor-1, ...)
"""
from ._version import __version__
from .capture.session import close, flush, output_directory
from .capture.settings import Settings
from .handlers import Handler, NDArrayHandler, Registry
from .read.database import Database, load

#: The package version as a tuple, as 0.3's ``callmonitor.VERSION`` was.
VERSION = tuple(int(p) for p in __version__.split(".")[:3] if p.isdigit())

#: 0.3's database class. ``load()`` returns one (a 0.3 folder gives a
#: LegacyDatabase, which reads the same way).
DB = Database

#: The process-wide settings object (0.3's ``callmonitor.SETTINGS``).
SETTINGS = Settings()

#: 0.3's numpy handler: arrays are recorded natively now, so this is the
#: native handler (``REGISTRY.add(numpy.ndarray, NPHandler)`` keeps native arrays).
NPHandler = NDArrayHandler


class DefaultHandler(Handler):
    """0.3's fallback handler. Registering it for a type
    (``REGISTRY.add(T, DefaultHandler)``) gives T the default treatment
    again: values recorded by the native encoder (pickle as the last resort)."""

    _callmonitor_default = True   # Registry.add: means "no handler of its own"

    def save(self, path):
        pass

    def load(self, path):
        pass


class Context:
    """0.3's ``callmonitor.CONTEXT``: the database being recorded."""

    @property
    def initialized(self):
        """True once this process has recorded a call into the current database."""
        return output_directory() is not None

    @property
    def root(self):
        """The run directory being written, or None."""
        return output_directory()

    @property
    def db(self):
        """The database recorded so far (flushed, opened read-only)."""
        root = output_directory()
        if root is None:
            raise RuntimeError("no database yet: nothing has been recorded in this process")
        flush()
        return load(root)

    def new(self):
        """Finish the current database and start a new one: the next recorded
        call goes to the next free run directory (``call-monitor-1``, ...)."""
        close()

    init = new


CONTEXT = Context()


def snapshot():
    """0.3's ``snapshot()``: close the current database, record on into a new one."""
    CONTEXT.new()


def save_db():
    """0.3's ``save_db()``: make everything recorded so far durable."""
    flush()


def rc(multi_threading=None, pid=None, tident=None):
    """0.3's runtime configuration. ``multi_threading=True`` with ``pid=``
    (e.g. the MPI rank) records this process into writer ``tid-<pid>``
    (``tid-<pid>-<tident>`` with a ``tident``); ``False`` returns to the
    automatic writer names (``main``, ``rank-NNNN``, ``pid-N``). Without
    ``pid`` the automatic names already keep processes apart. Call it before
    the first recorded call."""
    if multi_threading is None:
        return
    if not multi_threading:
        SETTINGS.disable_multi_threading()
    elif pid is not None:
        SETTINGS.enable_multi_threading(pid, tident)


class Args:
    """0.3's ``Args(argspec, args, kwargs)``: one attribute per name in
    ``argspec.args``, taken from the positional args, else the keywords, else
    the defaults (``db.get_args`` gives every parameter, defaults filled in)."""

    def __init__(self, argspec, args, kwargs):
        defaults = list(argspec.defaults or ())
        first_default = len(argspec.args) - len(defaults)
        for i, name in enumerate(argspec.args):
            if i < len(args):
                value = args[i]
            elif name in kwargs:
                value = kwargs[name]
            elif i >= first_default:
                value = defaults[i - first_default]
            else:
                raise TypeError(f"no value for argument {name!r}: not passed and without default")
            setattr(self, name, value)

    def __repr__(self):
        return repr(self.__dict__.keys())

    __str__ = __repr__


__all__ = ["VERSION", "DB", "SETTINGS", "CONTEXT", "Context", "NPHandler", "DefaultHandler",
           "Args", "rc", "snapshot", "save_db", "Registry"]
