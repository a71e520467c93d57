"""Values recorded as arguments come back with exactly the same type and value."""
import math
import threading

import numpy as np
import pytest

import callmonitor
import sample_functions as sf
from _support import assert_same


def roundtrip(recorder, value, allow_pickle=False):
    """GIVEN value passed to an intercepted function WHEN read back THEN the loaded arg."""
    sf.sink(value)   # result=False: only the argument is captured (and counted)
    db = recorder.load(allow_pickle=allow_pickle)
    args, kwargs = db.get(sf.sink, -1)
    assert kwargs == {}
    assert len(args) == 1
    return args[0]


SCALARS = {
    "none": None, "true": True, "false": False,
    "int0": 0, "int_neg": -1, "int64_max": 2**63 - 1, "int64_min": -(2**63),
    "int_2_63": 2**63, "uint64_max": 2**64 - 1, "int_2_64": 2**64, "int_2_70": 2**70,
    "int_neg_2_64": -(2**64), "int_neg_2_64_minus1": -(2**64) - 1, "googol": 10**100,
    "huge_neg": -(3**500),
    "float": 2.5, "float_tiny": 5e-324, "float_big": 1e308, "nan": float("nan"),
    "inf": float("inf"), "neg_inf": float("-inf"), "neg_zero": -0.0, "zero": 0.0,
    "complex": 1.5 - 2j, "complex_nan_inf": complex(float("nan"), float("-inf")),
    "complex_neg_zero": complex(-0.0, -0.0),
    "str_empty": "", "str_ascii": "hello", "str_latin": "héllo wörld", "str_nul": "a\x00b",
    "str_quotes": "'\"\n\t\\", "str_emoji": "🐍🎉", "str_max_cp": "\U0010ffff",
    "str_lone_surrogate": "\ud800", "str_mixed_surrogate": "a\udfffb\ud83d",
    "str_cjk": "日本語",
    "bytes_empty": b"", "bytes": b"\x00\x01\xfe\xff", "bytearray": bytearray(b"abc\x00"),
    "bytearray_empty": bytearray(),
}


@pytest.mark.parametrize("value", list(SCALARS.values()), ids=list(SCALARS))
def test_scalar_roundtrip_exact_type_and_value(recorder, value):
    assert_same(value, roundtrip(recorder, value))


def test_nan_and_negative_zero_are_bit_exact(recorder):
    sf.two_args(float("nan"), -0.0)
    args, _ = recorder.load().get(sf.two_args, 1)
    assert math.isnan(args[0])
    assert math.copysign(1.0, args[1]) == -1.0


CONTAINERS = {
    "list_empty": [], "tuple_empty": (), "dict_empty": {}, "set_empty": set(),
    "frozenset_empty": frozenset(),
    "list": [1, "two", 3.0, None, True],
    "tuple": (1, (2, 3), [4]),
    "single_tuple": (1,),
    "dict_str_keys_unsorted_order": {"b": 1, "a": 2, "c": 3},
    "dict_mixed_keys": {1: "int", (1, 2): "tuple", 1.5: "float", "": "empty", None: "none",
                        frozenset({3}): "frozenset", b"k": "bytes", -0.5: "neg"},
    "set": {1, "a", (2, 3), b"x"},
    "frozenset": frozenset({2.5, "b", (1,)}),
    "nested": {"a": [1, (2, {3: {4, 5}}), frozenset()], "b": {"c": {"d": [[[]]]}}},
    "list_of_tuples": [(i, str(i)) for i in range(50)],
}


@pytest.mark.parametrize("value", list(CONTAINERS.values()), ids=list(CONTAINERS))
def test_container_roundtrip_exact(recorder, value):
    assert_same(value, roundtrip(recorder, value))


def test_dict_numeric_key_types_are_kept(recorder):
    value = {1: "one", 2.0: "two-float", "x": 0, True: "true replaces 1's key? no: value only"}
    loaded = roundtrip(recorder, value)
    assert [type(k) for k in loaded] == [int, float, str]
    assert_same(value, loaded)


