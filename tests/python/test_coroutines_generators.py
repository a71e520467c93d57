"""Calls that run after they return (issue 9, "right in every case"): an ``async def``
function's outcome is what the awaited call returned or raised, timed over the whole
await; a generator's is its return value or the exception raised while it was iterated,
with the number of items yielded (and the items with ``yields=True``); a generator closed
or dropped before its end is recorded as closed, never left pending. The wrappers are of
the same kind as the function for inspect and asyncio."""
import asyncio
import gc
import inspect
import sys

import numpy as np
import pytest

import callmonitor
from callmonitor import intercept
from callmonitor.cli.main import main as cli_main


@intercept
async def nap_then_double(x, seconds=0.05):
    await asyncio.sleep(seconds)
    return 2 * x


@intercept
async def nap_then_fail(x):
    await asyncio.sleep(0.01)
    raise ValueError(f"bad {x}")


@intercept
def count_to(n):
    for i in range(n):
        yield i
    return f"counted {n}"


@intercept
def fail_after(n):
    yield from range(n)
    raise KeyError("stopped")


@intercept(yields=True)
def arrays(n):
    for i in range(n):
        yield np.full(100, float(i))       # 800 bytes: a payload each
    return np.arange(200.0)                # the result's payload comes after them


@intercept
def echo():
    """A generator driven with send() and throw()."""
    got = yield "ready"
    while True:
        try:
            got = yield f"got {got}"
        except ValueError as e:
            got = yield f"caught {e}"


