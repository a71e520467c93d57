"""The API model as ``.pyi`` stubs a type checker accepts.

One stub per module. Each function gets its merged signature (every type
observed for each parameter, as a union with counts in a comment) and, when
two or more distinct signatures each carry at least ``top_pct`` % of its
calls, one ``@overload`` per such signature (at most ``max_overloads``),
followed by the merged one. Names are imported (``typing``, ``numpy``,
``numpy.typing``, the modules of recorded classes); a type that a stub cannot
name (a class local to a function, one defined in ``__main__``, runtime-only
types such as ``generator``) is written ``Any`` with its real name in the
comment. A union of more than ``max_union`` types is written ``Any`` too.

Observed overloads may overlap (``bool`` is an ``int``): their ``def`` lines
carry ``# type: ignore[misc]`` so that a checker does not reject the stub for
what the program really did.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from .. import _core
from .api import GENERATOR_KINDS, ApiModel, FunctionApi, GeneratorApi, ParameterApi, SignatureApi, _add_counts

DEFAULT_TOP_PCT = 10.0
DEFAULT_MAX_UNION = 5
DEFAULT_MAX_OVERLOADS = 5

_TYPING_NAMES = {"Any", "AsyncGenerator", "AsyncIterator", "Callable", "Generator", "Iterator", "Literal", "NoReturn",
                 "Optional", "Union", "overload"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def union_text(members: List[str]) -> str:
    return _core.api_union_text(list(members))


@dataclass
class _Imports:
    typing: Set[str] = field(default_factory=set)
    modules: Set[str] = field(default_factory=set)

    def lines(self) -> List[str]:
        out = []
        if self.typing:
            out.append(f"from typing import {', '.join(sorted(self.typing))}")
        out += [f"import {m}" for m in sorted(self.modules)]
        return out


def _module_of(dotted: str) -> str:
    """The module part of a recorded class name: the components before the
    first capitalised one (``pkg.mod.Outer.Inner`` -> ``pkg.mod``); at least
    all but the last."""
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        if part[:1].isupper():
            return ".".join(parts[:i])
    return ".".join(parts[:-1])


class _Namer:
    """Rewrites the model's type expressions into names the stub imports."""

    def __init__(self, module: str, imports: _Imports):
        self.module = module
        self.imports = imports
        self.local_classes: Set[str] = set()   # classes of this module the stub names

    def nameable(self, text: str) -> bool:
        if "<" in text or "'" in text or '"' in text:
            return False
        for name in _NAME.findall(text):
            if not self._known(name):
                return False
        return True

    def _known(self, name: str) -> bool:
        if name in _TYPING_NAMES or name == "None":
            return True
        if "." not in name:
            return hasattr(builtins, name) and isinstance(getattr(builtins, name), type)
        module = _module_of(name)
        if not module or module == "__main__" or any(keyword.iskeyword(p) for p in name.split(".")):
            return False
        # a class of this very module is declared in the stub: top-level ones only
        return module != self.module or "." not in name[len(module) + 1:]

    def use(self, text: str) -> str:
        """`text` with its names imported, or "Any" when it names something a stub cannot."""
        if not self.nameable(text):
            self.imports.typing.add("Any")
            return "Any"
        def name(match) -> str:
            full = match.group(0)
            if full in _TYPING_NAMES:
                self.imports.typing.add(full)
            elif "." in full:
                module = _module_of(full)
                if module != self.module:
                    self.imports.modules.add(module)
                else:  # a class of this very module: named without its module
                    local = full[len(module) + 1:]
                    self.local_classes.add(local)
                    return local
            return full

        return _NAME.sub(name, text)


def _count_text(counts: Dict[str, int], limit: int = 6) -> str:
    items = list(counts.items())
    text = ", ".join(f"{k} {v}" for k, v in items[:limit])
    return text + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def ns_text(ns: Optional[float]) -> str:
    """A duration for people: 1.5 us, 12 ms, '-' when none."""
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


