"""Built-in handlers (handlers/, docs/handlers.md): the table, pandas values and numpy
masked arrays restored exactly without pickle, arrays inside them stored as payloads."""
import datetime
import os
import re
import textwrap
import threading
import zoneinfo

import numpy as np
import pandas as pd
import pytest

import callmonitor
import sample_functions as sf
from callmonitor import REGISTRY, Unrestorable, _core
from _support import check
from test_cpp_reader import dump_tool, run_dump  # noqa: F401 (dump_tool is a fixture)

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "handlers.md")


def roundtrip(obj, allow_pickle=False):
    """Through the value codec alone (arrays inline)."""
    return _core.decode_value(_core.encode_value(obj), allow_pickle=allow_pickle)


def recorded(recorder, *values):
    """Records sf.sink(values) and loads the argument back (allow_pickle off)."""
    sf.sink(values)
    return recorder.load().get(sf.sink, 1)[0][0]


def assert_same_frame(got, want):
    assert type(got) is pd.DataFrame, got
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert list(got.dtypes) == list(want.dtypes)
    assert type(got.index) is type(want.index) and type(got.columns) is type(want.columns)


def every_dtype_frame():
    n = 4
    return pd.DataFrame({
        "i1": np.array([1, -2, 3, 127], dtype=np.int8),
        "i8": np.arange(n, dtype=np.int64) * 10**12,
        "u4": np.array([0, 1, 2, 2**32 - 1], dtype=np.uint32),
        "f4": np.array([0.5, -1.25, np.inf, np.nan], dtype=np.float32),
        "f8": np.array([-0.0, np.nan, 1e300, 5e-324]),
        "c16": np.array([1 + 2j, 0, -1j, np.nan], dtype=np.complex128),
        "b": np.array([True, False, True, True]),
        "str": ["a", "", None, "ü\u20ac"],
        "mixed": [1, "two", 3.0, (4, [5])],
        "cat": pd.Categorical(["x", "y", None, "x"]),
        "cat_ordered": pd.Categorical([3, 1, 2, 1], categories=[3, 2, 1], ordered=True),
        "naive": pd.to_datetime(["2020-01-01", None, "2021-06-30 12:00:00.000000001", "1970-01-01"]),
        "paris": pd.date_range("2020-03-28", periods=n, freq="D", tz="Europe/Paris"),
        "new_york": pd.date_range("2020", periods=n, tz=zoneinfo.ZoneInfo("America/New_York")),
        "utc": pd.date_range("2020", periods=n, tz=datetime.timezone.utc),
        "dateutil": pd.date_range("2020", periods=n, tz="dateutil/Europe/London"),
        "fixed": pd.date_range("2020", periods=n, tz=datetime.timezone(datetime.timedelta(hours=-3))),
        "tz_nat": pd.DatetimeIndex(["2020-01-01", None, None, "2020-01-02"]).tz_localize("Asia/Tokyo"),
        "td": pd.to_timedelta([1, None, -3, 10**9], unit="ns"),
        "Int64": pd.array([1, None, 3, -4], dtype="Int64"),
        "UInt8": pd.array([1, None, 3, 255], dtype="UInt8"),
        "Float64": pd.array([1.5, None, np.nan, 0.0], dtype="Float64"),
        "boolean": pd.array([True, None, False, True], dtype="boolean"),
        "string": pd.array(["a", None, "c", ""], dtype="string"),
        "period": pd.period_range("2020-01", periods=n, freq="M"),
        "interval": pd.interval_range(0, n),
    }, index=pd.Index([10, 20, 30, 40], name="key"))


# -- the table ------------------------------------------------------------------------

def test_table_lists_each_builtin_handler_once_in_order():
    assert _core._builtin_handlers() == ["ndarray", "masked_array", "pandas"]


@pytest.mark.parametrize("type_, handler", [
    (np.ndarray, "ndarray"), (np.float64, "ndarray"), (np.int8, "ndarray"), (np.datetime64, "ndarray"),
    (np.ma.MaskedArray, "masked_array"), (type(np.ma.masked), "masked_array"),
    (pd.DataFrame, "pandas"), (pd.Series, "pandas"), (pd.Index, "pandas"), (pd.RangeIndex, "pandas"),
    (pd.MultiIndex, "pandas"), (pd.DatetimeIndex, "pandas"), (pd.CategoricalIndex, "pandas"),
    (pd.Timestamp, "pandas"), (type(pd.NaT), "pandas"), (type(pd.NA), "pandas"),
    (int, None), (list, None), (np.matrix, None), (threading.Thread, None),
])
def test_table_names_the_handler_of_exactly_each_type(type_, handler):
    assert _core._builtin_handler_for(type_) == handler


