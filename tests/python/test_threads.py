"""Threads: per-thread capture state freed when a thread ends (thread churn with an
RSS bound), and callmonitor 0.3's Settings().enable_multi_threading(tid) giving
each declared tid its own writer."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import callmonitor
from callmonitor import Settings, intercept, _core
from _support import check


@intercept
def record(who, i, payload=None):
    return i


@pytest.fixture
def settings():
    """Settings() with no declaration left over for the main thread afterwards."""
    s = Settings()
    yield s
    s.disable_multi_threading()


def run_threads(n, target, *args):
    threads = [threading.Thread(target=target, args=(t, *args)) for t in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# -- per-thread state is released when the thread ends ---------------------------------

def test_threads_that_end_leave_no_lane_and_their_calls_are_all_stored(recorder):
    callmonitor.configure(flush_interval=60)  # nothing committed before the threads end
    record("main", 0)
    for _ in range(5):
        run_threads(20, lambda t: [record("worker", t * 1000 + i) for i in range(50)])
    assert _core._open_lanes() == 1  # the main thread's: it has not ended
    db = recorder.load()
    calls = list(db.calls("record"))
    assert len(calls) == 1 + 5 * 20 * 50
    assert sorted(c.args[1] for c in calls if c.args[0] == "worker") == \
        sorted(t * 1000 + i for t in range(20) for i in range(50) for _ in range(5))
    assert [c.invocation for c in calls] == list(range(1, len(calls) + 1))
    assert len({c.thread_name for c in calls}) == 1 + 5 * 20  # each thread kept its own identity


def test_a_thread_ending_while_another_records_loses_nothing(recorder):
    callmonitor.configure(flush_interval=0.001)  # commits race with the lanes being released
    stop = threading.Event()
    counted = []

    def steady(_):
        n = 0
        while not stop.is_set():
            n += 1
            record("steady", n)
            if n % 8 == 0:
                time.sleep(0)  # lets the short threads run: without it they wait behind this loop and the test takes minutes
        counted.append(n)

    runner = threading.Thread(target=steady, args=(0,))
    runner.start()
    for _ in range(50):
        run_threads(4, lambda t: record("short", t))
    stop.set()
    runner.join()
    db = recorder.load()
    calls = list(db.calls("record"))
    assert sum(1 for c in calls if c.args[0] == "short") == 200
    assert counted[0] > 100  # the steady thread recorded throughout
    assert [c.args[1] for c in calls if c.args[0] == "steady"] == list(range(1, counted[0] + 1))
    assert _core._open_lanes() == 0


CHURN = '''
import json, sys, threading
import numpy as np
import callmonitor
from callmonitor import intercept, _core

variant = sys.argv[1]

@intercept
def takes_list(i, xs):
    return len(xs)

@intercept
def returns_array(i):
    return np.full(12_800, float(i))  # 100 KB

data = list(range(12_500))

def one(i):
    if variant == "list":
        takes_list(i, data)
    else:
        returns_array(i)

def rss_anon_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

def churn(first, n, width=4):
    for k in range(first, first + n, width):
        threads = [threading.Thread(target=one, args=(i,)) for i in range(k, min(k + width, first + n))]
        for t in threads: t.start()
        for t in threads: t.join()

churn(0, 200)             # warm up: arenas, the writer's buffers, the map
assert callmonitor.flush()
before = rss_anon_kib()
churn(200, 1800)
assert callmonitor.flush()
after = rss_anon_kib()
print(json.dumps({"before": before, "after": after, "lanes": _core._open_lanes(),
                  "dir": callmonitor.output_directory()}))
'''


@pytest.mark.integration
@pytest.mark.big_memory
@pytest.mark.parametrize("variant, function", [("list", "takes_list"), ("array", "returns_array")])
def test_thread_churn_keeps_memory_bounded(tmp_path, run_recorder, variant, function):
    # GIVEN 2,000 short-lived threads, each recording one call (a 12,500-int list
    # argument, or a returned 100 KB array) — +1.3 GB and +540 MB of RSS before
    # per-thread state was released at thread end
    proc = check(run_recorder(CHURN, tmp_path, timeout=300, args=(variant,)))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    growth_mib = (out["after"] - out["before"]) / 1024
    # THEN memory stays bounded: the 1,800 threads after warm-up hold nothing once they
    # end (measured: +20 MiB for the lists, +55 MiB for the arrays, which is glibc's
    # per-thread arenas keeping freed payload memory; a state kept per thread is
    # hundreds of MiB here) ...
    assert growth_mib < 160, f"anonymous RSS grew by {growth_mib:.0f} MiB over 1,800 threads"
    assert out["lanes"] == 0
    # ... and every call is stored
    with callmonitor.load(out["dir"]) as db:
        calls = list(db.calls(function))
        assert sorted(c.args[0] for c in calls) == list(range(2000))
        for c in calls[::97]:
            if variant == "list":
                assert c.result == 12_500
            else:
                np.testing.assert_array_equal(c.result, np.full(12_800, float(c.args[0])))


# -- callmonitor 0.3's Settings().enable_multi_threading(tid) in threads ------------------

POOL = '''
import json, threading
from concurrent.futures import ThreadPoolExecutor
import callmonitor
from callmonitor import Settings, intercept

@intercept
def step(tid, i):
    return tid * 1000 + i

WORKERS = 4
everyone_declared = threading.Barrier(WORKERS)

def work(tid):
    Settings().enable_multi_threading(tid)   # as a 0.3 program does, in each worker
    everyone_declared.wait()                  # four distinct pool threads, all recording at once
    for i in range(100 * (tid + 1)):
        step(tid, i)
    return Settings().thread_id

for i in range(7):
    step(-1, i)                               # the main thread: the process's writer
with ThreadPoolExecutor(max_workers=WORKERS) as pool:
    ids = list(pool.map(work, range(WORKERS)))
step(-1, 7)
print(json.dumps({"ids": ids, "dir": callmonitor.output_directory(), "main": Settings().thread_id}))
'''


@pytest.mark.integration
def test_each_pool_worker_declaring_a_tid_records_into_its_own_writer(tmp_path, run_recorder):
    proc = check(run_recorder(POOL, tmp_path))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ids"] == [f"tid-{t}" for t in range(4)] and out["main"] is None
    with callmonitor.load(out["dir"]) as db:
        assert db.writers == ["main", "tid-0", "tid-1", "tid-2", "tid-3"]
        main = list(db.calls("step", writer="main"))
        assert [c.args for c in main] == [[-1, i] for i in range(8)]
        for tid in range(4):
            calls = list(db.calls("step", writer=f"tid-{tid}"))
            assert len(calls) == 100 * (tid + 1), tid
            assert [c.invocation for c in calls] == list(range(1, 100 * (tid + 1) + 1))
            assert [c.args for c in calls] == [[tid, i] for i in range(100 * (tid + 1))]
            assert len({c.thread for c in calls}) == 1
            assert db.get("step", 1, writer=f"tid-{tid}") == ([tid, 0], {})
            assert db.call("step", 100, writer=f"tid-{tid}").result == tid * 1000 + 99
        info = {w["id"]: w["calls"] for w in db.writer_info()}
        assert info == {"main": 8, "tid-0": 100, "tid-1": 200, "tid-2": 300, "tid-3": 400}


def test_a_declaration_after_the_threads_first_call_takes_effect_at_its_next_call(recorder, settings):
    def worker(_):
        record("before", 1)
        record("before", 2)
        Settings().enable_multi_threading(9)
        record("declared", 1)
        Settings().disable_multi_threading()
        record("after", 1)

    run_threads(1, worker)
    db = recorder.load()
    assert sorted(db.writers) == ["main", "tid-9"]
    assert [c.args[0] for c in db.calls("record", writer="main")] == ["before", "before", "after"]
    assert [c.args for c in db.calls("record", writer="tid-9")] == [["declared", 1]]
    assert db.get("record", 1, writer="tid-9") == (["declared", 1], {})


def test_the_main_threads_declaration_names_the_writer_of_undeclared_threads(recorder, settings):
    record("main", 1)                      # the process's writer: main
    settings.enable_multi_threading(5)     # from now on the process records into tid-5 ...
    record("main", 2)
    run_threads(2, lambda t: record("undeclared", t))
    run_threads(1, lambda t: (Settings().enable_multi_threading(6), record("own", t)))  # ... but its own
    db = recorder.load()
    assert sorted(db.writers) == ["main", "tid-5", "tid-6"]
    assert [c.args for c in db.calls("record", writer="main")] == [["main", 1]]
    assert sorted(tuple(c.args) for c in db.calls("record", writer="tid-5")) == \
        [("main", 2), ("undeclared", 0), ("undeclared", 1)]
    assert [c.args for c in db.calls("record", writer="tid-6")] == [["own", 0]]
    assert settings.thread_id == "tid-5" and settings.multi_threading


def test_two_threads_declaring_the_same_tid_share_its_writer(recorder, settings):
    run_threads(3, lambda t: (Settings().enable_multi_threading(2), [record("t", t * 10 + i) for i in range(10)]))
    db = recorder.load()
    assert db.writers == ["tid-2"]
    calls = list(db.calls("record", writer="tid-2"))
    assert sorted(c.args[1] for c in calls) == sorted(t * 10 + i for t in range(3) for i in range(10))
    assert [c.invocation for c in calls] == list(range(1, 31))


# -- settings changed after the first recorded call ---------------------------------------

def test_configure_after_the_first_call_warns_once_and_applies_to_writers_opened_later(recorder, settings):
    record("main", 1)
    with pytest.warns(callmonitor.LateSettingsWarning, match=r"result: takes effect for writers opened"):
        callmonitor.configure(result=False)
    callmonitor.configure(result=False, strict=False)  # once per run: no second warning (warnings are errors)
    record("main", 2)                                   # the open writer keeps its setting
    run_threads(1, lambda t: (Settings().enable_multi_threading(1), record("tid", 1)))  # a writer opened later
    db = recorder.load()
    assert [c.result for c in db.calls("record", writer="main")] == [1, 2]
    later = db.call("record", 1, writer="tid-1")
    assert later.args == ["tid", 1] and not later.result_recorded


def test_configure_output_after_the_first_call_says_it_applies_to_the_next_run(recorder, tmp_path):
    record("main", 1)
    run_dir = callmonitor.output_directory()
    with pytest.warns(callmonitor.LateSettingsWarning, match=r"output: takes effect for the next run") as seen:
        callmonitor.configure(output=str(tmp_path / "elsewhere"))
    assert run_dir in str(seen[0].message)
    record("main", 2)
    assert callmonitor.output_directory() == run_dir
    callmonitor.close()
    record("main", 3)
    assert callmonitor.output_directory().startswith(str(tmp_path / "elsewhere"))


def test_configure_before_the_first_call_or_unchanged_does_not_warn(recorder):
    callmonitor.configure(result=True)   # no session yet (warnings are errors here)
    record("main", 1)
    callmonitor.configure(result=True)   # nothing changes
    assert [c.result for c in recorder.load().calls("record")] == [1]


@intercept
def counted(n):
    yield from range(n)
    return "done"


def test_a_generator_begun_in_a_thread_that_ended_is_finished_by_another(recorder):
    # GIVEN a generator call begun in a thread that then ends (its lane is freed)
    started = {}

    def begin(_):
        g = counted(3)
        started["first"], started["gen"] = next(g), g

    run_threads(1, begin)
    assert _core._open_lanes() == 0
    # WHEN the main thread iterates it to its end
    assert list(started["gen"]) == [1, 2] and started["first"] == 0
    # THEN the call is complete: its outcome went to the entry's writer without the freed lane
    call = recorder.load().call("counted", 1)
    assert call.outcome == "returned" and call.result == "done" and call.yields == 3
