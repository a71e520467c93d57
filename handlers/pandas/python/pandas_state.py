"""pandas values as built-in values (handlers/python_state_handler.h).

Compiled into callmonitor's extension; the C++ side calls takes/state/restore.
Nothing is pickled: a value's state holds native values only (arrays become
Array values, whose bytes are payloads stored once by content; pandas
objects inside, like a frame's Index, go through this handler again).

kinds and their states (docs/handlers.md):

  pandas.DataFrame  {"index": Index, "columns": Index, "data": [array, ...],
                     "attrs": dict (only when not empty)}
  pandas.Series     {"index": Index, "data": array, "name": name, "attrs": ...}
  pandas.RangeIndex {"start": int, "stop": int, "step": int, "name": name}
  pandas.MultiIndex {"levels": [Index, ...], "codes": [ndarray, ...], "names": [name, ...]}
  pandas.<Index class> (Index, Int64Index, DatetimeIndex, CategoricalIndex, ...)
                    {"data": array, "name": name, "freq": str | None}
  pandas.Timestamp  (nanoseconds since the epoch, UTC: int, tz | None)
  pandas.Timedelta  nanoseconds: int
  pandas.NaT, pandas.NA   None

  array (one column, the data of a Series or Index), by its first item:
    ("numpy", ndarray)                        a numpy dtype (datetime64, timedelta64 included)
    ("object", [element, ...])                object dtype: each element a value of its own
    ("category", codes ndarray, categories Index, ordered bool)
    ("datetimetz", ndarray datetime64 (UTC), tz)
    ("masked", dtype name, data ndarray, mask ndarray)     Int64, Float64, boolean, ...
    ("string", storage, [str | pandas.NA, ...])
    ("period", ordinals ndarray int64, freq str)
    ("interval", left Index, right Index, closed str)
  tz: ("utc",) | ("fixed", offset seconds, name) | ("pytz", zone) | ("pytz-fixed", minutes)
      | ("zoneinfo", key) | ("dateutil", name)

A value with anything else (sparse or third-party extension dtypes, a time
zone of another kind) is declined: it is pickled, as before this handler.
"""


class _Unsupported(Exception):
    """A part of the value this handler does not know: the value is declined."""


def _pd():
    import pandas
    return pandas


# --- capture ------------------------------------------------------------------

def takes(cls):
    pd = _pd()
    if cls in (pd.DataFrame, pd.Series, pd.Timestamp, pd.Timedelta, type(pd.NaT), type(pd.NA)):
        return True
    # pandas' own Index classes; a user's subclass is not restored as itself here.
    return issubclass(cls, pd.Index) and cls.__module__.startswith("pandas.")


def state(obj):
    try:
        return _state(obj)
    except _Unsupported:
        return None


def _state(obj):
    pd = _pd()
    if isinstance(obj, pd.DataFrame):
        st = {"index": obj.index, "columns": obj.columns,
              "data": [_array(obj.iloc[:, i].array) for i in range(obj.shape[1])]}
        return ("pandas.DataFrame", _with_attrs(st, obj))
    if isinstance(obj, pd.Series):
        st = {"index": obj.index, "data": _array(obj.array), "name": obj.name}
        return ("pandas.Series", _with_attrs(st, obj))
    if isinstance(obj, pd.RangeIndex):
        return ("pandas.RangeIndex", {"start": obj.start, "stop": obj.stop, "step": obj.step, "name": obj.name})
    if isinstance(obj, pd.MultiIndex):
        return ("pandas.MultiIndex", {"levels": list(obj.levels), "codes": list(obj.codes), "names": list(obj.names)})
    if isinstance(obj, pd.Index):
        freq = getattr(obj, "freqstr", None) if isinstance(obj, (pd.DatetimeIndex, pd.TimedeltaIndex)) else None
        return ("pandas." + type(obj).__name__, {"data": _array(obj.array), "name": obj.name, "freq": freq})
    if obj is pd.NaT:
        return ("pandas.NaT", None)
    if obj is pd.NA:
        return ("pandas.NA", None)
    if isinstance(obj, pd.Timestamp):
        return ("pandas.Timestamp", (int(obj.value), None if obj.tz is None else _tz(obj.tz)))
    if isinstance(obj, pd.Timedelta):
        return ("pandas.Timedelta", int(obj.value))
    raise _Unsupported(type(obj))


