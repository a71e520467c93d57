"""``pytest -p callmonitor.pytest_plugin``: the short name of callmonitor's
pytest plugin (and its ``pytest11`` entry point's name). Its code is
callmonitor/trace/pytest_plugin.py; this name is that very module, so the
plugin is one module whichever name loads it (it blocks the other name: see
``pytest_addoption`` there)."""
import sys

from .trace import pytest_plugin as _plugin

sys.modules[__name__] = _plugin