# -- shared references and cycles --------------------------------------------------------

def test_same_list_twice_loads_as_one_object(recorder):
    inner = [1, 2, 3]
    loaded = roundtrip(recorder, [inner, inner, {"k": inner}])
    assert loaded[0] == [1, 2, 3]
    assert loaded[0] is loaded[1]
    assert loaded[2]["k"] is loaded[0]


def test_same_object_in_two_arguments_loads_as_one_object(recorder):
    inner = {"shared": [1]}
    sf.two_args(inner, inner)
    args, _ = recorder.load().get(sf.two_args, 1)
    assert args[0] == inner
    assert args[0] is args[1]


def test_same_array_twice_loads_as_one_object(recorder):
    arr = np.arange(5)
    loaded = roundtrip(recorder, [arr, arr])
    assert_same(arr, loaded[0])
    assert loaded[0] is loaded[1]


def test_self_containing_list(recorder):
    a = [1, "x"]
    a.append(a)
    loaded = roundtrip(recorder, a)
    assert type(loaded) is list and len(loaded) == 3
    assert loaded[:2] == [1, "x"]
    assert loaded[2] is loaded


def test_dict_containing_itself(recorder):
    d = {"k": 1}
    d["self"] = d
    loaded = roundtrip(recorder, d)
    assert list(loaded) == ["k", "self"]
    assert loaded["k"] == 1
    assert loaded["self"] is loaded


def test_cycle_through_tuple_and_list(recorder):
    a = []
    t = (a, 5)
    a.append(t)
    loaded = roundtrip(recorder, t)
    assert type(loaded) is tuple and loaded[1] == 5
    assert loaded[0][0] is loaded


def test_ten_thousand_deep_nested_list(recorder):
    depth = 10_000
    value = []
    for _ in range(depth):
        value = [value]
    loaded = roundtrip(recorder, value)
    assert recorder.load().stats.get("opaque", 0) == 0      # not recorded as a placeholder
    n, node = 0, loaded
    while node:
        assert type(node) is list and len(node) == 1
        node = node[0]
        n += 1
    assert type(node) is list
    assert n == depth


# -- numpy arrays -------------------------------------------------------------------------

NUMERIC_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float16", "float32", "float64", "longdouble", "complex64", "complex128",
                  "clongdouble", "bool"]


def _sample(dtype):
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return np.array([[True, False, True], [False, False, True]])
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return np.array([[info.min, 0, info.max], [1, 2, 3]], dtype=dt)
    if dt.kind == "f":
        return np.array([[np.nan, -np.inf, np.inf], [-0.0, 1.0 / 3, np.finfo(dt).tiny]], dtype=dt)
    return np.array([[complex(np.nan, 1), complex(-0.0, np.inf), 1 / 3 + 2j],
                     [0j, -1j, 1e30 + 1e-30j]], dtype=dt)


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_ndarray_every_numeric_dtype(recorder, dtype):
    arr = _sample(dtype)
    assert_same(arr, roundtrip(recorder, arr))


@pytest.mark.parametrize("arr", [
    np.array(["2021-01-24", "NaT", "1969-12-31"], dtype="datetime64[D]"),
    np.array([0, -1, 2**40], dtype="datetime64[ns]"),
    np.array(["2000-01-01T12:34:56"], dtype="datetime64[s]"),
    np.array([1, -2, "NaT"], dtype="timedelta64[ms]"),
    np.array([3], dtype="timedelta64[D]"),
], ids=["M8D", "M8ns", "M8s", "m8ms", "m8D"])
def test_ndarray_datetime_and_timedelta(recorder, arr):
    loaded = roundtrip(recorder, arr)
    assert_same(arr, loaded)
    assert loaded.dtype == arr.dtype          # unit kept