def test_a_users_subclass_of_a_pandas_type_is_not_taken():
    class MyFrame(pd.DataFrame):
        pass
    assert _core._builtin_handler_for(MyFrame) is None


def test_table_question_needs_a_type():
    with pytest.raises(TypeError):
        _core._builtin_handler_for(3)


def test_ndarray_is_still_bit_exact_through_the_table():
    a = np.array([np.nan, -0.0, 1.0]).view(np.uint64)
    a[0] |= np.uint64(1)  # a NaN payload
    got = roundtrip(a.view(np.float64))
    assert got.dtype == np.float64 and got.view(np.uint64).tolist() == a.tolist()
    f = np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3))
    got = roundtrip(f)
    assert got.flags.f_contiguous and got.dtype == np.dtype(">i4")
    np.testing.assert_array_equal(got, f)


def test_object_ndarray_still_goes_to_pickle():
    got = roundtrip(np.array([1, "a"], dtype=object))
    assert isinstance(got, Unrestorable) and "pickle" in got.reason


# -- pandas round trips -----------------------------------------------------------------

def test_frame_of_every_supported_dtype_restores_exactly(recorder):
    df = every_dtype_frame()
    assert_same_frame(recorded(recorder, df)[0], df)


def test_frame_values_are_bit_exact():
    df = pd.DataFrame({"f": np.array([-0.0, np.nan, 1.0])})
    bits = df["f"].to_numpy().view(np.uint64).copy()
    bits[1] |= np.uint64(7)  # a NaN with a payload
    df["f"] = bits.view(np.float64)
    got = roundtrip(df)
    assert got["f"].to_numpy().view(np.uint64).tolist() == bits.tolist()


@pytest.mark.parametrize("df", [
    pd.DataFrame(),
    pd.DataFrame({"empty": pd.Series([], dtype="float32")}),
    pd.DataFrame(index=pd.RangeIndex(5, 20, 3, name="r")),
    pd.DataFrame({"c": pd.Categorical([], categories=["a"])}),
    pd.DataFrame([[1, 2], [3, 4]], columns=["dup", "dup"]),
    pd.DataFrame([[1.0, 2.0]], columns=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["l0", "l1"])),
    pd.DataFrame({"v": [1, 2, 3]},
                 index=pd.MultiIndex.from_arrays([["x", "x", "y"], pd.date_range("2020", periods=3)],
                                                 names=["name", None])),
    pd.DataFrame({"v": [1, 2]}, index=pd.date_range("2021", periods=2, freq="H", tz="UTC", name="when")),
    pd.DataFrame({"v": [1, 2]}, index=pd.timedelta_range(0, periods=2, freq="s")),
    pd.DataFrame({"v": [1, 2, 3]}, index=pd.CategoricalIndex(["b", "a", "b"], name="c")),
    pd.DataFrame({"v": [1, 2]}, index=pd.Index(["x", 2], dtype=object)),
    pd.DataFrame({("tuple", "label"): [1.5], 7: ["int label"]}),
    pd.DataFrame({"wide": np.arange(3)}, index=pd.Index([0.5, np.nan, -1.0])),
], ids=["no-columns-no-rows", "empty-column", "range-index-with-step", "empty-categorical", "duplicate-names",
        "multiindex-columns", "multiindex-rows", "datetime-index-with-freq", "timedelta-index",
        "categorical-index", "object-index", "non-str-column-labels", "float-index-with-nan"])
def test_frames_of_every_shape_restore_exactly(df):
    assert_same_frame(roundtrip(df), df)


def test_series_keeps_name_index_and_dtype():
    for s in [pd.Series([1.0, None], name=("a", 1), index=pd.Index(["x", "y"], name="idx")),
              pd.Series(pd.Categorical(["a", "b"]), name=0),
              pd.Series(pd.date_range("2020", periods=2, tz="Europe/Paris"), name="t"),
              pd.Series([], dtype="Int64"),
              pd.Series(["a", None, 3], dtype=object)]:
        got = roundtrip(s)
        assert type(got) is pd.Series
        pd.testing.assert_series_equal(got, s, check_exact=True)
        assert got.dtype == s.dtype and got.name == s.name