class _Renderer:
    def __init__(self, module: str, top_pct: float, max_union: int, max_overloads: int):
        self.imports = _Imports()
        self.namer = _Namer(module, self.imports)
        self.top_pct = top_pct
        self.max_union = max_union
        self.max_overloads = max_overloads

    def type_of(self, types: List[str], literals: Optional[List[str]] = None) -> str:
        """The annotation for a union of observed types ("" -> Any)."""
        if not types:
            self.imports.typing.add("Any")
            return "Any"
        if len(types) > self.max_union:
            self.imports.typing.add("Any")
            return "Any"
        members = []
        for t in types:
            if t == "str" and literals:
                self.imports.typing.add("Literal")
                members.append("Literal[" + ", ".join(repr(v) for v in literals) + "]")
            else:
                members.append(self.namer.use(t))
        if "Any" in members:
            return "Any"
        text = union_text(members)
        for name in ("Optional", "Union"):
            if text.startswith(name + "["):
                self.imports.typing.add(name)
        return text

    def parameter_type(self, p: ParameterApi) -> str:
        """Every observed type, and the default's (a stub must accept the default)."""
        types = list(p.types)
        if p.has_default and p.default_type and p.default_type not in types:
            types.append(p.default_type)
        return self.type_of(types, _literals_with_default(p))

    def parameter_comment(self, p: ParameterApi) -> str:
        parts = []
        if p.types:
            parts.append(_count_text(p.types))
        if p.literals:
            parts.append("literals " + _count_text({repr(k): v for k, v in p.literals.items()}))
        how = []
        if p.positional:
            how.append(f"positional {p.positional}")
        if p.keyword:
            how.append(f"keyword {p.keyword}")
        if p.defaulted:
            how.append(f"default {p.defaulted}")
        if p.never_passed:
            how.append("never passed")
        if how:
            parts.append(", ".join(how))
        if p.shapes:
            parts.append("shapes " + ", ".join(f"{s.shape} x{s.count}" for s in p.shapes[:4]) +
                         (", ..." if len(p.shapes) > 4 else ""))
        if p.pandas:
            parts.append("pandas " + ", ".join(f"{s.text()} x{s.count}" for s in p.pandas[:3]) +
                         (", ..." if len(p.pandas) > 3 else ""))
        if p.keyword_names:
            parts.append("names " + _count_text(p.keyword_names))
        if p.mismatches:
            parts.append(f"annotated {p.annotation}, called with " + _count_text(p.mismatches))
        return "; ".join(parts)

    def parameter_texts(self, f: FunctionApi, types: Dict[str, str], method: bool,
                        comments: bool) -> List[Tuple[str, str]]:
        """(parameter text, comment) of one signature: `types` are the types of the
        parameters it passed; the others get their merged type."""
        params = []
        saw_star = any(p.kind == "VAR_POSITIONAL" for p in f.parameters)
        positional_only = False
        decorator = _method_decorator(f) if method else ""
        for i, p in enumerate(f.parameters):
            if decorator in ("", "@classmethod") and method and i == 0 and p.kind in (
                    "POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD"):
                params.append((p.name, ""))  # self / cls: the checker knows its type
                continue
            if positional_only and p.kind != "POSITIONAL_ONLY":
                params.append(("/", ""))
                positional_only = False
            if p.kind == "POSITIONAL_ONLY":
                positional_only = True
            if p.kind == "KEYWORD_ONLY" and not saw_star:
                params.append(("*", ""))
                saw_star = True
            variadic = p.kind in ("VAR_POSITIONAL", "VAR_KEYWORD")
            if p.name in types and not variadic:
                observed = [types[p.name]]
                annotation = self.type_of(observed, _literals_with_default(p) if observed == ["str"] else None)
            elif variadic:
                # a signature's type of *args is the union of its items
                annotation = self.type_of(_split_union(types[p.name]) if p.name in types else list(p.types))
            else:
                annotation = self.parameter_type(p)
            star = "*" if p.kind == "VAR_POSITIONAL" else "**" if p.kind == "VAR_KEYWORD" else ""
            # made-up parameters (signature unknown) that some calls did not pass are optional
            optional = p.has_default or (not f.signature_known and p.defaulted > 0)
            default = " = ..." if optional and not star else ""
            params.append((f"{star}{p.name}: {annotation}{default}", self.parameter_comment(p) if comments else ""))
        if positional_only:
            params.append(("/", ""))
        return params

    def def_lines(self, f: FunctionApi, name: str, params: List[Tuple[str, str]], ret: str, indent: str,
                  method: bool, overload: bool) -> List[str]:
        decorator = _method_decorator(f) if method else ""
        ignore = "  # type: ignore[misc]" if overload else ""
        lines = [f"{indent}@overload"] if overload else []
        if decorator:
            lines.append(f"{indent}{decorator}")
        define = "async def" if f.kind == "coroutine" else "def"
        if not params:
            lines.append(f"{indent}{define} {name}() -> {ret}: ...{ignore}")
            return lines
        lines.append(f"{indent}{define} {name}({ignore}")
        for text, comment in params:
            lines.append(f"{indent}    {text}," + (f"  # {comment}" if comment else ""))
        lines.append(f"{indent}) -> {ret}: ...")
        return lines

    def generator_type(self, f: FunctionApi, returns: Dict[str, int]) -> str:
        """What calling a generator function gives: Iterator[Y] (AsyncIterator[Y]),
        or Generator[Y, None, R] when it returned something besides None. Y is Any
        unless every yielded item was recorded (intercept(yields=True))."""
        g = f.generator
        item = self.type_of(list(g.yielded)) if g.item_types_known else self._any()
        if f.kind == "async-generator":  # an async generator returns nothing
            self.imports.typing.add("AsyncIterator")
            return f"AsyncIterator[{item}]"
        if not returns or list(returns) == ["None"]:
            self.imports.typing.add("Iterator")
            return f"Iterator[{item}]"
        self.imports.typing.add("Generator")
        return f"Generator[{item}, None, {self.type_of(list(returns))}]"

    def _any(self) -> str:
        self.imports.typing.add("Any")
        return "Any"

    def return_type(self, f: FunctionApi, returns: Dict[str, int], raised_only: bool = False) -> str:
        if f.kind in GENERATOR_KINDS:  # the generator object; `returns` are its StopIteration values
            return self.generator_type(f, returns)
        if returns:
            return self.type_of(list(returns))
        if raised_only or (f.raised and not f.returned and not f.pending and not f.result_skipped):
            self.imports.typing.add("NoReturn")
            return "NoReturn"
        self.imports.typing.add("Any")
        return "Any"

    def chosen_overloads(self, f: FunctionApi) -> List[SignatureApi]:
        if not f.calls:
            return []
        kept = [s for s in f.signatures if 100.0 * s.calls / f.calls >= self.top_pct][:self.max_overloads]
        return kept if len(kept) >= 2 else []

    def function_lines(self, f: FunctionApi, name: str, indent: str, method: bool) -> List[str]:
        head = f"{indent}# {_calls(f.calls)}"
        outcome = [f"returned {f.returned}"] if f.returned else []
        if f.raised:
            outcome.append(f"raised {f.raised}")
        if f.pending:
            outcome.append(f"did not return {f.pending}")
        if f.result_skipped:
            outcome.append(f"result not recorded {f.result_skipped}")
        if outcome:
            head += " (" + ", ".join(outcome) + ")"
        lines = [head]
        if f.exceptions:
            lines.append(f"{indent}# exceptions: {_count_text(f.exceptions)}")
        if f.callers:
            lines.append(f"{indent}# callers: {_count_text(f.callers)}")
        if f.labels:
            lines.append(f"{indent}# labels: {_count_text(f.labels)}")
        if f.returns:
            lines.append(f"{indent}# returns: {_count_text(f.returns)}")
        if not f.generator.empty:
            lines.append(f"{indent}# {generator_text(f.generator)}")
        if f.timing.count:
            lines.append(f"{indent}# time: mean {ns_text(f.timing.mean_ns)}, p50 {ns_text(f.timing.p50_ns)}, "
                         f"p95 {ns_text(f.timing.p95_ns)}")
        # Signatures whose parameters render the same (e.g. differing only in a
        # parameter left to its default) are one overload: their returns united.
        groups: Dict[tuple, List[SignatureApi]] = {}
        for s in self.chosen_overloads(f):
            groups.setdefault(tuple(self.parameter_texts(f, s.types, method, False)), []).append(s)
        overloads = len(groups) >= 2
        for params, sigs in groups.items() if overloads else ():
            calls = sum(s.calls for s in sigs)
            returns: Dict[str, int] = {}
            for s in sigs:
                returns.update(s.returns)
            raised_only = not returns and any(s.exceptions for s in sigs)
            ret = self.return_type(f, returns, raised_only)
            timing = sigs[0].timing
            for s in sigs[1:]:
                timing = timing.merged(s.timing)
            lines.append(f"{indent}# {_calls(calls)} ({100.0 * calls / f.calls:.1f}%), "
                         f"mean {ns_text(timing.mean_ns)}, p95 {ns_text(timing.p95_ns)}")
            usage: Dict[str, int] = {}
            for s in sigs:
                usage = _add_counts(usage, s.labels)
            if usage:  # which tests (labels) made the calls of this overload
                lines.append(f"{indent}# usage: {_count_text(usage)}")
            lines += self.def_lines(f, name, list(params), ret, indent, method, True)
        if overloads:
            lines.append(f"{indent}# merged: every call")
        merged = self.parameter_texts(f, {}, method, True)
        lines += self.def_lines(f, name, merged, self.return_type(f, f.returns), indent, method, overloads)
        return lines


