"""pytest plugin: record the calls a test suite makes into a library, each
labelled with its test and phase ("tests/test_x.py::test_a|call").

    pytest --callmonitor-to numpy --callmonitor-from mypkg [--callmonitor-out DIR]
           [--callmonitor-values summary]

Loaded through the ``pytest11`` entry point ``callmonitor.pytest_plugin`` (or
``-p callmonitor.pytest_plugin``; ``-p callmonitor.trace.pytest_plugin`` names
the same module); it does nothing unless ``--callmonitor-to`` is given. Test outcomes, output and
the exit status are pytest's own. Under pytest-xdist the controller claims the
run directory before the workers start and each worker records into it as a
writer of its own (docs/many-writers.md: a child joins its parent's run).
"""
import json
import os
import sys

import pytest

from . import labels

PHASES = ("setup", "call", "teardown")
# The names this one module is loaded under (callmonitor/pytest_plugin.py is
# an alias of it). pluggy refuses a module registered under a second name,
# so once it is registered under one, the others are blocked.
PLUGIN_NAMES = ("callmonitor.pytest_plugin", "callmonitor.trace.pytest_plugin")


def pytest_plugin_registered(plugin, manager):
    if plugin is sys.modules[__name__]:
        for name in PLUGIN_NAMES:
            if manager.get_plugin(name) is None and not manager.is_blocked(name):
                manager.set_blocked(name)


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
    """Labels each test phase; watches unless a watch is already on in this
    process (`callmonitor run -m pytest`). `request`: to, from, values, out."""

    def __init__(self, config, request):
        self.config = config
        self.request = request
        self.watch = None
        self.labelling = False

    @property
    def _is_controller(self):
        """An xdist controller with workers: it runs no test itself."""
        return (not hasattr(self.config, "workerinput")
                and bool(getattr(self.config.option, "numprocesses", None))
                and getattr(self.config.option, "dist", "no") != "no")

    def start(self):
        import callmonitor
        from .watch import active_watches
        if self.request.get("out"):
            callmonitor.configure(output=self.request["out"])
        if self._is_controller:
            return  # the workers (children of this process) watch and join its run
        self.labelling = True
        if not active_watches():
            self.watch = callmonitor.watch(list(self.request["to"]), from_modules=self.request["from"],
                                           values=self.request["values"], **self.request.get("policy", {}))

    def stop(self):
        if self.watch is not None:
            import callmonitor
            callmonitor.unwatch(self.watch)
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
        if not self.labelling:
            yield
            return
        outside = labels.current_label()  # `callmonitor run --label L`: L again after the test
        labels.set_label(phase_label(item.nodeid, phase))
        try:
            yield
        finally:
            labels.set_label(outside)

    def pytest_terminal_summary(self, terminalreporter):
        from .report import summary_line
        if self.request.get("from_run"):
            return  # `callmonitor run` writes the closing line
        terminalreporter.write_line(summary_line("callmonitor", self.request["to"], self.request["from"]))


def _request(config):
    """What to watch: the command-line options, else (in an xdist worker of
    `callmonitor run -m pytest -n N`, or in its main process) the watch of
    `callmonitor run`; None: the plugin stays off."""
    opt = config.option
    if getattr(opt, "callmonitor_to", None):
        return {"to": opt.callmonitor_to, "from": opt.callmonitor_from,
                "values": opt.callmonitor_values, "out": opt.callmonitor_out}
    from .run import WATCH_ENV
    raw = os.environ.get(WATCH_ENV)
    if not raw:
        return None
    try:
        w = json.loads(raw)
        return {"to": list(w["to"]), "from": list(w["from"]), "values": w["values"], "out": w.get("out"),
                "policy": dict(w.get("policy") or {}), "from_run": True}
    except (ValueError, KeyError, TypeError):
        return None


def pytest_configure(config):
    request = _request(config)
    if request is None:
        return
    plugin = CallmonitorPlugin(config, request)
    config.pluginmanager.register(plugin, "callmonitor-trace")
    plugin.start()
    config.add_cleanup(plugin.stop)
