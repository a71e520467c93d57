"""The API a function is really used with, as Python objects.

The counting happens in C++ (``_core.derive_api``: one pass over the call
records, no Python object per call); this module turns its result into
dataclasses, combines the models of several writers, databases and JSON
files, and judges recorded annotations against what was observed.
:mod:`.api_json` writes and reads the model, :mod:`.stubs` renders it as
``.pyi`` files, :mod:`.api_diff` compares two models.
"""
from __future__ import annotations

import ast
import dataclasses
import fnmatch
import math
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple, TypeVar

from .. import _core

# Parameter kinds as inspect names them; index = the kind stored in the record (records.h).
PARAMETER_KINDS = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "VAR_POSITIONAL", "KEYWORD_ONLY", "VAR_KEYWORD")
VARIADIC_KINDS = ("VAR_POSITIONAL", "VAR_KEYWORD")
GENERATOR_KINDS = ("generator", "async-generator")   # FunctionInfo kinds (capture/describe.py)


K = TypeVar("K", str, int)


def _descending(counts: Dict[K, int]) -> Dict[K, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _add_counts(into: Dict[K, int], other: Dict[K, int]) -> Dict[K, int]:
    out = dict(into)
    for k, v in other.items():
        out[k] = out.get(k, 0) + v
    return _descending(out)


def _named(items) -> Dict[str, int]:
    return {i.name: i.count for i in items}


def _typed(items) -> Dict[str, int]:
    return {i.type: i.count for i in items}


@dataclass
class Timing:
    """Durations of a set of calls. ``histogram`` maps a log-linear bucket
    (see docs/api-json.md) to a call count; percentiles come from it and are
    exact to 1/16 of their value."""
    count: int = 0
    total_ns: int = 0
    min_ns: int = 0
    max_ns: int = 0
    histogram: Dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_core(cls, t) -> "Timing":
        return cls(t.count, t.total_ns, t.min_ns, t.max_ns, dict(t.histogram))

    @property
    def mean_ns(self) -> Optional[float]:
        return self.total_ns / self.count if self.count else None

    def percentile_ns(self, q: float) -> Optional[float]:
        """The q-quantile (0 < q <= 1), nearest rank, as the middle of its bucket."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for bucket in sorted(self.histogram):
            seen += self.histogram[bucket]
            if seen >= rank:
                low = _core.ApiTiming.bucket_low(bucket)
                high = _core.ApiTiming.bucket_low(bucket + 1)
                mid = low if high - low <= 1 else (low + high - 1) / 2
                return float(min(max(mid, self.min_ns), self.max_ns))
        return float(self.max_ns)

    @property
    def p50_ns(self) -> Optional[float]:
        return self.percentile_ns(0.5)

    @property
    def p95_ns(self) -> Optional[float]:
        return self.percentile_ns(0.95)

    def merged(self, other: "Timing") -> "Timing":
        if not self.count:
            return dataclasses.replace(other, histogram=dict(other.histogram))
        if not other.count:
            return dataclasses.replace(self, histogram=dict(self.histogram))
        return Timing(self.count + other.count, self.total_ns + other.total_ns,
                      min(self.min_ns, other.min_ns), max(self.max_ns, other.max_ns),
                      dict(sorted(_add_counts(self.histogram, other.histogram).items())))


@dataclass
class YieldCounts:
    """Items yielded per generator call: ``calls`` generator calls with a yield
    count, ``total`` items in all, ``min``/``max`` per call; ``histogram`` maps a
    bucket of items per call (log-linear as Timing's: exact below 16) to calls."""
    calls: int = 0
    total: int = 0
    min: int = 0
    max: int = 0
    histogram: Dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_core(cls, t) -> "YieldCounts":  # an ApiTiming over item counts (api_model.h: ItemCounts)
        return cls(t.count, t.total_ns, t.min_ns, t.max_ns, dict(t.histogram))

    @property
    def mean(self) -> Optional[float]:
        return self.total / self.calls if self.calls else None

    def _as_timing(self) -> Timing:
        return Timing(self.calls, self.total, self.min, self.max, self.histogram)

    @property
    def p50(self) -> Optional[float]:
        return self._as_timing().p50_ns

    @property
    def p95(self) -> Optional[float]:
        return self._as_timing().p95_ns

    def merged(self, other: "YieldCounts") -> "YieldCounts":
        t = self._as_timing().merged(other._as_timing())
        return YieldCounts(t.count, t.total_ns, t.min_ns, t.max_ns, t.histogram)


@dataclass
class GeneratorApi:
    """What the calls of a generator (or async generator) function yielded."""
    yields: YieldCounts = field(default_factory=YieldCounts)
    yielded: Dict[str, int] = field(default_factory=dict)  # type of each recorded item, descending
    yielded_recorded: int = 0     # items whose value was recorded (intercept(yields=True))
    yielded_unrecorded: int = 0   # items counted but not recorded: their type is unknown
    closed: int = 0               # calls closed (or collected) before their end
    dropped: int = 0              # calls whose capture ended without an outcome

    @classmethod
    def from_core(cls, g) -> "GeneratorApi":
        return cls(YieldCounts.from_core(g.yields), _typed(g.yielded), g.yielded_recorded, g.yielded_unrecorded,
                   g.closed, g.dropped)

    @property
    def empty(self) -> bool:
        return not (self.yields.calls or self.yielded_recorded or self.closed or self.dropped)

    @property
    def item_types_known(self) -> bool:
        """Every yielded item was recorded (and there was one): `yielded` is the item type."""
        return bool(self.yielded) and self.yielded_unrecorded == 0

    def merged(self, other: "GeneratorApi") -> "GeneratorApi":
        return GeneratorApi(self.yields.merged(other.yields), _add_counts(self.yielded, other.yielded),
                            self.yielded_recorded + other.yielded_recorded,
                            self.yielded_unrecorded + other.yielded_unrecorded,
                            self.closed + other.closed, self.dropped + other.dropped)


@dataclass
class ArrayShape:
    """Arrays of one type and shape passed to a parameter (or returned)."""
    type: str
    shape: Tuple[int, ...]
    count: int


def _merge_shapes(a: List[ArrayShape], b: List[ArrayShape]) -> List[ArrayShape]:
    by: Dict[Tuple[str, Tuple[int, ...]], int] = {}
    for s in a + b:
        key = (s.type, s.shape)
        by[key] = by.get(key, 0) + s.count
    return sorted((ArrayShape(t, sh, n) for (t, sh), n in by.items()), key=lambda s: (-s.count, s.type, s.shape))


@dataclass
class PandasSchema:
    """pandas values of one schema passed to a parameter (or returned): a
    DataFrame's columns (name, dtype; at most 64, `column_count` in all), a
    Series' or Index's dtype; lengths (rows, items) seen, 0 when not known."""
    type: str
    columns: Tuple[Tuple[str, str], ...] = ()
    column_count: int = 0
    dtype: str = ""
    min_length: int = 0
    max_length: int = 0
    count: int = 0

    @classmethod
    def from_core(cls, p) -> "PandasSchema":
        return cls(p.type, tuple((n, d) for n, d in p.columns), p.column_count, p.dtype, p.min_length,
                   p.max_length, p.count)

    @property
    def key(self) -> tuple:
        return (self.type, self.columns, self.column_count, self.dtype)

    def text(self) -> str:
        """`pandas.DataFrame[a: float64, b: int64] (2 rows)` style, for comments and tables."""
        if self.columns or self.column_count:
            inner = ", ".join(f"{n}: {d}" for n, d in self.columns)
            if self.column_count > len(self.columns):
                inner += f", ... ({self.column_count} columns)"
            what = f"{self.type}[{inner}]"
        else:
            what = f"{self.type}[{self.dtype}]" if self.dtype else self.type
        if self.max_length:
            span = str(self.min_length) if self.min_length == self.max_length else f"{self.min_length}-{self.max_length}"
            what += f" ({span} {'rows' if self.type == 'pandas.DataFrame' else 'items'})"
        return what


def _merge_pandas(a: List[PandasSchema], b: List[PandasSchema]) -> List[PandasSchema]:
    by: Dict[tuple, PandasSchema] = {}
    for s in a + b:
        if s.key not in by:
            by[s.key] = dataclasses.replace(s)
            continue
        m = by[s.key]
        known = [x for x in (m, s) if x.max_length]
        by[s.key] = dataclasses.replace(m, count=m.count + s.count,
                                        min_length=min((x.min_length for x in known), default=0),
                                        max_length=max((x.max_length for x in known), default=0))
    return sorted(by.values(), key=lambda s: -s.count)


@dataclass
class ParameterApi:
    """How one parameter was used."""
    name: str
    kind: str                     # inspect.Parameter kind name
    has_default: bool = False
    default_repr: str = ""
    default_type: str = ""        # type of the default value ("" when none)
    annotation: str = ""
    positional: int = 0           # calls passing it by position (var-positional: calls with extras)
    keyword: int = 0              # calls passing it by keyword (var-keyword: calls with extras)
    defaulted: int = 0            # calls leaving it to its default
    missing: int = 0              # calls not passing it although it has no default
    values: int = 0               # values typed (variadic: one per extra item)
    types: Dict[str, int] = field(default_factory=dict)   # type expression -> values, descending
    literals: Optional[Dict[str, int]] = None  # every str value, when they are few and short
    shapes: List[ArrayShape] = field(default_factory=list)
    other_shapes: int = 0         # arrays beyond the distinct shapes kept
    pandas: List[PandasSchema] = field(default_factory=list)   # pandas values by schema
    other_pandas: int = 0         # pandas values beyond the distinct schemas kept
    keyword_names: Dict[str, int] = field(default_factory=dict)  # var-keyword: names passed through it
    sampled_values: int = 0       # values with a container typed from its first items only

    @classmethod
    def from_core(cls, p) -> "ParameterApi":
        return cls(p.name, PARAMETER_KINDS[p.kind] if p.kind < len(PARAMETER_KINDS) else "POSITIONAL_OR_KEYWORD",
                   has_default=p.has_default, default_repr=p.default_repr, default_type=p.default_type,
                   annotation=p.annotation, positional=p.positional, keyword=p.keyword, defaulted=p.defaulted,
                   missing=p.missing, values=p.values, types=_typed(p.types),
                   literals=_named(p.literals) if p.literals_complete and p.literals else None,
                   shapes=[ArrayShape(s.type, tuple(s.shape), s.count) for s in p.shapes],
                   other_shapes=p.other_shapes, pandas=[PandasSchema.from_core(x) for x in p.pandas],
                   other_pandas=p.other_pandas, keyword_names=_named(p.keyword_names),
                   sampled_values=p.sampled_values)

    @property
    def variadic(self) -> bool:
        return self.kind in VARIADIC_KINDS

    @property
    def passed(self) -> int:
        """Calls that passed it (either way)."""
        return self.positional + self.keyword

    @property
    def required(self) -> bool:
        """Passed in every call (never true of *args / **kwargs)."""
        return not self.variadic and self.defaulted == 0 and self.missing == 0 and self.passed > 0

    @property
    def never_passed(self) -> bool:
        """Never given: a candidate for removal (or, variadic, for dropping the catch-all)."""
        return self.passed == 0

    @property
    def ndims(self) -> Dict[int, int]:
        out: Dict[int, int] = {}
        for s in self.shapes:
            out[len(s.shape)] = out.get(len(s.shape), 0) + s.count
        return dict(sorted(out.items()))

    @property
    def mismatches(self) -> Dict[str, int]:
        """Observed types outside the annotation (empty: none, or not judged)."""
        return annotation_mismatches(self.annotation, self.types)

    def merged(self, other: "ParameterApi") -> "ParameterApi":
        lits = None
        if self.literals is not None and other.literals is not None:
            lits = _add_counts(self.literals, other.literals)
            if len(lits) > DEFAULT_OPTIONS.max_literals:
                lits = None
        elif self.literals is None and "str" not in self.types:
            lits = other.literals
        elif other.literals is None and "str" not in other.types:
            lits = self.literals
        return ParameterApi(
            self.name, self.kind, has_default=self.has_default or other.has_default,
            default_repr=self.default_repr or other.default_repr,
            default_type=self.default_type or other.default_type, annotation=self.annotation or other.annotation,
            positional=self.positional + other.positional, keyword=self.keyword + other.keyword,
            defaulted=self.defaulted + other.defaulted, missing=self.missing + other.missing,
            values=self.values + other.values, types=_add_counts(self.types, other.types), literals=lits,
            shapes=_merge_shapes(self.shapes, other.shapes), other_shapes=self.other_shapes + other.other_shapes,
            pandas=_merge_pandas(self.pandas, other.pandas), other_pandas=self.other_pandas + other.other_pandas,
            keyword_names=_add_counts(self.keyword_names, other.keyword_names),
            sampled_values=self.sampled_values + other.sampled_values)


@dataclass
class SignatureApi:
    """Calls with the same argument types: {parameter name: type} of the parameters they passed."""
    types: Dict[str, str]
    calls: int = 0
    returns: Dict[str, int] = field(default_factory=dict)
    exceptions: Dict[str, int] = field(default_factory=dict)
    timing: Timing = field(default_factory=Timing)
    labels: Dict[str, int] = field(default_factory=dict)   # label -> calls (which tests used it)

    @property
    def key(self) -> Tuple[Tuple[str, str], ...]:
        return tuple(sorted(self.types.items()))

    def merged(self, other: "SignatureApi") -> "SignatureApi":
        return SignatureApi(dict(self.types), self.calls + other.calls, _add_counts(self.returns, other.returns),
                            _add_counts(self.exceptions, other.exceptions), self.timing.merged(other.timing),
                            _add_counts(self.labels, other.labels))

    def with_label(self, label: str) -> "SignatureApi":
        unlabelled = self.calls - sum(self.labels.values())
        return dataclasses.replace(self, labels=_add_counts(self.labels, {label: unlabelled})) if unlabelled else self


@dataclass
class FunctionApi:
    """What one function was called with, returned and raised, how often, by whom."""
    module: str
    qualname: str
    name: str = ""
    file: str = ""
    line: int = 0
    kind: str = "function"
    return_annotation: str = ""
    signature_known: bool = True
    calls: int = 0
    returned: int = 0
    raised: int = 0
    pending: int = 0              # had not returned when recorded (crash, still running)
    result_skipped: int = 0       # returned, result not recorded (closed generators: in `generator`)
    undecodable: int = 0          # records whose inputs could not be parsed
    unbound: int = 0              # calls whose arguments did not fit the recorded signature
    parameters: List[ParameterApi] = field(default_factory=list)
    returns: Dict[str, int] = field(default_factory=dict)
    return_shapes: List[ArrayShape] = field(default_factory=list)
    exceptions: Dict[str, int] = field(default_factory=dict)
    signatures: List[SignatureApi] = field(default_factory=list)   # descending calls
    other_signature_calls: int = 0   # calls beyond the distinct signatures kept
    timing: Timing = field(default_factory=Timing)
    callers: Dict[str, int] = field(default_factory=dict)  # caller module -> calls
    sites: Dict[str, int] = field(default_factory=dict)    # "file:line" -> calls
    labels: Dict[str, int] = field(default_factory=dict)   # label -> calls
    sample_items: int = 0         # container elements typed per container
    generator: GeneratorApi = field(default_factory=GeneratorApi)   # generators: what they yielded
    return_pandas: List[PandasSchema] = field(default_factory=list)   # returned pandas values by schema
    other_return_pandas: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname

    @classmethod
    def from_core(cls, f) -> "FunctionApi":
        params = [ParameterApi.from_core(p) for p in f.parameters]
        names = [p.name for p in params]
        sigs = [SignatureApi({n: t for n, t in zip(names, s.types) if t}, s.calls, _typed(s.returns),
                             _named(s.exceptions), Timing.from_core(s.timing), _named(s.labels))
                for s in f.signatures]
        return cls(f.module, f.qualname, f.name, f.file, f.line, f.kind, f.return_annotation, f.signature_known,
                   f.calls, f.returned, f.raised, f.pending, f.result_skipped, f.undecodable, f.unbound, params,
                   _typed(f.returns), [ArrayShape(s.type, tuple(s.shape), s.count) for s in f.return_shapes],
                   _named(f.exceptions), sigs, f.other_signature_calls, Timing.from_core(f.timing),
                   _named(f.callers), _named(f.sites), _named(f.labels), f.sample_items,
                   GeneratorApi.from_core(f.generator), [PandasSchema.from_core(x) for x in f.return_pandas],
                   f.other_return_pandas)

    def parameter(self, name: str) -> ParameterApi:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"{self.full_name} has no parameter {name!r}; it has "
                       f"{', '.join(p.name for p in self.parameters) or 'none'}")

    def merged(self, other: "FunctionApi") -> "FunctionApi":
        """The two combined (same function, e.g. from two writers or databases)."""
        params = {p.name: p for p in self.parameters}
        for p in other.parameters:
            params[p.name] = params[p.name].merged(p) if p.name in params else p
        mine, theirs = {p.name for p in self.parameters}, {p.name for p in other.parameters}
        for name, p in list(params.items()):  # made-up parameters one side never saw: not passed there
            if (name in mine) != (name in theirs) and not p.variadic:
                params[name] = dataclasses.replace(
                    p, defaulted=p.defaulted + (other.calls if name in mine else self.calls))
        ordered = sorted(params.values(), key=lambda p: PARAMETER_KINDS.index(p.kind))
        sigs: Dict[tuple, SignatureApi] = {}
        for s in self.signatures + other.signatures:
            sigs[s.key] = sigs[s.key].merged(s) if s.key in sigs else s
        out = dataclasses.replace(
            self, file=self.file or other.file, line=self.line or other.line,
            calls=self.calls + other.calls, returned=self.returned + other.returned,
            raised=self.raised + other.raised, pending=self.pending + other.pending,
            result_skipped=self.result_skipped + other.result_skipped,
            undecodable=self.undecodable + other.undecodable, unbound=self.unbound + other.unbound,
            parameters=ordered, returns=_add_counts(self.returns, other.returns),
            return_shapes=_merge_shapes(self.return_shapes, other.return_shapes),
            exceptions=_add_counts(self.exceptions, other.exceptions),
            signatures=sorted(sigs.values(), key=lambda s: -s.calls),
            other_signature_calls=self.other_signature_calls + other.other_signature_calls,
            timing=self.timing.merged(other.timing), callers=_add_counts(self.callers, other.callers),
            sites=_add_counts(self.sites, other.sites), labels=_add_counts(self.labels, other.labels),
            sample_items=max(self.sample_items, other.sample_items),
            generator=self.generator.merged(other.generator),
            return_pandas=_merge_pandas(self.return_pandas, other.return_pandas),
            other_return_pandas=self.other_return_pandas + other.other_return_pandas)
        return out

    def with_label(self, label: str) -> "FunctionApi":
        """The calls that carry no label of their own counted under `label`."""
        unlabelled = self.calls - sum(self.labels.values())
        if not unlabelled:
            return self
        return dataclasses.replace(self, labels=_add_counts(self.labels, {label: unlabelled}),
                                   signatures=[s.with_label(label) for s in self.signatures])


@dataclass
class ApiModel:
    """The API of every recorded function of one or more databases / JSON files."""
    functions: Dict[str, FunctionApi] = field(default_factory=dict)   # by full name
    sources: List[str] = field(default_factory=list)                  # what it was derived from

    def __getitem__(self, name: str) -> FunctionApi:
        if name in self.functions:
            return self.functions[name]
        matches = [f for f in self.functions.values() if name in (f.qualname, f.name)]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(self.functions) or "none"
        raise KeyError(f"no function {name!r} in the API model" + (
            f" (ambiguous: {', '.join(f.full_name for f in matches)})" if matches else f"; functions: {known}"))

    def __iter__(self):
        return iter(self.functions.values())

    def __len__(self):
        return len(self.functions)

    def add(self, f: FunctionApi) -> None:
        name = f.full_name
        self.functions[name] = self.functions[name].merged(f) if name in self.functions else f

    def merged(self, other: "ApiModel") -> "ApiModel":
        out = ApiModel(dict(self.functions), self.sources + other.sources)
        for f in other:
            out.add(f)
        return out

    def with_label(self, label: str) -> "ApiModel":
        return ApiModel({k: f.with_label(label) for k, f in self.functions.items()}, list(self.sources))

    def select(self, patterns: Iterable[str]) -> "ApiModel":
        """The functions whose full name, qualname or name matches a glob pattern."""
        patterns = list(patterns)
        return ApiModel({k: f for k, f in self.functions.items() if matches_any(f, patterns)}, list(self.sources))


def matches_any(f, patterns) -> bool:
    """True when `f` (anything with module/qualname/name) matches one of the glob patterns (or none given)."""
    if not patterns:
        return True
    full = f"{f.module}.{f.qualname}" if f.module else f.qualname
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in (full, f.qualname, f.name))