def generator_text(g: GeneratorApi) -> str:
    """One line on what a generator's calls yielded (stub comment, `callmonitor api` table)."""
    y = g.yields
    parts = []
    if y.calls:
        mean = y.mean or 0.0
        parts.append(f"yielded {y.total} items in {_calls(y.calls)} (min {y.min}, mean {mean:.3g}, max {y.max})")
    if g.yielded:
        parts.append("items " + _count_text(g.yielded))
    if g.yielded_unrecorded:
        parts.append(f"{g.yielded_unrecorded} items not recorded (intercept(yields=True) records them)")
    if g.closed:
        parts.append(f"closed early {g.closed}")
    if g.dropped:
        parts.append(f"ended without an outcome {g.dropped}")
    return "; ".join(parts)


def _method_decorator(f: FunctionApi) -> str:
    """How a recorded method is bound, judged from its first parameter's name
    (the record does not say): self -> plain, cls -> @classmethod, else @staticmethod."""
    first = f.parameters[0].name if f.parameters else ""
    if first == "self" or (first and not f.signature_known):
        return ""
    return "@classmethod" if first == "cls" else "@staticmethod"


def _literals_with_default(p: ParameterApi) -> Optional[List[str]]:
    """The literal strings of `p` for Literal[...], its str default included."""
    if not p.literals:
        return None
    values = list(p.literals)
    if p.has_default and p.default_type == "str":
        try:
            default = ast.literal_eval(p.default_repr)
        except (ValueError, SyntaxError):
            return None  # a default we cannot spell: plain str
        if default not in values:
            values.append(default)
    return values


