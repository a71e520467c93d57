"""The API model as JSON (schema: docs/api-json.md) and back.

Fields marked *derived* in the schema (``required``, ``mismatches``,
``mean_ns``, ``p50_ns``, ...) are written for readers of the file and
recomputed, not read, when a file is loaded: a loaded file combines with
databases and other files exactly like a freshly derived model.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict

from .api import (GENERATOR_KINDS, ApiModel, ArrayShape, FunctionApi, GeneratorApi, PandasSchema, ParameterApi,
                  SignatureApi, Timing, YieldCounts)

FORMAT = "callmonitor-api"
VERSION = 1


class ApiFormatError(ValueError):
    """A file that is not (or not a readable version of) callmonitor's API JSON."""


def _timing(t: Timing) -> Dict[str, Any]:
    return {"count": t.count, "total_ns": t.total_ns, "min_ns": t.min_ns, "max_ns": t.max_ns,
            "mean_ns": t.mean_ns, "p50_ns": t.p50_ns, "p95_ns": t.p95_ns,
            "histogram": [[b, n] for b, n in sorted(t.histogram.items())]}


def _shapes(shapes):
    return [{"type": s.type, "shape": list(s.shape), "count": s.count} for s in shapes]


def _pandas(items):
    return [{"type": s.type, "columns": [list(c) for c in s.columns], "column_count": s.column_count,
             "dtype": s.dtype, "min_length": s.min_length, "max_length": s.max_length, "count": s.count}
            for s in items]


def _pandas_from(items):  # absent in files written before pandas schemas were derived
    return [PandasSchema(s["type"], tuple((n, d) for n, d in s["columns"]), s["column_count"], s["dtype"],
                         s["min_length"], s["max_length"], s["count"]) for s in items or []]


def _parameter(p: ParameterApi) -> Dict[str, Any]:
    return {"name": p.name, "kind": p.kind, "has_default": p.has_default, "default_repr": p.default_repr,
            "default_type": p.default_type, "annotation": p.annotation, "positional": p.positional, "keyword": p.keyword,
            "defaulted": p.defaulted, "missing": p.missing, "values": p.values,
            "required": p.required, "never_passed": p.never_passed,
            "types": p.types, "literals": p.literals, "shapes": _shapes(p.shapes),
            "ndims": {str(k): v for k, v in p.ndims.items()}, "other_shapes": p.other_shapes,
            "pandas": _pandas(p.pandas), "other_pandas": p.other_pandas,
            "keyword_names": p.keyword_names, "sampled_values": p.sampled_values,
            "mismatches": p.mismatches}


def _generator(g: GeneratorApi) -> Dict[str, Any]:
    y = g.yields
    return {"yields": {"calls": y.calls, "total": y.total, "min": y.min, "max": y.max, "mean": y.mean,
                       "p50": y.p50, "p95": y.p95, "histogram": [[b, n] for b, n in sorted(y.histogram.items())]},
            "yielded": g.yielded, "yielded_recorded": g.yielded_recorded,
            "yielded_unrecorded": g.yielded_unrecorded, "item_types_known": g.item_types_known,
            "closed": g.closed, "dropped": g.dropped}


def _generator_from(d) -> GeneratorApi:
    if d is None:  # not a generator, or a file written before generators were derived
        return GeneratorApi()
    y = d["yields"]
    return GeneratorApi(YieldCounts(y["calls"], y["total"], y["min"], y["max"], {int(b): n for b, n in y["histogram"]}),
                        dict(d["yielded"]), d["yielded_recorded"], d["yielded_unrecorded"], d["closed"], d["dropped"])


