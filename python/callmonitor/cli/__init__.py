"""The ``callmonitor`` command line: one module per subcommand."""
