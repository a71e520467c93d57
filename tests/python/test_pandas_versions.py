"""The pandas handler's state across pandas versions (docs/handlers.md, "pandas
versions"). This machine has Debian 12's pandas 1.5; pandas 2 writes states this
one cannot make (datetime units other than ns). Those states are built here by
hand, as pandas 2 records them, and read with the handler's own code: no mocks.
"""
import datetime
import importlib.util
import pathlib

import numpy as np
import pandas as pd
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pandas_state():
    """The handler's Python side, as compiled into the extension."""
    spec = importlib.util.spec_from_file_location(
        "pandas_state_under_test", ROOT / "handlers" / "pandas" / "python" / "pandas_state.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_this_machine_runs_the_pandas_the_docs_name():
    # docs/handlers.md states the version the suite runs against: keep it true
    docs = (ROOT / "docs" / "handlers.md").read_text()
    assert f"pandas {pd.__version__.rsplit('.', 1)[0]}" in docs


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_a_tz_aware_column_recorded_by_pandas_2_in_any_unit_reads_as_the_same_instants(pandas_state, unit):
    # GIVEN the state pandas 2 writes for a datetime64[<unit>, UTC] column
    # (its UTC values in that unit), WHEN it is restored
    utc = np.array([0, 86_400, 2 * 86_400], dtype="M8[s]").astype(f"M8[{unit}]")
    restored = pandas_state._restore_array(("datetimetz", utc, ("utc",)))
    # THEN the same instants in the same zone (pandas 1.5 holds them in ns)
    expected = pd.DatetimeIndex(["1970-01-01", "1970-01-02", "1970-01-03"], tz="UTC")
    assert str(restored.dtype.tz) == "UTC"
    assert list(pd.DatetimeIndex(restored)) == list(expected)


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_a_naive_column_in_a_unit_other_than_ns_becomes_a_series_with_its_instants(pandas_state, unit):
    values = np.array(["2024-02-29T12:00:00", "NaT"], dtype=f"M8[{unit}]")
    state = {"index": pd.RangeIndex(2), "data": ("numpy", values), "name": "t"}
    series = pandas_state.restore("pandas.Series", state)
    assert series.name == "t" and series.dtype.kind == "M"
    assert series.iloc[0] == pd.Timestamp("2024-02-29T12:00:00") and pd.isna(series.iloc[1])


def test_a_tz_aware_column_records_its_unit(pandas_state):
    # the capture side reads the unit off the dtype (pandas 2 has several; 1.5 has ns only)
    column = pd.Series(pd.date_range("2024-01-01", periods=2, tz=datetime.timezone.utc)).array
    what, utc, tz = pandas_state._array(column)
    assert what == "datetimetz" and utc.dtype == np.dtype("M8[ns]") and tz == ("utc",)


def test_numpy_backed_extension_arrays_are_read_whatever_their_pandas_name(pandas_state):
    # pandas 2 calls it NumpyExtensionArray, pandas 1 PandasArray: both go through one branch
    backed = pd.Series(np.arange(3.0)).array
    assert type(backed).__name__ in ("PandasArray", "NumpyExtensionArray")
    what, values = pandas_state._array(backed)
    assert what == "numpy"
    np.testing.assert_array_equal(values, np.arange(3.0))
