"""Recording and reading the same database in one process (notebooks, tests):
LMDB allows one environment per process and file, so the reader shares the
writer's. It must see new calls, survive the map growing, and never deadlock."""
import numpy as np

import callmonitor
from callmonitor import REGISTRY, intercept


@intercept
def record_block(i, block):
    return None


def test_reader_sees_each_flush_while_the_map_grows(recorder):
    # GIVEN a tiny initial map (64 KiB) and a database opened while recording goes on
    callmonitor.close()
    callmonitor.configure(output=str(recorder.base), map_size=1 << 16)
    record_block(0, np.zeros(16))
    db = recorder.load()
    # WHEN 4 MB of arrays are recorded, flushed and read back one by one
    for i in range(1, 129):
        record_block(i, np.full(4096, float(i)))
        assert callmonitor.flush()
        args, _ = db.get(record_block, -1)
        # THEN every flushed call is readable at once, with its exact array
        assert args[0] == i and args[1].shape == (4096,) and args[1][0] == float(i)
    assert db.functions[0].calls == 129
    assert recorder.load().sizes["file_bytes"] > 4 * 1024 * 1024


class Loud:
    def __init__(self, v):
        self.v = v


class LoudHandler:
    """A handler whose decode runs intercepted (recorded) code while the caller reads."""

    def encode(self, obj):
        return str(obj.v).encode()

    def decode(self, data):
        for i in range(50):
            record_block(-1, np.zeros(1024))   # recorded while the reader decodes
        callmonitor.flush()
        return Loud(int(bytes(data)))


def test_decoding_that_records_and_flushes_does_not_deadlock(recorder):
    callmonitor.close()
    callmonitor.configure(output=str(recorder.base), map_size=1 << 16)
    REGISTRY.add(Loud, LoudHandler)
    try:
        record_block(1, Loud(7))
        db = recorder.load()
        for _ in range(5):
            assert db.get(record_block, 1)[0][1].v == 7
        assert db.functions[0].calls == 1 + 5 * 50
    finally:
        REGISTRY.remove(Loud)


def test_two_databases_on_one_run_directory(recorder):
    record_block(1, np.arange(3))
    a = recorder.load()
    b = callmonitor.load(callmonitor.output_directory())
    record_block(2, np.arange(4))
    assert callmonitor.flush()
    assert a.get(record_block, 2)[0][1].tolist() == [0, 1, 2, 3]
    b.close()
    assert a.get(record_block, 1)[0][1].tolist() == [0, 1, 2]
