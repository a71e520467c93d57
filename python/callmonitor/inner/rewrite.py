"""The AST rewrite behind wrap_calls and flat_profile.

A function's source is parsed, every call in its body becomes a call of a
wrapper, and the result is compiled to a new code object that is bound to the
ORIGINAL function's globals, defaults and closure cells:

    user wrapper:  f(x, k=1)  ->  _callmonitor_wrap(f, x, k=1)
    recording:     f(x, k=1)  ->  _callmonitor_profile(_callmonitor_calls, SITE, f, x, k=1)
                   await g()  ->  await _callmonitor_profile.awaited(_callmonitor_calls, SITE, g)
    both:          locals()   ->  _callmonitor_hide(locals())      (also vars(), dir())

In recording mode the body is also bracketed, so the inner calls live in a
local of the frame (per invocation: threads, recursion, generators and
coroutines each get their own):

    _callmonitor_calls = _callmonitor_profile.begin()
    try:
        <body>
    finally:
        _callmonitor_profile.end(_callmonitor_calls)

The wrapper names are free variables, not parameters: the new def is compiled
inside a factory whose parameters are the original free variables plus the
wrapper names (and inside a class of the owner's name, so private names are
mangled as in the original and zero-argument super() finds `__class__`). The
factory is never run; its compiled constants hold the new code object, and
the function is built from it with the original cells: closures, nonlocal
and super() keep working on the same variables.
"""
from __future__ import annotations

import __future__
import ast
import builtins
import dataclasses
import inspect
import itertools
import re
import types
from collections.abc import Callable, Collection
from typing import Any

# The names the rewrite adds to a function; locals(), vars() and dir() hide them.
PREFIX = "_callmonitor_"
WRAP = PREFIX + "wrap"           # free variable: the user's wrapper
PROFILE = PREFIX + "profile"     # free variable: the native recorder (InnerProfile)
HIDE = PREFIX + "hide"           # free variable: hide_names, when locals()/vars()/dir() are used
CALLS = PREFIX + "calls"         # local: the invocation's InnerCalls
MARKER = "__callmonitor_inner__"      # attribute of a rewritten function

# Frame-sensitive calls are never wrapped: they look at the frame that calls
# them, which a Python wrapper would replace by its own.
FRAME_SENSITIVE = frozenset({
    "locals", "globals", "breakpoint", "sys._getframe", "_getframe", "inspect.currentframe",
    "currentframe", "inspect.stack", "inspect.getouterframes", "sys._current_frames",
})
FRAME_SENSITIVE_WITHOUT_ARGS = frozenset({"vars", "dir", "super"})  # vars(obj) is not
FRAME_SENSITIVE_WITHOUT_GLOBALS = frozenset({"eval", "exec"})      # eval(src, ns) is not

_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


NAME_LISTERS = frozenset({"locals", "vars", "dir"})  # without arguments: they list the frame's names


def hide_names(names):
    """locals()/vars()/dir() of a rewritten frame without the names the rewrite added."""
    if isinstance(names, dict):
        return {k: v for k, v in names.items() if not (isinstance(k, str) and k.startswith(PREFIX))}
    return [n for n in names if not (isinstance(n, str) and n.startswith(PREFIX))]


class NoSourceError(Exception):
    """The function cannot be rewritten (no source, or the source does not match its code)."""


@dataclasses.dataclass(frozen=True)
class CallSite:
    """One call in the rewritten function's source.

    index: the site id recorded with each call; callee: the callee as written
    (``a.run``, ``int``, ``obj["k"]``); pattern: the name blacklist/whitelist
    patterns match (recompyle's form: ``obj[k]``); line/end_line/column: where
    in the file; awaited: ``await callee(...)``, timed until the await ends.
    """
    index: int
    callee: str
    pattern: str
    line: int
    end_line: int
    column: int
    awaited: bool = False