@pytest.mark.parametrize("index", [
    pd.RangeIndex(0), pd.RangeIndex(-5, 5, 2, name="r"), pd.Index([1, 2, 3], name="n"),
    pd.Index(["a", None]), pd.Index([1.5, np.nan]), pd.MultiIndex.from_product([[1, 2], ["a", "b"]], names=["n", "s"]),
    pd.date_range("2020", periods=3, freq="W"), pd.CategoricalIndex(["a", "b"], ordered=True),
    pd.period_range("2020", periods=2, freq="Q"), pd.interval_range(0.0, 1.0, periods=2),
])
def test_index_kinds_restore_exactly(index):
    got = roundtrip(index)
    pd.testing.assert_index_equal(got, index, exact=True, check_exact=True)
    assert got.dtype == index.dtype and got.names == index.names


def test_pandas_scalars_restore_exactly():
    for value in [pd.Timestamp("2020-03-29 02:30", tz="Europe/London"), pd.Timestamp("1999-12-31 23:59:59.999999999"),
                  pd.Timedelta(-1), pd.Timedelta("3 days 00:00:00.5")]:
        got = roundtrip(value)
        assert type(got) is type(value) and got == value
        assert getattr(got, "tz", None) == getattr(value, "tz", None)
    assert roundtrip(pd.NaT) is pd.NaT and roundtrip(pd.NA) is pd.NA


def test_frame_attrs_are_kept():
    df = pd.DataFrame({"a": [1]})
    df.attrs["units"] = {"a": "m/s"}
    assert roundtrip(df).attrs == {"units": {"a": "m/s"}}


def test_nothing_is_pickled(recorder):
    df = every_dtype_frame()
    recorded(recorder, df, df["paris"], df.index, pd.Timestamp("2020"), np.ma.array([1], mask=[True]))
    assert callmonitor.stats()["pickled"] == 0
    assert callmonitor.stats()["opaque"] == 0


def test_object_column_elements_are_values_of_their_own():
    lock = threading.Lock()
    df = pd.DataFrame({"o": [np.arange(3), {"k": [1, 2]}, lock]})
    got = roundtrip(df)
    np.testing.assert_array_equal(got["o"][0], np.arange(3))
    assert got["o"][1] == {"k": [1, 2]}
    assert isinstance(got["o"][2], Unrestorable)  # the one element that cannot be kept, alone


def test_the_same_frame_twice_in_one_call_loads_as_one_object(recorder):
    df = pd.DataFrame({"a": np.arange(1000.0)})
    first, second = recorded(recorder, df, df)
    assert first is second
    assert_same_frame(first, df)


def test_columns_are_payloads_stored_once_however_often_they_recur(recorder):
    """GIVEN a frame with a 1 MiB column passed to 8 calls WHEN recorded THEN the
    database grows by about one copy, not eight."""
    df = pd.DataFrame({"x": np.random.default_rng(0).random(128 * 1024)})
    sf.sink(df)
    callmonitor.flush()
    path = os.path.join(callmonitor.output_directory(), "main", "data.mdb")
    before = os.path.getsize(path)
    for _ in range(8):
        sf.sink(df)
    callmonitor.flush()
    grown = os.path.getsize(path) - before
    assert grown < 2**20 // 4, grown
    for call in recorder.load().calls(sf.sink):
        assert_same_frame(call.args[0], df)


def test_a_frame_column_and_the_array_it_came_from_share_one_payload(recorder):
    a = np.random.default_rng(1).random(256 * 1024)
    sf.sink(a)
    callmonitor.flush()
    path = os.path.join(callmonitor.output_directory(), "main", "data.mdb")
    before = os.path.getsize(path)
    sf.sink(pd.DataFrame({"a": a}, copy=False))
    callmonitor.flush()
    assert os.path.getsize(path) - before < 2**20 // 2


def test_a_frame_with_an_unsupported_dtype_falls_back_to_pickle(recorder):
    df = pd.DataFrame({"sparse": pd.arrays.SparseArray([0, 0, 1])})
    got = recorded(recorder, df)[0]
    assert isinstance(got, Unrestorable) and "pickle" in got.reason
    again = recorder.load(allow_pickle=True).get(sf.sink, 1)[0][0][0]
    assert_same_frame(again, df)


def test_a_user_registered_handler_for_a_pandas_type_wins(recorder):
    class FrameAsCsv:
        def encode(self, df):
            return df.to_csv(index=False).encode()

        def decode(self, data):
            import io
            return ("csv", pd.read_csv(io.BytesIO(bytes(data))))

    REGISTRY.add(pd.DataFrame, FrameAsCsv)
    try:
        got = recorded(recorder, pd.DataFrame({"a": [1, 2]}))[0]
    finally:
        REGISTRY.remove(pd.DataFrame)
    assert got[0] == "csv" and got[1]["a"].tolist() == [1, 2]