def function_to_json(f: FunctionApi) -> Dict[str, Any]:
    out = {
        "full_name": f.full_name, "module": f.module, "qualname": f.qualname, "name": f.name,
        "file": f.file, "line": f.line, "kind": f.kind, "return_annotation": f.return_annotation,
        "signature_known": f.signature_known, "calls": f.calls, "returned": f.returned, "raised": f.raised,
        "pending": f.pending, "result_skipped": f.result_skipped, "undecodable": f.undecodable,
        "unbound": f.unbound, "sample_items": f.sample_items,
        "parameters": [_parameter(p) for p in f.parameters],
        "returns": f.returns, "return_shapes": _shapes(f.return_shapes), "return_pandas": _pandas(f.return_pandas),
        "other_return_pandas": f.other_return_pandas, "exceptions": f.exceptions,
        "signatures": [{"types": s.types, "calls": s.calls, "returns": s.returns, "exceptions": s.exceptions,
                        "timing": _timing(s.timing), "labels": s.labels} for s in f.signatures],
        "other_signature_calls": f.other_signature_calls, "timing": _timing(f.timing),
        "callers": f.callers, "sites": f.sites, "labels": f.labels,
    }
    if f.kind in GENERATOR_KINDS or not f.generator.empty:
        out["generator"] = _generator(f.generator)
    return out


def to_json(model: ApiModel) -> Dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "sources": model.sources,
            "functions": [function_to_json(f) for f in model]}


def write(model: ApiModel, path: str) -> None:
    """Writes the model to `path` (atomically: a temp file renamed over it)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(to_json(model), out, indent=1, ensure_ascii=False)
        out.write("\n")
    os.replace(tmp, path)


def _timing_from(d) -> Timing:
    return Timing(d["count"], d["total_ns"], d["min_ns"], d["max_ns"], {int(b): n for b, n in d["histogram"]})


def _shapes_from(items):
    return [ArrayShape(s["type"], tuple(s["shape"]), s["count"]) for s in items]


def _function_from(d) -> FunctionApi:
    params = [ParameterApi(p["name"], p["kind"], has_default=p["has_default"], default_repr=p["default_repr"],
                           default_type=p["default_type"], annotation=p["annotation"], positional=p["positional"],
                           keyword=p["keyword"], defaulted=p["defaulted"], missing=p["missing"],
                           values=p["values"], types=dict(p["types"]), literals=p["literals"],
                           shapes=_shapes_from(p["shapes"]), other_shapes=p["other_shapes"],
                           pandas=_pandas_from(p.get("pandas")), other_pandas=p.get("other_pandas", 0),
                           keyword_names=dict(p["keyword_names"]), sampled_values=p["sampled_values"])
              for p in d["parameters"]]
    sigs = [SignatureApi(dict(s["types"]), s["calls"], dict(s["returns"]), dict(s["exceptions"]),
                         _timing_from(s["timing"]), dict(s.get("labels", {})))  # absent before labels per signature
            for s in d["signatures"]]
    return FunctionApi(d["module"], d["qualname"], d["name"], d["file"], d["line"], d["kind"],
                       d["return_annotation"], d["signature_known"], d["calls"], d["returned"], d["raised"],
                       d["pending"], d["result_skipped"], d["undecodable"], d["unbound"], params,
                       dict(d["returns"]), _shapes_from(d["return_shapes"]), dict(d["exceptions"]), sigs,
                       d["other_signature_calls"], _timing_from(d["timing"]), dict(d["callers"]),
                       dict(d["sites"]), dict(d["labels"]), d["sample_items"], _generator_from(d.get("generator")),
                       _pandas_from(d.get("return_pandas")), d.get("other_return_pandas", 0))


def from_json(data: Dict[str, Any], where: str = "the JSON") -> ApiModel:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ApiFormatError(f"{where} is not a callmonitor API file (no \"format\": \"{FORMAT}\"); "
                             f"make one with: callmonitor api DB --json FILE")
    if data.get("version") != VERSION:
        raise ApiFormatError(f"{where} is API JSON version {data.get('version')!r}; this callmonitor "
                             f"reads version {VERSION}: upgrade callmonitor or re-derive it from the database")
    model = ApiModel(sources=list(data.get("sources", [])))
    try:
        for f in data["functions"]:
            model.add(_function_from(f))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ApiFormatError(f"{where} is damaged: a function entry lacks or mistypes a field ({e!r})") from None
    return model


def read(path: str) -> ApiModel:
    """Reads an API JSON file written by :func:`write` (or ``callmonitor api --json``)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ApiFormatError(f"{path} is not JSON ({e}); give a database or a file from "
                             f"callmonitor api --json") from None
    return from_json(data, path)


def is_api_json(path: str) -> bool:
    """A file (not a database directory) that should be read as API JSON."""
    return os.path.isfile(path)