def call_pattern(node: ast.expr) -> str:
    """The name of a callee for blacklist/whitelist matching.

    String subscripts lose their quotes (``a["b"]`` -> ``a[b]``); a call in the
    chain stands for its callee (``a().b`` -> ``a.b``); anything else is its
    source text."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{call_pattern(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return f"{call_pattern(node.value)}[{call_pattern(node.slice)}]"
    if isinstance(node, ast.Call):
        return call_pattern(node.func)
    return ast.unparse(node)


_SUBSCRIPT = re.compile(r"\[(.*?)\]")


class CallSelection:
    """Which calls are wrapped: recompyle's ignore_builtins / blacklist / whitelist.

    A pattern matches a call name exactly, or with any of its subscripts
    replaced by ``[*]`` (``"a[*].run"`` matches ``a[0].run()`` and
    ``a["k"].run()``). A blacklist wraps all but its matches; a whitelist only
    its matches; they cannot be combined."""

    def __init__(self, ignore_builtins: bool = False, blacklist: Collection[str] | None = None,
                 whitelist: Collection[str] | None = None):
        self.blacklist = self._patterns(blacklist, "blacklist")
        self.whitelist = self._patterns(whitelist, "whitelist")
        if self.blacklist and self.whitelist:
            raise ValueError("wrap_calls: give a blacklist or a whitelist, not both")
        self.builtins = frozenset(name for name, value in vars(builtins).items()
                                  if callable(value)) if ignore_builtins else frozenset()

    @staticmethod
    def _patterns(patterns, what: str) -> frozenset[str]:
        if patterns is None:
            return frozenset()
        if isinstance(patterns, str) or not all(isinstance(p, str) for p in patterns):
            raise TypeError(f"wrap_calls: {what} must be a set of call names (str), "
                            f"e.g. {{'a.run', 'obj[*]'}}; got {patterns!r}")
        return frozenset(patterns)

    def _decide(self, name: str) -> bool | None:
        if name in self.blacklist:
            return False
        if name in self.whitelist:
            return True
        return None

    def allows(self, name: str) -> bool:
        if name in self.builtins:
            return False
        if not self.blacklist and not self.whitelist:
            return True
        decided = self._decide(name)
        if decided is not None:
            return decided
        subscripts = list(_SUBSCRIPT.finditer(name))
        for count in range(1, len(subscripts) + 1):
            for chosen in itertools.combinations(subscripts, count):
                candidate = name
                for m in reversed(chosen):  # right to left: earlier offsets stay valid
                    candidate = candidate[:m.start()] + "[*]" + candidate[m.end():]
                decided = self._decide(candidate)
                if decided is not None:
                    return decided
        return bool(self.blacklist)


def frame_sensitive(node: ast.Call) -> bool:
    """Calls that read their caller's frame (locals(), super(), sys._getframe(), ...)."""
    name = call_pattern(node.func)
    if name in FRAME_SENSITIVE:
        return True
    if name in FRAME_SENSITIVE_WITHOUT_ARGS:
        return not node.args and not node.keywords
    if name in FRAME_SENSITIVE_WITHOUT_GLOBALS:
        starred = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
        explicit = len(node.args) >= 2 or any(k.arg == "globals" for k in node.keywords)
        return starred or not explicit
    return False