def test_reading_without_pandas_gives_a_placeholder_that_says_so(tmp_path, run_recorder):
    check(run_recorder("""
        import pandas as pd
        import sample_functions as sf
        sf.sink(pd.DataFrame({"a": [1, 2]}))
    """, tmp_path))
    proc = check(run_recorder("""
        import sys
        sys.modules["pandas"] = None  # as if pandas were not installed
        import callmonitor
        value = callmonitor.load("call-monitor").get("sample_functions.sink", 1)[0][0]
        print(type(value).__name__, value.type_name)
        print(value.reason)
    """, tmp_path))
    kind, reason = proc.stdout.splitlines()[:2]
    assert kind == "Unrestorable pandas.DataFrame"
    assert "pandas is not importable" in reason and "install it" in reason


# -- numpy masked arrays ------------------------------------------------------------------

@pytest.mark.parametrize("ma", [
    np.ma.array([1, 2, 3], mask=[False, True, False], fill_value=7),
    np.ma.array([1.5, np.nan]),                                     # nomask, default fill value
    np.ma.array(np.arange(6, dtype=">f4").reshape(2, 3), mask=np.eye(2, 3, dtype=bool), hard_mask=True),
    np.ma.array(np.asfortranarray(np.arange(6).reshape(3, 2)), mask=[[0, 1]] * 3),
    np.ma.array(["a", "bc"], mask=[True, False], fill_value="z"),
    np.ma.array(np.arange(200_000.0), mask=np.arange(200_000) % 3 == 0),
    np.ma.masked_all((2,), dtype="M8[s]"),
])
def test_masked_arrays_restore_data_mask_fill_value_and_dtype(ma, recorder):
    got = recorded(recorder, ma)[0]
    assert type(got) is np.ma.MaskedArray
    assert got.dtype == ma.dtype and got.shape == ma.shape
    np.testing.assert_array_equal(got.data, ma.data)
    assert (got.mask is np.ma.nomask) == (ma.mask is np.ma.nomask)
    np.testing.assert_array_equal(got.mask, ma.mask)
    fill, want = np.asarray(got.fill_value), np.asarray(ma.fill_value)
    assert fill.dtype == want.dtype and fill.tobytes() == want.tobytes()  # NaT == NaT is False
    assert got.hardmask == ma.hardmask
    assert got.data.tobytes() == ma.data.tobytes()


def test_the_masked_constant_is_itself():
    assert roundtrip(np.ma.masked) is np.ma.masked


# -- API derivation ----------------------------------------------------------------------

def test_api_derivation_names_pandas_and_masked_types(recorder):
    sf.two_args(pd.DataFrame({"a": [1]}), pd.Series([1.0]))
    sf.two_args(np.ma.array([1]), pd.RangeIndex(3))
    model = recorder.load().api()
    fn = model[sf.two_args.__qualname__] if sf.two_args.__qualname__ in model.functions else \
        model["sample_functions.two_args"]
    assert fn.parameter("a").types == {"pandas.DataFrame": 1,
                                       "numpy.ma.MaskedArray[Any, numpy.dtype[numpy.int64]]": 1}
    assert fn.parameter("b").types == {"pandas.Series": 1, "pandas.RangeIndex": 1}
    assert [s.text() for s in fn.parameter("a").pandas] == ["pandas.DataFrame[a: int64] (1 rows)"]
    assert [s.text() for s in fn.parameter("b").pandas] == ["pandas.Series[float64] (1 items)",
                                                           "pandas.RangeIndex[int64] (3 items)"]


# -- C++ readers ---------------------------------------------------------------------------

def test_cpp_reader_shows_a_frame_as_its_kind_and_state(tmp_path, run_recorder, dump_tool):
    check(run_recorder("""
        import pandas as pd
        import sample_functions as sf
        sf.sink(pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(2, name="row")))
    """, tmp_path))
    proc = run_dump(dump_tool, "call-monitor", "sink", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "pandas.DataFrame({'index': pandas.RangeIndex({'start': 0, 'stop': 2, 'step': 1, 'name': 'row'})" in out


# -- docs/handlers.md ----------------------------------------------------------------------

def test_docs_example_runs_as_written(tmp_path, run_recorder):
    with open(DOCS, encoding="utf-8") as f:
        text = f.read()
    examples = re.findall(r"```python\n(.*?)```", text, re.S)
    assert examples, "docs/handlers.md has no python example"
    proc = check(run_recorder(textwrap.dedent(examples[0]), tmp_path))
    assert "restored exactly" in proc.stdout
