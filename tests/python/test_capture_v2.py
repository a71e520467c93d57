"""What the capture side writes in format v2: payloads for large values (inputs and
results), a returned argument stored once, caller sites, exceptions' tracebacks and
args, a result not recorded told apart from a recorded None."""
import os

import numpy as np
import pytest

import callmonitor
import sample_functions as sf
from callmonitor import _core, intercept

# These tests read what capture wrote straight through the core
# (_core._recorded_call / _recorded_sites), not through load().
RAISED, NOT_RECORDED = 2, 3


class Site:
    def __init__(self, file, line, function):
        self.file, self.line, self.function = file, line, function


def recorded(fn, n=1):
    """The record of call n of `fn` in this process's writer: a dict of outcome, site id,
    label, traceback, exception_args, result, input_payloads, result_payloads."""
    assert callmonitor.flush()
    return _core._recorded_call(_core.writer_directory(), fn.__qualname__, n)


def sites():
    """{site id: Site} of this process's writer."""
    assert callmonitor.flush()
    return {i: Site(f, line, fn) for i, f, line, fn in _core._recorded_sites(_core.writer_directory())}


def site_of(fn, n=1):
    return sites()[recorded(fn, n)["site"]]


def data_size(recorder):
    callmonitor.flush()
    return os.path.getsize(os.path.join(callmonitor.output_directory(), "main", "data.mdb"))


# -- payloads: large str, bytes, bytearray and arrays, in inputs and results --------------

def test_large_str_bytes_and_bytearray_arguments_roundtrip(recorder):
    text, data, buf = "é" * 2000, bytes(range(256)) * 8, bytearray(b"\x01") * 600
    sf.full_signature(text, data, buf, z=text)
    args, kwargs = recorder.load().get(sf.full_signature, 1)
    assert args == (text, data, buf) or list(args) == [text, data, buf]
    assert type(args[2]) is bytearray
    assert kwargs == {"z": text}


def test_same_large_bytearray_twice_loads_as_one_object(recorder):
    buf = bytearray(1000)
    sf.two_args(buf, buf)
    args, _ = recorder.load().get(sf.two_args, 1)
    assert args[0] == buf and args[0] is args[1]


def test_large_result_array_and_str_roundtrip(recorder):
    arr = np.arange(10_000, dtype=np.float64)
    sf.return_given(arr)
    sf.return_given("r" * 5000)
    np.testing.assert_array_equal(recorded(sf.return_given, 1)["result"], arr)
    assert recorded(sf.return_given, 2)["result"] == "r" * 5000


def test_result_array_with_the_same_bytes_as_another_argument_roundtrips(recorder):
    a = np.arange(1000.0)
    sf.return_given(a.copy())                # equal bytes, another object: a copy, deduplicated
    call = next(iter(recorder.load().calls(sf.return_given)))
    np.testing.assert_array_equal(recorded(sf.return_given)["result"], a)
    np.testing.assert_array_equal(call.args[0], a)


# -- a returned argument is stored once ----------------------------------------------------

@intercept
def scale_in_place(a, factor):
    a *= factor
    return a


def slot_counts_since(before):
    """Payload slots captured since `before` (a _core._payload_slot_counts() dict)."""
    now = _core._payload_slot_counts()
    return {k: now[k] - before[k] for k in now}


def test_returned_argument_is_stored_once(recorder):
    """GIVEN f(a) returning a, for 8 different 1 MiB arrays WHEN recorded THEN the
    database holds about 8 MiB of array bytes, not 16, and each result is a reference
    to its input slot: one copy per call, not two."""
    arrays = [np.full(128 * 1024, float(i)) for i in range(8)]
    before = data_size(recorder)
    slots = _core._payload_slot_counts()
    for a in arrays:
        assert sf.identity(a) is a
    assert slot_counts_since(slots) == {"copied": 8, "same_as_input": 8}
    grown = data_size(recorder) - before
    assert 8 * 2**20 <= grown < 11 * 2**20, grown
    calls = list(recorder.load().calls(sf.identity))
    for n, (a, call) in enumerate(zip(arrays, calls), 1):
        np.testing.assert_array_equal(call.args[0], a)
        np.testing.assert_array_equal(recorded(sf.identity, n)["result"], a)