@intercept
async def ticks(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


@intercept(yields=True)
async def words():
    yield "a"
    yield "b"


def one(db, fn, n=1):
    return db.call(fn, n)


def test_wrappers_are_of_the_same_kind_as_the_functions():
    assert inspect.iscoroutinefunction(nap_then_double)
    assert asyncio.iscoroutinefunction(nap_then_double)
    assert inspect.isgeneratorfunction(count_to)
    assert inspect.isasyncgenfunction(ticks)
    assert not inspect.iscoroutinefunction(count_to)
    assert nap_then_double.__name__ == "nap_then_double"
    assert list(inspect.signature(nap_then_double).parameters) == ["x", "seconds"]
    assert intercept(count_to) is count_to          # not wrapped twice


def test_async_call_records_the_awaited_result_and_the_whole_await(recorder):
    assert asyncio.run(nap_then_double(21)) == 42
    call = one(recorder.load(), nap_then_double)
    assert call.outcome == "returned"
    assert call.result == 42
    assert call.args == [21]
    assert call.duration >= 0.045                   # the sleep is inside the call
    assert call.yields is None                      # a coroutine counts no items


def test_async_call_that_raises_records_the_exception(recorder):
    with pytest.raises(ValueError, match="bad 3"):
        asyncio.run(nap_then_fail(3))
    call = one(recorder.load(), nap_then_fail)
    assert call.outcome == "raised"
    assert call.exception.type == "ValueError" and call.exception.message == "bad 3"
    assert "nap_then_fail" in call.traceback


def test_concurrent_awaits_each_get_their_own_outcome(recorder):
    async def both():
        return await asyncio.gather(nap_then_double(1, 0.08), nap_then_double(2, 0.01))
    assert asyncio.run(both()) == [2, 4]
    db = recorder.load()
    calls = sorted(db.calls(nap_then_double), key=lambda c: c.args)
    assert [c.result for c in calls] == [2, 4]
    assert calls[0].duration >= 0.075 > calls[1].duration


def test_cancelled_await_is_recorded_as_raised_cancelled(recorder):
    async def cancel_it():
        task = asyncio.ensure_future(nap_then_double(5, 10))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(cancel_it())
    call = one(recorder.load(), nap_then_double)
    assert call.outcome == "raised" and call.exception.type.endswith("CancelledError")


def test_generator_records_its_return_value_and_item_count(recorder):
    assert list(count_to(3)) == [0, 1, 2]
    call = one(recorder.load(), count_to)
    assert call.outcome == "returned"
    assert call.result == "counted 3"
    assert call.yields == 3
    assert call.yielded is None                     # items only with yields=True


def test_generator_raising_while_iterated_records_the_exception_and_count(recorder):
    got = []
    with pytest.raises(KeyError):
        for i in fail_after(2):
            got.append(i)
    assert got == [0, 1]
    call = one(recorder.load(), fail_after)
    assert call.outcome == "raised" and call.exception.type == "KeyError"
    assert call.yields == 2


def test_yields_true_records_the_items_and_the_result_with_their_own_payloads(recorder):
    items = list(arrays(3))
    assert len(items) == 3
    call = one(recorder.load(), arrays)
    assert call.yields == 3
    assert len(call.yielded) == 3
    for i, item in enumerate(call.yielded):
        np.testing.assert_array_equal(item, np.full(100, float(i)))
    np.testing.assert_array_equal(call.result, np.arange(200.0))


def test_generator_closed_early_is_recorded_as_closed_after_n_items(recorder):
    for i in count_to(10):
        if i == 2:
            break                                   # the generator is dropped here: closed
    gc.collect()
    g = count_to(10)
    next(g)
    g.close()
    db = recorder.load()
    first, second = one(db, count_to, 1), one(db, count_to, 2)
    assert first.completed and first.outcome == "closed" and first.yields == 3
    assert second.outcome == "closed" and second.yields == 1
    assert "closed after 3 items" in repr(first)


def test_send_and_throw_reach_the_generator(recorder):
    g = echo()
    assert next(g) == "ready"
    assert g.send(1) == "got 1"
    assert g.throw(ValueError("boom")) == "caught boom"
    assert g.send(2) == "got 2"
    g.close()
    call = one(recorder.load(), echo)
    assert call.outcome == "closed" and call.yields == 4


def test_generator_never_iterated_records_nothing_and_runs_nothing(recorder):
    count_to(3)
    gc.collect()
    list(count_to(1))
    db = recorder.load()
    assert [c.yields for c in db.calls(count_to)] == [1]


def test_async_generator_records_its_items_and_end(recorder):
    async def consume():
        return [i async for i in ticks(3)], [w async for w in words()]
    assert asyncio.run(consume()) == ([0, 1, 2], ["a", "b"])
    db = recorder.load()
    t, w = one(db, ticks), one(db, words)
    assert t.outcome == "returned" and t.result is None and t.yields == 3 and t.yielded is None
    assert w.yields == 2 and w.yielded == ["a", "b"]


def test_async_generator_closed_early_is_recorded_as_closed(recorder):
    async def first_only():
        agen = ticks(5)
        async for i in agen:
            break
        await agen.aclose()
    asyncio.run(first_only())
    call = one(recorder.load(), ticks)
    assert call.outcome == "closed" and call.yields == 1


def test_call_site_is_the_users_line_not_the_wrapper(recorder):
    list(count_to(1)); line = sys._getframe().f_lineno   # noqa: E702
    call = one(recorder.load(), count_to)
    assert call.site.file == __file__ and call.site.line == line


def test_show_displays_items_yielded(recorder, capsys):
    list(arrays(2))
    for _ in count_to(4):
        break
    recorder.load()
    run_dir = str(callmonitor.output_directory())
    assert cli_main(["show", run_dir, "arrays", "1"]) in (0, None)
    out = capsys.readouterr().out
    assert "yielded   2 items" in out and "[1]" in out
    assert cli_main(["show", run_dir, "count_to", "1"]) in (0, None)
    assert "closed after 1 item," in capsys.readouterr().out


@intercept(yields=True)
def up_to(n):
    yield from range(n)


@intercept(yields=True)
async def async_up_to(n):
    for i in range(n):
        yield i


def test_yields_true_reads_zero_items_as_an_empty_list_not_as_not_recorded(recorder):
    # GIVEN generators recorded with yields=True that yield nothing, or are closed early,
    # WHEN read back THEN `yielded` is the list of items ([] for none); None stays
    # "items not recorded" (yields=False).
    assert list(up_to(0)) == []
    g = up_to(5)
    next(g)
    g.close()                                       # closed after one item
    g = up_to(5)
    next(g)
    del g                                           # collected after one item
    gc.collect()

    async def consume():
        empty = [i async for i in async_up_to(0)]
        agen = async_up_to(3)
        async for _ in agen:
            break
        await agen.aclose()
        return empty
    assert asyncio.run(consume()) == []
    list(count_to(0))                               # yields=False: not recorded
    db = recorder.load()
    calls = list(db.calls(up_to))
    assert [(c.yields, c.yielded) for c in calls] == [(0, []), (1, [0]), (1, [0])]
    assert [(c.outcome, c.yields, c.yielded) for c in db.calls(async_up_to)] == [
        ("returned", 0, []), ("closed", 1, [0])]
    plain = one(db, count_to)
    assert plain.yields == 0 and plain.yielded is None


@intercept
def total(xs):
    yield sum(xs)


def test_a_generator_records_the_inputs_its_body_ran_with_at_its_first_item(recorder):
    # GIVEN a generator created, its argument changed, then iterated (capture happens
    # when the body starts: docs/python-api.md) THEN the recorded input is what the body
    # summed, so a replay runs what ran; a generator never iterated is not counted.
    xs = [1]
    g = total(xs)
    xs.append(2)
    assert list(g) == [3]
    total([5])                                      # never iterated: not a call
    gc.collect()
    db = recorder.load()
    [f] = [f for f in db.functions if f.name == "total"]
    assert (f.calls, f.seen) == (1, 1)
    assert one(db, total).args == [[1, 2]] and one(db, total).result is None
    assert db.replay(total, 1).passed