def _with_attrs(st, obj):
    if obj.attrs:
        st["attrs"] = dict(obj.attrs)
    return st


def _native(dtype):
    return dtype.kind in "biufcmMSU" and dtype.fields is None and dtype.subdtype is None


def _array(values):
    """The state of one 1-D pandas array (ExtensionArray or ndarray)."""
    import numpy as np
    pd = _pd()
    if isinstance(values, pd.arrays.StringArray):  # before the numpy-backed arrays it derives from
        return ("string", values.dtype.storage, list(values.to_numpy()))
    numpy_backed = getattr(pd.arrays, "NumpyExtensionArray", None) or pd.arrays.PandasArray  # pandas 2 / 1
    if isinstance(values, numpy_backed):
        values = values.to_numpy()
    dtype = values.dtype
    if isinstance(dtype, np.dtype):  # an ndarray, or a naive DatetimeArray / TimedeltaArray
        arr = values if isinstance(values, np.ndarray) else values.to_numpy()
        if arr.dtype != dtype:
            raise _Unsupported(dtype)
        if dtype == object:
            return ("object", list(arr))
        if not _native(dtype):
            raise _Unsupported(dtype)
        return ("numpy", arr)
    if isinstance(dtype, pd.CategoricalDtype):
        return ("category", values.codes, dtype.categories, bool(dtype.ordered))
    if isinstance(dtype, pd.DatetimeTZDtype):
        unit = getattr(dtype, "unit", "ns")
        return ("datetimetz", values.to_numpy(dtype=f"M8[{unit}]"), _tz(dtype.tz))
    if isinstance(dtype, pd.PeriodDtype):
        return ("period", np.asarray(values.asi8), values.freqstr)
    if isinstance(dtype, pd.IntervalDtype):
        return ("interval", pd.Index(values.left), pd.Index(values.right), values.closed)
    data, mask = getattr(values, "_data", None), getattr(values, "_mask", None)
    if (isinstance(values, pd.api.extensions.ExtensionArray) and type(values).__module__.startswith("pandas.")
            and isinstance(data, np.ndarray) and isinstance(mask, np.ndarray) and _native(data.dtype)):
        return ("masked", dtype.name, data, mask)  # IntegerArray, FloatingArray, BooleanArray
    raise _Unsupported(dtype)


def _tz(tz):
    import datetime
    if tz is datetime.timezone.utc:
        return ("utc",)
    if isinstance(tz, datetime.timezone):
        return ("fixed", int(tz.utcoffset(None).total_seconds()), tz.tzname(None))
    module = type(tz).__module__
    if module.startswith("pytz"):
        if getattr(tz, "zone", None):
            return ("pytz", tz.zone)
        minutes = getattr(tz, "_minutes", None)
        if isinstance(minutes, int):
            return ("pytz-fixed", minutes)
    if module == "zoneinfo" and getattr(tz, "key", None):
        return ("zoneinfo", tz.key)
    if module.startswith("dateutil"):
        name = getattr(tz, "_filename", None)  # "/usr/share/zoneinfo/Europe/Paris": kept as "Europe/Paris"
        if isinstance(name, str) and "zoneinfo/" in name:
            return ("dateutil", name.rsplit("zoneinfo/", 1)[1])
    raise _Unsupported(tz)


# --- read -----------------------------------------------------------------------