def test_argument_changed_in_place_and_returned_keeps_both_versions(recorder):
    a = np.arange(1000.0)
    original = a.copy()
    slots = _core._payload_slot_counts()
    assert scale_in_place(a, 2.0) is a
    assert slot_counts_since(slots) == {"copied": 2, "same_as_input": 0}
    call = next(iter(recorder.load().calls(scale_in_place)))
    np.testing.assert_array_equal(call.args[0], original)
    rec = recorded(scale_in_place)
    assert rec["input_payloads"] == 1 and rec["result_payloads"] == 1
    np.testing.assert_array_equal(rec["result"], original * 2)


def test_returned_8_mib_array_is_one_copy_and_stored_once(recorder):
    """The issue's case: an 8 MiB float64 argument returned unchanged costs one capture
    copy (the result refers to the input slot) and 8 MiB on disk, not 16."""
    a = np.random.default_rng(1).random(2**20)
    before = data_size(recorder)
    slots = _core._payload_slot_counts()
    assert sf.identity(a) is a
    assert slot_counts_since(slots) == {"copied": 1, "same_as_input": 1}
    grown = data_size(recorder) - before    # pages freed earlier may be reused
    assert 7 * 2**20 <= grown < 12 * 2**20, grown
    np.testing.assert_array_equal(recorded(sf.identity)["result"], a)


def test_result_arrays_and_large_strings_are_payloads(recorder):
    sf.return_given(np.arange(1000.0))
    sf.return_given("s" * 600)
    sf.return_given(np.arange(10.0))           # 80 bytes: inline
    assert [recorded(sf.return_given, n)["result_payloads"] for n in (1, 2, 3)] == [1, 1, 0]
    np.testing.assert_array_equal(recorded(sf.return_given, 1)["result"], np.arange(1000.0))
    assert recorded(sf.return_given, 2)["result"] == "s" * 600


def test_returned_argument_of_an_inner_call_does_not_confuse_the_outer_one(recorder):
    """The input slots of a call made inside another are that call's own."""
    inner_arg = np.zeros(1000)

    @intercept
    def outer(a):
        sf.identity(inner_arg)
        return a

    a = np.ones(1000)
    assert outer(a) is a
    np.testing.assert_array_equal(recorded(outer)["result"], np.ones(1000))
    np.testing.assert_array_equal(recorded(sf.identity)["result"], np.zeros(1000))


# -- caller sites ------------------------------------------------------------------------

def _line_of(marker):
    """The line number of the line of this file containing `marker`."""
    with open(__file__) as f:
        for number, line in enumerate(f, 1):
            if marker in line and "_line_of(" not in line:
                return number
    raise AssertionError(marker)


def test_site_is_the_file_line_and_function_of_the_calling_line(recorder):
    sf.identity(1)  # SITE-A
    site = site_of(sf.identity)
    assert site.file == __file__
    assert site.line == _line_of("# SITE-A")
    assert site.function == "test_site_is_the_file_line_and_function_of_the_calling_line"


class Caller:
    def method(self):
        return sf.identity(2)  # SITE-METHOD


def test_site_function_is_the_qualified_name_of_the_calling_method(recorder):
    Caller().method()
    site = site_of(sf.identity)
    assert site.function == "Caller.method"
    assert site.line == _line_of("# SITE-METHOD")


def test_two_call_sites_of_one_function_give_two_sites(recorder):
    for i in range(3):
        sf.identity(i)  # SITE-LOOP-1
        sf.identity(i)  # SITE-LOOP-2
    lines = [site_of(sf.identity, n).line for n in range(1, 7)]
    assert lines == [_line_of("# SITE-LOOP-1"), _line_of("# SITE-LOOP-2")] * 3
    assert len(sites()) == 2


def test_a_loop_of_100000_calls_registers_one_site(recorder):
    for i in range(100_000):
        sf.add(i)  # SITE-HOT
    (site,) = sites().values()
    assert (site.file, site.line, site.function) == (
        __file__, _line_of("# SITE-HOT"), "test_a_loop_of_100000_calls_registers_one_site")
    assert recorded(sf.add, 1)["site"] == recorded(sf.add, 100_000)["site"]


def test_a_call_from_c_code_has_the_python_line_that_started_it(recorder):
    list(map(sf.identity, [1, 2]))  # SITE-MAP
    assert [site_of(sf.identity, n).line for n in (1, 2)] == [_line_of("# SITE-MAP")] * 2


# -- exceptions: traceback and args ------------------------------------------------------

class Problem(Exception):
    pass


@intercept
def fails(depth, *payload):
    if depth:
        return fails.__wrapped__(depth - 1, *payload)
    raise Problem("went wrong", *payload)  # RAISE-LINE


