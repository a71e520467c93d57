"""Code-free tracing: record how a program uses a library without editing it.

``watch(module)`` / ``unwatch()`` (watch.py), ``callmonitor run`` (run.py) and
the pytest plugin (pytest_plugin.py). See docs/code-free-tracing.md.
"""