class _CallRewriter(ast.NodeTransformer):
    """Routes the calls of a function body through the wrapper (see the module doc)."""

    def __init__(self, recording: bool, selection: CallSelection, source: str, line_offset: int):
        self.recording = recording
        self.selection = selection
        self.source = source
        self.line_offset = line_offset
        self.sites: list[CallSite] = []
        self._site_constants: list[ast.Constant] = []   # by site id, the id's node in the new code
        self.uses_hide = False

    def number_in_source_order(self) -> None:
        """Site ids follow the source (line, column), not the visiting order."""
        order = sorted(range(len(self.sites)), key=lambda i: (self.sites[i].line, self.sites[i].column))
        self.sites = [dataclasses.replace(self.sites[old], index=new) for new, old in enumerate(order)]
        for new, old in enumerate(order):
            self._site_constants[old].value = new

    def _site(self, node: ast.Call, pattern: str, awaited: bool) -> int:
        callee = ast.get_source_segment(self.source, node.func) or ast.unparse(node.func)
        site = CallSite(len(self.sites), " ".join(callee.split()), pattern, node.lineno + self.line_offset,
                        (node.end_lineno or node.lineno) + self.line_offset, node.col_offset, awaited)
        self.sites.append(site)
        return site.index

    def _selected(self, node: ast.Call) -> str | None:
        if frame_sensitive(node):
            return None
        pattern = call_pattern(node.func)
        return pattern if self.selection.allows(pattern) else None

    def _wrapped(self, node: ast.Call, wrapper: ast.expr, awaited: bool, pattern: str) -> ast.Call:
        site = ast.Constant(self._site(node, pattern, awaited))
        self._site_constants.append(site)
        prefix = [ast.Name(CALLS, ast.Load()), site] if self.recording else []
        new = ast.Call(wrapper, [*prefix, node.func, *node.args], node.keywords)
        return ast.copy_location(new, node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        pattern = self._selected(node)
        self.generic_visit(node)
        if pattern is None:
            if call_pattern(node.func) in NAME_LISTERS and not node.args and not node.keywords:
                self.uses_hide = True
                return ast.copy_location(ast.Call(ast.Name(HIDE, ast.Load()), [node], []), node)
            return node
        return self._wrapped(node, ast.Name(PROFILE if self.recording else WRAP, ast.Load()), False, pattern)

    def visit_Await(self, node: ast.Await) -> ast.AST:
        if not self.recording or not isinstance(node.value, ast.Call):
            self.generic_visit(node)
            return node
        call = node.value
        pattern = self._selected(call)
        if pattern is None:
            self.generic_visit(node)
            return node
        self.generic_visit(call)
        awaited = ast.Attribute(ast.Name(PROFILE, ast.Load()), "awaited", ast.Load())
        node.value = self._wrapped(call, awaited, True, pattern)
        return node


def _function_node(tree: ast.AST, code: types.CodeType, line_offset: int):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            if first + line_offset == code.co_firstlineno:
                return node
    return None


def _find_code(code: types.CodeType, name: str, firstlineno: int) -> types.CodeType | None:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if (const.co_name == name and const.co_firstlineno == firstlineno
                    and const.co_flags & inspect.CO_NEWLOCALS):
                return const
            found = _find_code(const, name, firstlineno)
            if found is not None:
                return found
    return None


def _owner_class(func: types.FunctionType) -> str | None:
    parts = func.__qualname__.split(".")
    if len(parts) >= 2 and parts[-2] != "<locals>":
        return parts[-2]
    return None


def _bracketed(body: list[ast.stmt]) -> list[ast.stmt]:
    """body -> [docstring] + calls = profile.begin(); try: body finally: profile.end(calls)."""
    doc = body[:1] if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                       and isinstance(body[0].value.value, str)) else []
    rest = body[len(doc):] or [ast.copy_location(ast.Pass(), body[-1])]
    profile = ast.Name(PROFILE, ast.Load())
    begin = ast.Assign([ast.Name(CALLS, ast.Store())], ast.Call(ast.Attribute(profile, "begin", ast.Load()), [], []))
    end = ast.Expr(ast.Call(ast.Attribute(profile, "end", ast.Load()), [ast.Name(CALLS, ast.Load())], []))
    ast.copy_location(begin, rest[0])
    ast.copy_location(end, rest[-1])
    bracket = ast.copy_location(ast.Try(body=rest, handlers=[], orelse=[], finalbody=[end]), rest[0])
    return [*doc, begin, bracket]


