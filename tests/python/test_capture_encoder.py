"""The encoder's flat fast path (small lists, tuples and dicts of immediates written
without the work stack) keeps exactly what the general path keeps: values, types,
shared references."""
import pytest

import sample_functions as sf
from _support import assert_same


def first_call_args(recorder, fn):
    args, kwargs = recorder.load().get(fn, 1)
    return args, kwargs


@pytest.mark.parametrize("value", [
    [3], (1, "two"), {"a": 1, "b": None}, [], (), {},
    [2**40, -2**40, 2**63 - 1, -(2**63)],            # ints past one digit
    [2**70],                                          # an item for the general path
    ["\ud800"],                                       # a lone surrogate: general path
    list(range(16)), list(range(17)),                 # at and past the flat limit
    {1: 2.5, "x": b"y", None: True},
], ids=repr)
def test_flat_container_argument_roundtrips(recorder, value):
    sf.two_args(value, 0)
    args, _ = first_call_args(recorder, sf.two_args)
    assert_same(value, args[0])


def test_same_flat_list_in_two_arguments_loads_as_one_object(recorder):
    shared = [1, 2]
    sf.two_args(shared, shared)
    args, _ = first_call_args(recorder, sf.two_args)
    assert args[0] == [1, 2] and args[0] is args[1]


def test_two_equal_temporary_lists_load_as_two_objects(recorder):
    sf.two_args([3], [3])
    args, _ = first_call_args(recorder, sf.two_args)
    assert args[0] == args[1] == [3] and args[0] is not args[1]


def test_flat_list_shared_inside_a_container_keeps_its_identity(recorder):
    inner = (1, 2)
    sf.two_args([inner, [inner]], {"k": inner})
    args, _ = first_call_args(recorder, sf.two_args)
    assert args[0][0] is args[0][1][0] is args[1]["k"]


def test_flat_keyword_value_roundtrips(recorder):
    sf.full_signature(1, z=[5, "six"])
    _, kwargs = first_call_args(recorder, sf.full_signature)
    assert kwargs == {"z": [5, "six"]}


def test_flat_result_roundtrips(recorder):
    assert sf.return_given([1, (2,)]) == [1, (2,)]
    assert sf.return_given({"a": [1]}) == {"a": [1]}
    first, second = recorder.load().calls(sf.return_given)
    assert_same([1, (2,)], first.result)
    assert_same({"a": [1]}, second.result)


BIG_FLAT_DICT = {f"k{i}": "x" * 512 for i in range(16)}  # the most a flat value may take


@pytest.mark.parametrize("args, kwargs", [
    ((1, "two", [3]), {}),
    ((BIG_FLAT_DICT, 1j, "y" * 512, b"z" * 512), {"w": BIG_FLAT_DICT}),   # at the cursor's bound
    ((1, [2**70], 3), {"q": [4]}),                         # the general path from the second argument
    ((1, 2), {"a": 3, "b": "c" * 513, "d": [4]}),          # ... from the second keyword value
    (tuple(range(9)), {}),                                 # more values than one cursor run takes
    ((1,), {f"k{i}": [i] for i in range(4)}),
], ids=["small", "bound", "general-arg", "general-kwarg", "many", "kwargs"])
def test_inputs_written_in_one_run_roundtrip(recorder, args, kwargs):
    sf.full_signature(*args, **kwargs)
    loaded_args, loaded_kwargs = first_call_args(recorder, sf.full_signature)
    assert_same(args, tuple(loaded_args))
    assert_same(kwargs, loaded_kwargs)