def _calls(n: int) -> str:
    return f"{n} call" if n == 1 else f"{n} calls"


def _split_union(text: str) -> List[str]:
    """Members of a union type expression made by the model (top level only)."""
    for head in ("Union[", "Optional["):
        if text.startswith(head) and text.endswith("]"):
            inner, depth, parts, cur = text[len(head):-1], 0, [], ""
            for ch in inner:
                if ch == "," and depth == 0:
                    parts.append(cur.strip())
                    cur = ""
                    continue
                depth += ch == "["
                depth -= ch == "]"
                cur += ch
            parts.append(cur.strip())
            return parts + (["None"] if head == "Optional[" else [])
    return [text]


def render_module(module: str, functions: List[FunctionApi], *, top_pct: float = DEFAULT_TOP_PCT,
                  max_union: int = DEFAULT_MAX_UNION, max_overloads: int = DEFAULT_MAX_OVERLOADS) -> str:
    """The text of one module's stub."""
    r = _Renderer(module, top_pct, max_union, max_overloads)
    body: List[str] = []
    classes: Dict[str, List[FunctionApi]] = {}
    for f in sorted(functions, key=lambda f: f.qualname):
        if "<" in f.qualname:
            body += [f"# {f.qualname}: {_calls(f.calls)} (local to a function: not nameable in a stub)", ""]
            continue
        parts = f.qualname.split(".")
        if len(parts) == 1:
            body += r.function_lines(f, f.qualname, "", False) + [""]
        else:
            classes.setdefault(".".join(parts[:-1]), []).append(f)
    for cls, methods in sorted(classes.items()):
        names = cls.split(".")
        for depth, n in enumerate(names):
            body.append("    " * depth + f"class {n}:")
        indent = "    " * len(names)
        recorded = {f.qualname.rsplit(".", 1)[1] for f in methods}
        if not recorded & {"__init__", "__new__"}:
            # Without it the class would inherit object's __init__ (no arguments),
            # which stubtest rightly rejects; an Any attribute claims nothing.
            r.imports.typing.add("Any")
            body.append(f"{indent}__init__: Any  # not recorded: its arguments are unknown")
        for f in methods:
            body += r.function_lines(f, f.qualname.rsplit(".", 1)[1], indent, True)
        body.append("")
    declared = {cls.split(".")[0] for cls in classes}
    for name in sorted(r.namer.local_classes - declared):
        # An alias, not an empty class: a class without its real __init__ would misdescribe it.
        r.imports.typing.add("Any")
        body += [f"{name} = Any  # a class of this module seen in calls; its members were not recorded", ""]
    if any("@overload" in line for line in body):
        r.imports.typing.add("overload")
    total = sum(f.calls for f in functions)
    head = [f"# Stub of {module or '(no module)'}: the API it was called with "
            f"({len(functions)} functions, {total} calls), derived by callmonitor api.", ""]
    imports = r.imports.lines()
    return "\n".join(head + imports + ([""] if imports else []) + body).rstrip() + "\n"