DEFAULT_OPTIONS = _core.ApiOptions()   # the C++ defaults: one place (api_model.h)


def derive(db, functions: Iterable[str] = (), label: Optional[str] = None,
           sample_items: int = DEFAULT_OPTIONS.sample_items, max_depth: int = DEFAULT_OPTIONS.max_depth) -> ApiModel:
    """The API model of an open :class:`callmonitor.read.database.Database`.

    functions: glob patterns of full names, qualnames or names (none: all), or
        names with a definition site (``"mod.f@30"``, as :meth:`Database.get` takes them).
    label: counts the calls that carry no label of their own under this label.
    sample_items / max_depth: how much of each container is typed.
    """
    patterns = list(functions)
    # A name with its definition site (NAME@LINE, NAME@FILE:LINE: one of two
    # definitions of a name) is resolved as db.get resolves it; the rest are globs.
    globs = [p for p in patterns if "@" not in p]
    chosen = {(f.writer, f.id) for p in patterns if "@" in p for f in db.find(p)}
    model = ApiModel(sources=[db.path])
    by_dir: Dict[str, list] = {}
    for w in db._writers:
        ids = [f.id for f in w.functions
               if not patterns or (globs and matches_any(f, globs)) or (f.writer, f.id) in chosen]
        if ids:
            by_dir.setdefault(w.directory, []).extend(ids)
    options = _core.ApiOptions()
    options.sample_items = sample_items
    options.max_depth = max_depth
    for directory, ids in by_dir.items():
        for raw in _core.derive_api(directory, sorted(set(ids)), options):
            model.add(FunctionApi.from_core(raw))
    return model.with_label(label) if label else model


