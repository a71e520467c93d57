"""How commands present tables: a ``rich`` table when the output is a
terminal, aligned plain text otherwise (pipes, files, tests)."""
import sys


def use_rich(stream=None):
    """True when `stream` (stdout by default) is a terminal and rich is installed."""
    stream = stream or sys.stdout
    if not getattr(stream, "isatty", lambda: False)():
        return False
    try:
        import rich  # noqa: F401  (Debian: python3-rich)
    except ImportError:
        return False
    return True


def render(headers, rows, align=None):
    """The table as plain text: a header line, a rule, one line per row."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    align = align or ["<"] * len(headers)

    def line(cells):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def print_table(headers, rows, align=None, title=None, stream=None):
    """Prints the table: rich on a terminal, :func:`render` otherwise."""
    stream = stream or sys.stdout
    align = align or ["<"] * len(headers)
    if use_rich(stream):
        from rich.console import Console
        from rich.table import Table
        table = Table(title=title, title_justify="left", header_style="bold")
        for h, a in zip(headers, align):
            table.add_column(h, justify="right" if a == ">" else "left", overflow="fold")
        for r in rows:
            table.add_row(*(str(c) for c in r))
        Console(file=stream).print(table)
        return
    if title:
        print(title, file=stream)
    print(render(headers, rows, align), file=stream)