class FunctionRewrite:
    """The rewrite of one function: its call sites, sources, and build()."""

    def __init__(self, func: types.FunctionType, recording: bool, selection: CallSelection):
        self.func = func
        code = func.__code__
        if code.co_name == "<lambda>":
            raise NoSourceError(f"{func.__qualname__}: a lambda cannot be rewritten (no statement body)")
        try:
            lines, first = inspect.getsourcelines(func)
        except (OSError, TypeError) as e:
            raise NoSourceError(f"{func.__qualname__}: no source code ({e}); functions defined in the "
                                f"interpreter or by exec() cannot be rewritten") from None
        self.original_source = "".join(lines)
        indented = lines[0][:1] in (" ", "\t")
        source = ("if 1:\n" + self.original_source) if indented else self.original_source
        line_offset = first - (2 if indented else 1)
        try:
            tree = ast.parse(source, filename=code.co_filename, type_comments=True)
        except SyntaxError as e:
            raise NoSourceError(f"{func.__qualname__}: its source does not parse ({e})") from None
        node = _function_node(tree, code, line_offset)
        if node is None:
            raise NoSourceError(f"{func.__qualname__}: its source at {code.co_filename}:{code.co_firstlineno} "
                                f"does not hold its definition (was the file changed since it was imported?)")
        rewriter = _CallRewriter(recording, selection, source, line_offset)
        node.body = [rewriter.visit(stmt) for stmt in node.body]
        rewriter.number_in_source_order()
        if recording:
            node.body = _bracketed(node.body)
        ast.fix_missing_locations(node)
        ast.increment_lineno(node, line_offset)
        self.sites = rewriter.sites
        self.uses_hide = rewriter.uses_hide
        self.new_source = ast.unparse(node)
        self._node = node
        self.recording = recording

    def build(self, cells: dict[str, object]) -> types.FunctionType:
        """The rewritten function, with the original's globals, defaults and closure
        cells, and `cells` (wrapper name -> object) for the wrapper names."""
        func, code = self.func, self.func.__code__
        cells = {**cells, HIDE: hide_names}
        owner = _owner_class(func)
        outer = [n for n in code.co_freevars if not (owner and n == "__class__")]
        params = [*outer, *(n for n in cells if n not in outer)]
        body: list[ast.stmt] = [self._node]
        if owner:
            body = [ast.copy_location(ast.ClassDef(owner, [], [], body, []), self._node)]
        # The def (or class) statement binds its name in the factory; it must not
        # turn the function's references to that name (recursion) into free variables.
        bound = owner or self._node.name
        if bound not in params:
            body.insert(0, ast.copy_location(ast.Global([bound]), self._node))
        factory = ast.copy_location(ast.FunctionDef(
            "_callmonitor_factory",
            ast.arguments([], [ast.arg(n) for n in params], None, [], [], None, []),
            body, [], None), self._node)
        module = ast.Module([factory], [])
        ast.fix_missing_locations(module)
        compiled = compile(module, code.co_filename, "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True)
        new_code = _find_code(compiled, code.co_name, code.co_firstlineno)
        if new_code is None:
            raise NoSourceError(f"{func.__qualname__}: the rewritten code was not found (please report this)")
        check = ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount")
        mask = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_VARARGS \
            | inspect.CO_VARKEYWORDS
        # The same parameters and kind, and every name the original uses (private names mangled alike).
        if (any(getattr(new_code, a) != getattr(code, a) for a in check) or (new_code.co_flags ^ code.co_flags) & mask
                or new_code.co_varnames[:code.co_argcount] != code.co_varnames[:code.co_argcount]
                or not set(code.co_names) <= set(new_code.co_names)):
            raise NoSourceError(f"{func.__qualname__}: its source does not match its code "
                                f"(was the file changed since it was imported?)")
        original_cells = dict(zip(code.co_freevars, func.__closure__ or ()))
        closure = []
        for name in new_code.co_freevars:
            if name in original_cells:
                closure.append(original_cells[name])
            elif name in cells:
                closure.append(types.CellType(cells[name]))
            else:
                raise NoSourceError(f"{func.__qualname__}: the rewritten code needs a variable {name!r} "
                                    f"that the original does not have")
        new = types.FunctionType(new_code, func.__globals__, func.__name__, func.__defaults__, tuple(closure))
        new.__kwdefaults__ = func.__kwdefaults__
        new.__annotations__ = func.__annotations__
        new.__qualname__ = func.__qualname__
        new.__doc__ = func.__doc__
        new.__module__ = func.__module__
        new.__dict__.update(func.__dict__)
        setattr(new, "__wrapped__", func)
        return new


def unwrap_method(func) -> tuple[Callable, Callable[[Callable], Any]]:
    """(function, rewrap): staticmethod/classmethod objects are rewritten inside."""
    if isinstance(func, (staticmethod, classmethod)):
        kind = type(func)
        return func.__func__, lambda f: kind(f)
    return func, lambda f: f