# -- annotations -------------------------------------------------------------------

_CONCRETE = {"int", "float", "complex", "bool", "str", "bytes", "bytearray", "list", "tuple", "dict", "set",
             "frozenset", "None", "NDArray"}
_ALIASES = {"List": "list", "Dict": "dict", "Tuple": "tuple", "Set": "set", "FrozenSet": "frozenset",
            "Text": "str", "ndarray": "NDArray", "NoneType": "None"}
# numpy scalar types that subclass no Python type (float64 and complex128 do: below).
_NUMPY_SCALARS = {"bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float16", "float32", "longdouble", "complex64", "clongdouble", "datetime64", "timedelta64",
                  "str_", "bytes_", "void"}
# types that subclass (or are promoted to) a Python type.
_SUBCLASS_OF = {"bool": {"int", "float", "complex"}, "int": {"float", "complex"}, "float": {"complex"},
                "float64": {"float", "complex"}, "complex128": {"complex"}}


def _base(type_text: str) -> str:
    """`list` of `list[int]`, `NDArray` of `numpy.typing.NDArray[...]`, `Foo` of `mod.Foo`."""
    head = type_text.split("[", 1)[0]
    name = head.rsplit(".", 1)[-1]
    return _ALIASES.get(name, name)


def _accepted(annotation: str) -> Optional[set]:
    """Base names an annotation accepts, or None when it accepts anything or
    names something this check cannot judge (a class, an ABC, a TypeVar)."""
    try:
        tree = ast.parse(annotation, mode="eval").body
    except SyntaxError:
        return None
    out: set = set()

    def visit(node) -> bool:
        if isinstance(node, ast.Constant):
            if node.value is None:
                out.add("None")
                return True
            if isinstance(node.value, str):
                inner = _accepted(node.value)
                if inner is None:
                    return False
                out.update(inner)
                return True
            return False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return visit(node.left) and visit(node.right)
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = _ALIASES.get(node.id if isinstance(node, ast.Name) else node.attr,
                                node.id if isinstance(node, ast.Name) else node.attr)
            if name not in _CONCRETE:
                return False
            out.add(name)
            return True
        if isinstance(node, ast.Subscript):
            head = node.value.id if isinstance(node.value, ast.Name) else (
                node.value.attr if isinstance(node.value, ast.Attribute) else "")
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if head == "Optional":
                out.add("None")
                return all(visit(a) for a in args)
            if head == "Union":
                return all(visit(a) for a in args)
            if head == "Literal":
                for a in args:
                    if not isinstance(a, ast.Constant):
                        return False
                    out.add("None" if a.value is None else type(a.value).__name__)
                return True
            return visit(node.value)
        return False

    return out if visit(tree) else None


def annotation_mismatches(annotation: str, types: Dict[str, int]) -> Dict[str, int]:
    """{observed type: values} of the types the annotation does not accept.
    Judged only for annotations made of builtin types, unions, Optional,
    Literal and NDArray (numeric promotion and numpy scalar subclasses
    allowed); anything else is not judged (empty result)."""
    if not annotation:
        return {}
    accepted = _accepted(annotation)
    if not accepted:
        return {}
    out = {}
    for t, n in types.items():
        base = _base(t)
        if base in accepted or _SUBCLASS_OF.get(base, set()) & accepted:
            continue
        if base not in _CONCRETE and base not in _SUBCLASS_OF and base not in _NUMPY_SCALARS:
            continue  # a class: may subclass an accepted type
        out[t] = n
    return out