def restore(kind, st):
    pd = _pd()
    if kind == "pandas.DataFrame":
        arrays = [_restore_array(a) for a in st["data"]]
        frame = pd.DataFrame(dict(enumerate(arrays)), index=st["index"], copy=False)
        frame.columns = st["columns"]
        return _restore_attrs(frame, st)
    if kind == "pandas.Series":
        series = pd.Series(_restore_array(st["data"]), index=st["index"], name=st["name"], copy=False)
        return _restore_attrs(series, st)
    if kind == "pandas.RangeIndex":
        return pd.RangeIndex(st["start"], st["stop"], st["step"], name=st["name"])
    if kind == "pandas.MultiIndex":
        return pd.MultiIndex(levels=st["levels"], codes=st["codes"], names=st["names"], verify_integrity=False)
    if kind == "pandas.NaT":
        return pd.NaT
    if kind == "pandas.NA":
        return pd.NA
    if kind == "pandas.Timestamp":
        value, tz = st
        if tz is None:
            return pd.Timestamp(value, unit="ns")
        return pd.Timestamp(value, unit="ns", tz="UTC").tz_convert(_restore_tz(tz))
    if kind == "pandas.Timedelta":
        return pd.Timedelta(st, unit="ns")
    if kind.endswith("Index"):
        return _restore_index(kind, st)
    raise ValueError(f"unknown pandas kind {kind!r}: recorded by a newer callmonitor?")


def _restore_attrs(obj, st):
    if "attrs" in st:
        obj.attrs.update(st["attrs"])
    return obj


def _restore_index(kind, st):
    pd = _pd()
    data, name, freq = _restore_array(st["data"]), st["name"], st.get("freq")
    if freq is not None and kind == "pandas.DatetimeIndex":
        return pd.DatetimeIndex(data, freq=freq, name=name)
    if freq is not None and kind == "pandas.TimedeltaIndex":
        return pd.TimedeltaIndex(data, freq=freq, name=name)
    return pd.Index(data, dtype=data.dtype, name=name, copy=False)


def _restore_array(st):
    import numpy as np
    pd = _pd()
    what = st[0]
    if what == "numpy":
        return st[1]
    if what == "object":
        return _object_array(st[1])
    if what == "category":
        _, codes, categories, ordered = st
        return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories, ordered=ordered))
    if what == "datetimetz":
        _, utc, tz = st
        return pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(_restore_tz(tz)).array
    if what == "masked":
        _, name, data, mask = st
        return pd.api.types.pandas_dtype(name).construct_array_type()(np.asarray(data), np.asarray(mask))
    if what == "string":
        _, storage, items = st
        return pd.array(_object_array(items), dtype=pd.StringDtype(storage))
    if what == "period":
        _, ordinals, freq = st
        return pd.arrays.PeriodArray(np.asarray(ordinals), dtype=pd.PeriodDtype(freq))
    if what == "interval":
        _, left, right, closed = st
        return pd.arrays.IntervalArray.from_arrays(left, right, closed=closed)
    raise ValueError(f"unknown pandas array kind {what!r}: recorded by a newer callmonitor?")


def _object_array(items):
    import numpy as np
    try:
        return np.fromiter(items, dtype=object, count=len(items))
    except (TypeError, ValueError):  # numpy before 1.23: no object dtype in fromiter
        out = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            out[i] = item
        return out


def _restore_tz(tz):
    import datetime
    what = tz[0]
    if what == "utc":
        return datetime.timezone.utc
    if what == "fixed":
        return datetime.timezone(datetime.timedelta(seconds=tz[1]), tz[2])
    if what == "pytz":
        import pytz
        return pytz.timezone(tz[1])
    if what == "pytz-fixed":
        import pytz
        return pytz.FixedOffset(tz[1])
    if what == "zoneinfo":
        import zoneinfo
        return zoneinfo.ZoneInfo(tz[1])
    if what == "dateutil":
        import dateutil.tz
        name = tz[1]
        if not isinstance(name, str) or name.startswith("/") or ".." in name:
            raise ValueError(f"not a time zone name: {name!r}")  # a reader never opens a path a record names
        zone = dateutil.tz.gettz(name)
        if zone is None:
            raise ValueError(f"dateutil knows no time zone {name!r}")
        return zone
    raise ValueError(f"unknown time zone kind {what!r}: recorded by a newer callmonitor?")