@pytest.mark.parametrize("dtype", [">i4", ">f8", ">c16", ">u2", ">i8", "<i4", ">M8[s]"])
def test_ndarray_byte_order_kept(recorder, dtype):
    arr = np.array([1, 2, 3, 70000 % 65536], dtype=dtype) if "M" not in dtype else \
        np.array([1, 2, 3, 4], dtype=dtype)
    loaded = roundtrip(recorder, arr)
    assert loaded.dtype.str == arr.dtype.str
    assert_same(arr, loaded)


@pytest.mark.parametrize("arr", [np.array(3.25), np.array(True), np.array(1 - 1j),
                                 np.array(7, dtype=">i2")], ids=["f8", "bool", "c16", "be_i2"])
def test_ndarray_zero_dimensional_stays_ndarray(recorder, arr):
    loaded = roundtrip(recorder, arr)
    assert type(loaded) is np.ndarray and loaded.shape == ()
    assert_same(arr, loaded)


def test_ndarray_empty_0_by_3(recorder):
    arr = np.empty((0, 3), dtype=np.uint8)
    loaded = roundtrip(recorder, arr)
    assert loaded.shape == (0, 3)
    assert_same(arr, loaded)


def test_ndarray_fortran_ordered_comes_back_fortran_ordered(recorder):
    arr = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert arr.flags.f_contiguous and not arr.flags.c_contiguous
    loaded = roundtrip(recorder, arr)
    assert_same(arr, loaded)
    assert loaded.flags.f_contiguous
    assert not loaded.flags.c_contiguous


def test_ndarray_transposed_view_comes_back_fortran_ordered(recorder):
    arr = np.arange(6, dtype=np.uint16).reshape(2, 3).T
    loaded = roundtrip(recorder, arr)
    assert_same(arr, loaded)
    assert loaded.flags.f_contiguous and not loaded.flags.c_contiguous


@pytest.mark.parametrize("make", [
    lambda: np.arange(20.0).reshape(4, 5)[::2, 1:],
    lambda: np.arange(24, dtype=np.int64).reshape(2, 3, 4)[::-1, :, ::-2],
    lambda: np.arange(10, dtype=np.int32)[::3],
], ids=["2d_slice", "3d_negative_strides", "1d_strided"])
def test_ndarray_non_contiguous_comes_back_equal_and_contiguous(recorder, make):
    arr = make()
    assert not arr.flags.c_contiguous and not arr.flags.f_contiguous
    loaded = roundtrip(recorder, arr)
    assert_same(arr, loaded)
    assert loaded.flags.c_contiguous


def test_ndarray_inside_containers(recorder):
    value = {"a": [np.arange(3), (np.ones(2, dtype=np.float32),)]}
    assert_same(value, roundtrip(recorder, value))


# -- numpy scalars ------------------------------------------------------------------------

NP_SCALARS = [np.float64(2.5), np.float32(np.nan), np.float16(-0.0), np.int8(-128),
              np.int16(-3), np.int32(7), np.int64(-(2**63)), np.uint8(255), np.uint64(2**64 - 1),
              np.bool_(True), np.complex64(1 + 2j), np.complex128(complex(-0.0, np.inf)),
              np.longdouble(1) / 3, np.datetime64("2021-01-24T10:00", "m"),
              np.timedelta64(5, "s")]


@pytest.mark.parametrize("value", NP_SCALARS, ids=[f"{type(v).__name__}" for v in NP_SCALARS])
def test_numpy_scalar_type_and_value_exact(recorder, value):
    loaded = roundtrip(recorder, value)
    assert type(loaded) is type(value)
    assert_same(value, loaded)


# -- objects without a rule ------------------------------------------------------------------

def test_unpicklable_lock_becomes_unrestorable_with_type_and_repr(recorder):
    lock = threading.Lock()
    expected_repr = repr(lock)
    loaded = roundtrip(recorder, lock)
    assert isinstance(loaded, callmonitor.Unrestorable)
    assert loaded.type_name == f"{type(lock).__module__}.{type(lock).__qualname__}"
    assert loaded.repr == expected_repr
    assert isinstance(loaded.reason, str) and loaded.reason