def test_raised_call_keeps_its_formatted_traceback_and_args(recorder):
    with pytest.raises(Problem):
        fails(2, 42, [1, "x"])
    rec = recorded(fails)
    assert rec["outcome"] == RAISED
    assert rec["exception_args"] == ("went wrong", 42, [1, "x"])
    tb = rec["traceback"]
    assert tb.startswith("Traceback (most recent call last):")
    assert f'line {_line_of("# RAISE-LINE")}, in fails' in tb
    assert tb.count(", in fails") == 3
    assert tb.rstrip().splitlines()[-1] == "test_capture_v2.Problem: ('went wrong', 42, [1, 'x'])"


def test_traceback_of_deep_recursion_is_bounded(recorder):
    with pytest.raises(Problem):
        fails(500, "x" * 100)
    tb = recorded(fails)["traceback"]
    assert len(tb.encode()) <= 8 * 1024 + 100
    assert "RAISE-LINE" in tb and "went wrong" in tb   # the innermost frames are kept
    assert tb.count(", in fails") <= 30


def test_chained_exception_keeps_both_tracebacks(recorder):
    @intercept
    def wraps_error():
        try:
            {}["missing"]
        except KeyError as e:
            raise RuntimeError("while looking up") from e

    with pytest.raises(RuntimeError):
        wraps_error()
    tb = recorded(wraps_error)["traceback"]
    assert "KeyError: 'missing'" in tb and "RuntimeError: while looking up" in tb
    assert "direct cause" in tb


def test_exception_is_unchanged_for_the_program(recorder):
    with pytest.raises(Problem) as info:
        fails(0, 1)
    assert info.value.args == ("went wrong", 1)
    assert info.traceback[-1].name == "fails"


# -- result not recorded vs a recorded None ------------------------------------------------

def test_result_not_recorded_is_distinct_from_a_recorded_none(recorder):
    sf.no_result(3)
    sf.identity(None)
    assert recorded(sf.no_result)["outcome"] == NOT_RECORDED
    rec = recorded(sf.identity)
    assert rec["outcome"] == 1 and rec["result"] is None     # Returned, a recorded None


# -- label -------------------------------------------------------------------------------

def test_configured_label_is_stored_with_every_call(recorder):
    callmonitor.close()
    callmonitor.configure(output=str(recorder.base), label="experiment 7")
    try:
        sf.identity(1)
        sf.add(1)
        assert recorded(sf.identity)["label"] == "experiment 7"
        assert recorded(sf.add)["label"] == "experiment 7"
    finally:
        callmonitor.close()
        callmonitor.configure(label="")


def test_no_label_by_default(recorder):
    sf.identity(1)
    assert recorded(sf.identity)["label"] is None


def test_label_must_be_text():
    with pytest.raises(TypeError, match="label must be a str"):
        callmonitor.configure(label=3)


def test_label_from_the_environment(tmp_path, run_recorder):
    from _support import check
    check(run_recorder("""
        from callmonitor import intercept

        @intercept
        def step(i):
            return i

        step(1)
        step(2)
    """, tmp_path, env={"CALLMONITOR_LABEL": "nightly run"}))
    writer = str(tmp_path / "call-monitor" / "main")
    assert [_core._recorded_call(writer, "step", n)["label"] for n in (1, 2)] == ["nightly run"] * 2


# -- the traceback formatter on its own -----------------------------------------------------

def _raised(fn):
    try:
        fn()
    except BaseException as e:  # noqa: B902 - the test wants whatever fn raised
        return e
    raise AssertionError("did not raise")


def test_traceback_text_during_handling_and_suppressed_context():
    from callmonitor.capture.raised import format_traceback

    def during():
        try:
            1 / 0
        except ZeroDivisionError:
            raise ValueError("second")

    def suppressed():
        try:
            1 / 0
        except ZeroDivisionError:
            raise ValueError("alone") from None

    text = format_traceback(_raised(during))
    assert text.index("ZeroDivisionError") < text.index("another exception occurred") < text.index("ValueError: second")
    text = format_traceback(_raised(suppressed))
    assert "ZeroDivisionError" not in text and text.endswith("ValueError: alone\n")


def test_traceback_text_of_an_exception_never_raised_and_of_a_context_cycle():
    from callmonitor.capture.raised import format_traceback
    assert format_traceback(KeyError("k")) == "KeyError: 'k'\n"
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert format_traceback(a).count("ValueError") == 2
