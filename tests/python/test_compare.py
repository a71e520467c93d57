"""The comparison rules of replay and generated tests (callmonitor.analyse.compare): unit tests."""
import numpy as np
import pytest

from callmonitor import ExceptionInfo
from callmonitor.analyse.compare import (MAX_INDICES, Rules, assert_equivalent,
                                         compare_exception, differences)


def texts(expected, actual, rules=Rules()):
    return [str(d) for d in differences(expected, actual, rules)]


@pytest.mark.parametrize("expected, actual", [
    (1, True), (1, 1.0), (True, np.bool_(True)), ([1], (1,)), (2.0, np.float32(2.0)),
    (np.float64(1), np.float32(1)), ("a", b"a"), (None, 0),
])
def test_types_are_strict(expected, actual):
    [d] = texts(expected, actual)
    assert "type" in d or "dtype" in d


@pytest.mark.parametrize("value", [
    0, -3, 10**30, "x", b"y", None, True, 1.5, float("nan"), float("inf"), complex(1, float("nan")),
    [1, (2, 3.0)], {"a": [1], "b": {"c": None}}, {1, 2}, frozenset({3}),
    np.arange(6.0).reshape(2, 3), np.array([np.nan, 1.0, np.inf]), np.float32(2.5),
    np.array([1 + 2j, np.nan + 0j]), np.array(["a", "b"]), np.zeros((0, 3)),
    np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
])
def test_a_value_is_equivalent_to_itself(value):
    copy = value.copy() if hasattr(value, "copy") and not np.isscalar(value) else value
    assert texts(value, copy) == []


def test_float_tolerance_per_dtype():
    assert texts(1.0, 1.0 + 1e-12) == []
    assert texts(1.0, 1.0 + 1e-6) != []                  # float64: rtol 1e-9
    f32 = np.array([1.0], np.float32)
    assert texts(f32, f32 + np.float32(1e-6)) == []       # float32: rtol 1e-5
    assert texts(f32, f32 + np.float32(1e-3)) != []
    f16 = np.array([1.0], np.float16)
    assert texts(f16, f16 + np.float16(0.0009765625)) == []   # float16: one ulp at 1.0
    assert texts(np.array([1], np.int64), np.array([2], np.int64)) != []   # integers exact


def test_caller_tolerances_override_the_defaults():
    assert texts(1.0, 1.001, Rules(rtol=1e-2)) == []
    assert texts(0.0, 0.5, Rules(atol=1.0)) == []
    assert texts(np.ones(3), np.ones(3) * 1.1, Rules(rtol=0.2)) == []


def test_nan_only_equals_nan_in_the_same_places():
    a = np.array([np.nan, 1.0])
    assert texts(a, np.array([np.nan, 1.0])) == []
    assert texts(a, np.array([1.0, np.nan])) != []
    assert texts(float("nan"), 1.0) != []


def test_array_difference_is_readable_and_capped():
    e = np.zeros((4, 5))
    a = e.copy()
    a[1, 2] = 2.0
    a[3, :] = 1.0
    [d] = texts(e, a)
    assert d.startswith("value: 6 of 20 elements differ (rtol 1e-09, atol 1e-12)")
    assert "max abs error 2, mean abs error 1.17" in d
    assert "first at [1, 2]: 2.0 vs expected 0.0, [3, 0]: 1.0" in d
    assert d.count(" vs expected ") == MAX_INDICES and d.endswith(", ...")


def test_dtype_and_shape_are_strict_unless_loose_dtype():
    assert texts(np.ones(3), np.ones(3, np.float32)) == [
        "value: dtype float32 != expected float64 (give --loose-dtype to compare values across dtypes)"]
    assert texts(np.ones(3), np.ones(3, np.float32), Rules(loose_dtype=True)) == []
    assert texts(np.ones(3), np.ones((3, 1))) == ["value: shape (3, 1) != expected (3,)"]
    assert texts(np.float64(1), np.float32(1), Rules(loose_dtype=True)) == []


def test_containers_recursively_with_paths():
    e = {"a": [1, 2.0], "b": (np.ones(2),), "c": 1}
    a = {"a": [1, 2.5], "b": (np.ones(2, np.float32),), "d": 1}
    got = texts(e, a)
    assert "value: missing keys ['c']" in got and "value: unexpected keys ['d']" in got
    assert any(d.startswith("value['a'][1]: 2.5 != expected 2.0") for d in got)
    assert any(d.startswith("value['b'][0]: dtype float32") for d in got)
    assert texts([1, 2], [1, 2, 3]) == ["value: length 3 != expected 2"]


def test_dict_key_order_is_not_compared():
    assert texts({"a": 1, "b": 2}, {"b": 2, "a": 1}) == []


class Plain:
    def __init__(self, x):
        self.x = x


def test_objects_without_eq_compare_by_attributes():
    assert texts(Plain([1, 2]), Plain([1, 2])) == []
    assert texts(Plain(1), Plain(2)) == ["value.x: 2 != expected 1"]


def test_exceptions_by_type_and_message():
    expected = ExceptionInfo("ValueError", "bad x")
    assert compare_exception(expected, ValueError("bad x")) == []
    assert compare_exception(expected, ValueError("bad y")) != []
    assert compare_exception(expected, TypeError("bad x")) != []
    assert compare_exception(expected, None) != []
    assert texts(ValueError("a"), ValueError("b")) != []


def test_assert_equivalent_lists_every_difference():
    with pytest.raises(AssertionError, match=r"result\[0\]: 2 != expected 1\nresult\[1\]"):
        assert_equivalent([1, 2], [2, 3])
    assert_equivalent(np.ones(2), np.ones(2))