def test_local_class_instance_holding_a_lambda_becomes_unrestorable(recorder):
    class Local:
        def __init__(self):
            self.fn = lambda: 1
            self.n = 2

        def __repr__(self):
            return "<Local holding a lambda>"

    # Recorded by its state (no pickle, which fails on the lambda); a class
    # defined in a function cannot be looked up by name: Unrestorable, with
    # what was recorded of it kept.
    loaded = roundtrip(recorder, Local(), allow_pickle=True)
    assert isinstance(loaded, callmonitor.Unrestorable)
    assert loaded.type_name.endswith("<locals>.Local")
    assert "defined inside a function" in loaded.reason
    assert loaded.recorded.n == 2 and isinstance(loaded.recorded.fn, callmonitor.Unrestorable)


def test_opaque_values_are_counted_in_database_stats(recorder):
    sf.two_args(threading.Lock(), 1)           # two_args returns None: no opaque result
    sf.two_args(threading.Lock(), threading.RLock())
    db = recorder.load()
    assert db.stats["opaque"] == 3
    assert callmonitor.stats()["opaque"] == 3


def test_long_repr_is_truncated_in_placeholder(recorder):
    class Big:
        __slots__ = ()

        def __reduce__(self):
            raise TypeError("not picklable")

        def __repr__(self):
            return "B" * 1_000_000

    loaded = roundtrip(recorder, Big())
    assert isinstance(loaded, callmonitor.Unrestorable)
    assert loaded.repr.startswith("BBBB")
    assert len(loaded.repr) < 100_000


def test_object_whose_repr_raises_is_still_recorded(recorder):
    class BadRepr:
        def __reduce__(self):
            raise TypeError("no")

        def __repr__(self):
            raise RuntimeError("repr broke")

    assert sf.identity(obj := BadRepr()) is obj          # never raised into the program
    loaded = recorder.load().get(sf.identity, -1)[0][0]
    assert isinstance(loaded, callmonitor.Unrestorable)
    assert loaded.type_name.endswith("BadRepr")


def test_picklable_custom_object_unrestorable_without_allow_pickle(recorder):
    obj = sf.Pickleable(1, [2, 3])
    loaded = roundtrip(recorder, obj)
    assert isinstance(loaded, callmonitor.Unrestorable)
    assert loaded.type_name == "sample_functions.Pickleable"
    assert isinstance(loaded.repr, str)          # (the object's repr is not required here)
    assert "allow_pickle" in loaded.reason       # says how to get the object back


def test_picklable_custom_object_restored_with_allow_pickle(recorder):
    obj = sf.Pickleable(1, [2, 3])
    loaded = roundtrip(recorder, obj, allow_pickle=True)
    assert type(loaded) is sf.Pickleable
    assert loaded == obj
    assert loaded is not obj
    assert callmonitor.stats()["pickled"] >= 1      # (the returned value may be a back-reference)


def test_pickled_values_are_counted(recorder):
    sf.two_args(sf.Pickleable(1, 2), 0)
    assert recorder.load().stats["pickled"] == 1


# -- captured before the call -----------------------------------------------------------------

def test_args_are_captured_before_the_call_mutates_them(recorder):
    buf = np.arange(5, dtype=np.float64)
    items = ["a", "b"]
    assert sf.mutator(buf, items) == 3
    assert items == ["changed", "b", "added"] and (buf == -1).all()
    args, _ = recorder.load().get(sf.mutator, 1)
    assert_same(np.arange(5, dtype=np.float64), args[0])
    assert_same(["a", "b"], args[1])


def test_kwargs_roundtrip_and_order_kept(recorder):
    sf.full_signature(1, 2, 3, z=[4], zeta=5, alpha=(6,), beta={7: 8})
    args, kwargs = recorder.load().get(sf.full_signature, 1)
    assert_same([1, 2, 3], args)
    assert_same({"z": [4], "zeta": 5, "alpha": (6,), "beta": {7: 8}}, kwargs)