def stub_path(directory: str, module: str, packages=frozenset()) -> str:
    """Where the stub of `module` goes; a module in `packages` (the parent of
    another stubbed module) is a package: its stub is its __init__.pyi."""
    parts = module.split(".") if module else ["__unknown__"]
    if module in packages:
        return os.path.join(directory, *parts, "__init__.pyi")
    return os.path.join(directory, *parts) + ".pyi"


def write_stubs(model: ApiModel, directory: str, **options) -> List[str]:
    """One ``.pyi`` per module of `model` under `directory` (packages get an
    ``__init__.pyi`` when they have none). Returns the paths written."""
    by_module: Dict[str, List[FunctionApi]] = {}
    for f in model:
        by_module.setdefault(f.module, []).append(f)
    packages = {".".join(m.split(".")[:i]) for m in by_module for i in range(1, m.count(".") + 1)}
    written = []
    for module, functions in sorted(by_module.items()):
        path = stub_path(directory, module, packages)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            out.write(render_module(module, functions, **options))
        written.append(path)
    for module in by_module:  # parent packages of dotted modules
        parts = module.split(".")
        for i in range(1, len(parts)):
            init = os.path.join(directory, *parts[:i], "__init__.pyi")
            if not os.path.exists(init) and ".".join(parts[:i]) not in by_module:
                with open(init, "w", encoding="utf-8") as out:
                    out.write("# package of stubs written by callmonitor api\n")
                written.append(init)
    return written
