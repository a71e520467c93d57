"""pytest plugin: record the calls a test suite makes into a library, each
labelled with its test and phase ("tests/test_x.py::test_a|call").

    pytest --callmonitor-to numpy --callmonitor-from mypkg [--callmonitor-out DIR]
           [--callmonitor-values summary]

Loaded through the ``pytest11`` entry point (or ``-p callmonitor.trace.pytest_plugin``);
it does nothing unless ``--callmonitor-to`` is given. Test outcomes, output and
the exit status are pytest's own. Under pytest-xdist the controller claims the
run directory before the workers start and each worker records into it as a
writer of its own (docs/many-writers.md: a child joins its parent's run).
"""
import pytest

from . import labels

PHASES = ("setup", "call", "teardown")


def pytest_addoption(parser):
    group = parser.getgroup("callmonitor", "record calls into a library (callmonitor)")
    group.addoption("--callmonitor-to", action="append", default=[], metavar="MOD",
                    help="package whose calls are recorded (with its submodules); repeatable")
    group.addoption("--callmonitor-from", action="append", default=[], metavar="MOD",
                    help="record only calls made from these modules (prefix match); repeatable")
    group.addoption("--callmonitor-out", default=None, metavar="DIR",
                    help="base path of the run directory (default ./call-monitor)")
    group.addoption("--callmonitor-values", default="full", choices=("full", "summary"),
                    help="full (default) or summary: types, dtypes, shapes and short literals")


def phase_label(nodeid, phase):
    """The label of one phase of one test (one fact, used by the tests too)."""
    return f"{nodeid}|{phase}"


class CallmonitorPlugin:
    def __init__(self, config):
        self.config = config
        self.watch = None
        self.run_dir = None

    @property
    def _is_controller(self):
        """An xdist controller with workers: it runs no test itself."""
        return (not hasattr(self.config, "workerinput")
                and bool(getattr(self.config.option, "numprocesses", None))
                and getattr(self.config.option, "dist", "no") != "no")

    def start(self):
        import callmonitor
        from ..capture import session
        opt = self.config.option
        if opt.callmonitor_out:
            callmonitor.configure(output=opt.callmonitor_out)
        if self._is_controller:
            # Claim the run now: the workers are this process's children and
            # join it (launcher rule 1); the final line names it.
            self.run_dir = session._choose_run()[0]
            return
        self.watch = callmonitor.watch(list(opt.callmonitor_to), from_modules=opt.callmonitor_from,
                                       values=opt.callmonitor_values)

    def stop(self):
        if self.watch is not None:
            import callmonitor
            callmonitor.unwatch(self.watch)
            labels.set_label(None)
            callmonitor.flush()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        yield from self._labelled(item, "setup")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        yield from self._labelled(item, "call")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item):
        yield from self._labelled(item, "teardown")

    def _labelled(self, item, phase):
        if self.watch is None:
            yield
            return
        labels.set_label(phase_label(item.nodeid, phase))
        try:
            yield
        finally:
            labels.set_label(None)

    def pytest_terminal_summary(self, terminalreporter):
        from .report import summary_line
        opt = self.config.option
        if self.watch is not None or self.run_dir is not None:
            terminalreporter.write_line(summary_line("callmonitor", opt.callmonitor_to,
                                                     opt.callmonitor_from, self.run_dir))


def pytest_configure(config):
    if not config.getoption("callmonitor_to", None):
        return
    plugin = CallmonitorPlugin(config)
    config.pluginmanager.register(plugin, "callmonitor-trace")
    plugin.start()
    config.add_cleanup(plugin.stop)
