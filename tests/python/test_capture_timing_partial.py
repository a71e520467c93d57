"""Issue 9, "right in every case": a call's duration is the function's own time
(capturing a big argument is not in it), and a functools.partial's frozen arguments
are part of its record, so the call replays."""
import functools
import time

import numpy as np

import callmonitor
from callmonitor import intercept


@intercept
def trivial(a):
    return None


def power(base, exp, *, mod=None):
    return base ** exp if mod is None else pow(base, exp, mod)


def test_capturing_a_20_mb_argument_is_not_in_the_duration(recorder):
    big = np.random.default_rng(0).random(20 * 2**20 // 8)      # 20 MiB
    copy_s = []
    for _ in range(3):
        t = time.perf_counter()
        big.copy()
        copy_s.append(time.perf_counter() - t)
    for _ in range(3):
        trivial(big)
    db = recorder.load()
    durations = [c.duration for c in db.calls(trivial)]
    assert len(durations) == 3
    # The capture copies the 20 MiB (at least one copy's time); the function itself is
    # a return: far below one copy.
    assert min(durations) < min(copy_s) / 4, (durations, copy_s)
    np.testing.assert_array_equal(db.get(trivial, 1)[0][0], big)


def test_a_partial_records_its_frozen_arguments_and_replays(recorder):
    square = intercept(functools.partial(power, exp=2))
    mod_cube = intercept(functools.partial(power, 3, mod=5))
    assert square(4) == 16 and square(4, exp=3) == 64 and mod_cube(4) == 81 % 5
    db = recorder.load()
    calls = list(db.calls(power))
    assert [(c.args, c.kwargs) for c in calls] == [
        ([4], {"exp": 2}), ([4], {"exp": 3}), ([3, 4], {"mod": 5})]
    assert db.get(square, 2) == ([4], {"exp": 3})        # looked up by the partial too
    results = db.replay("power", func=power)
    assert [r.status for r in results] == ["passed"] * 3, results
