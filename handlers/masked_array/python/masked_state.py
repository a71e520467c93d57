"""numpy masked arrays as built-in values (handlers/python_state_handler.h).

Compiled into callmonitor's extension; the C++ side calls takes/state/restore.

kind "numpy.ma.MaskedArray", state::

    {"data": ndarray,            # the values under the mask, native Array (a payload when large)
     "mask": ndarray | False,    # bool array of the data's shape, or False for numpy.ma.nomask
     "fill_value": 0-d ndarray | None,  # None: numpy's default for the dtype (never set)
     "hard_mask": bool}

kind "numpy.ma.masked": the numpy.ma.masked constant, state None.
The dtype is the data's. Arrays whose data numpy cannot store natively
(object, structured dtypes) are declined: pickle keeps them, as before.
"""


def _plain(dtype):
    return dtype.kind in "biufcmMSU" and dtype.fields is None and dtype.subdtype is None


def takes(cls):
    import numpy.ma
    return cls is numpy.ma.MaskedArray or cls is numpy.ma.core.MaskedConstant


def state(obj):
    import numpy
    import numpy.ma
    if obj is numpy.ma.masked:
        return ("numpy.ma.masked", None)
    data = numpy.ma.getdata(obj)
    if type(data) is not numpy.ndarray or not _plain(data.dtype):
        return None
    mask = obj._mask  # numpy.ma.getmask gives the same object; nomask is the False scalar
    if mask is numpy.ma.nomask:
        mask = False
    elif type(mask) is not numpy.ndarray or mask.dtype != numpy.bool_:
        return None  # a structured mask: not ours
    fill = getattr(obj, "_fill_value", None)
    return ("numpy.ma.MaskedArray", {
        "data": data,
        "mask": mask,
        "fill_value": None if fill is None else numpy.asarray(obj.fill_value),  # 0-d: its dtype kept
        "hard_mask": bool(obj.hardmask),
    })


def restore(kind, state):
    import numpy
    import numpy.ma
    if kind == "numpy.ma.masked":
        return numpy.ma.masked
    if kind != "numpy.ma.MaskedArray":
        raise ValueError(f"unknown masked array kind {kind!r}")
    data = state["data"]
    mask = state["mask"]
    out = numpy.ma.MaskedArray(data, mask=numpy.ma.nomask if mask is False else mask,
                               dtype=data.dtype, copy=False, hard_mask=state["hard_mask"])
    if state["fill_value"] is not None:
        out.fill_value = state["fill_value"]
    return out
