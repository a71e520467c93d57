"""Threads Python did not create (a C library's callback thread) entering Python
with PyGILState_Ensure and calling an intercepted function: their calls carry
their own thread identity, and their capture state is freed at their outermost
PyGILState_Release (python/src/capture/thread_state.cpp). The threads are real
C++ std::threads started by the test-only hook _core._testing.run_in_c_threads."""
import json
import threading

import pytest

import callmonitor
from callmonitor import _core, intercept
from _support import check

run_in_c_threads = _core._testing.run_in_c_threads


@intercept
def callback(thread, i, payload=None):
    return thread * 1000 + i


def test_calls_from_c_threads_are_recorded_with_each_thread_s_identity(recorder):
    callback(-1, 0)  # the main thread's lane is open throughout
    # GIVEN 6 C threads running at once, each calling 40 times
    idents = run_in_c_threads(callback, threads=6, calls=40, width=6)
    assert len(idents) == 6 and len({ident for ident, _ in idents}) == 6
    assert all(ident != threading.main_thread().ident for ident, _ in idents)
    # THEN their lanes are gone with them ...
    assert _core._open_lanes() == 1
    db = recorder.load()
    calls = [c for c in db.calls("callback") if c.args[0] >= 0]
    # ... and every call is stored, with the identity of the thread that made it
    assert len(calls) == 6 * 40
    assert sorted(c.result for c in calls) == sorted(t * 1000 + i for t in range(6) for i in range(40))
    for c in calls:
        assert c.thread == idents[c.args[0]][0]
    assert len({c.thread_name for c in calls}) == 6  # six threads, told apart


def test_short_lived_c_threads_leave_no_capture_state_behind(recorder):
    callback(-1, 0)
    lanes = _core._open_lanes()
    # GIVEN 500 C threads one after another, each calling once and ending
    run_in_c_threads(callback, threads=500, calls=1, width=1)
    # THEN no lane is left open for them, and all 500 calls are stored
    assert _core._open_lanes() == lanes == 1
    calls = [c for c in recorder.load().calls("callback") if c.args[0] >= 0]
    assert sorted(c.args[0] for c in calls) == list(range(500))


def test_an_error_raised_in_a_c_thread_comes_back_to_the_caller_and_capture_goes_on(recorder):
    @intercept
    def fails(thread, i):
        raise ValueError(f"thread {thread} call {i}")

    with pytest.raises(ValueError, match="call 0"):
        run_in_c_threads(fails, threads=2, calls=3, width=2)
    assert _core._open_lanes() == 0
    db = recorder.load()
    raised = list(db.calls(fails))
    assert len(raised) == 2 and all(c.outcome == "raised" for c in raised)


CHURN = '''
import json, sys
import callmonitor
from callmonitor import intercept, _core

@intercept
def takes_list(i, items):
    return len(items)

def one(thread, i):
    takes_list(thread, list(range(12_500)))

def rss_anon_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

run = _core._testing.run_in_c_threads
run(one, threads=100, calls=1, width=4)      # warm up
assert callmonitor.flush()
before = rss_anon_kib()
for k in range(5):                           # 500 more short-lived C threads
    run(lambda t, i: one(100 + 100 * k + t, i), threads=100, calls=1, width=4)
assert callmonitor.flush()
after = rss_anon_kib()
print(json.dumps({"before": before, "after": after, "lanes": _core._open_lanes(),
                  "dir": callmonitor.output_directory()}))
'''


@pytest.mark.integration
def test_c_thread_churn_keeps_memory_bounded(tmp_path, run_recorder):
    # GIVEN 600 short-lived C threads, each recording one call with a 12,500-int list
    # (a capture state kept per thread costs ~0.7 MB each: +350 MB for the 500 measured)
    proc = check(run_recorder(CHURN, tmp_path, timeout=300))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    growth_mib = (out["after"] - out["before"]) / 1024
    # THEN memory stays bounded and no lane is left open
    assert growth_mib < 80, f"anonymous RSS grew by {growth_mib:.0f} MiB over 500 C threads"
    assert out["lanes"] == 0
    with callmonitor.load(out["dir"]) as db:
        calls = list(db.calls("takes_list"))
        assert sorted(c.args[0] for c in calls) == list(range(600))
        assert all(c.result == 12_500 for c in calls)
