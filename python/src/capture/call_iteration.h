// The capture step's front end for calls that run after they return: a
// coroutine function's coroutine, a generator function's generator, an async
// generator function's async generator. intercept.py wraps such a function in
// a Python `async def` / generator function (so inspect and asyncio see what
// it is); the wrapper's body, when it starts running, calls
// `_core.begin_call(interceptor, args, kwargs, kind)`, which begins the call
// (capture step), calls the function and returns a CallInProgress that
// delegates to what it returned:
//
//     coroutine:        return await _core.begin_call(core, args, kwargs, 0)
//     generator:        return (yield from _core.begin_call(core, args, kwargs, 1))
//     async generator:  a loop calling call._yielded / _returned / _raised / _closed
//
// The outcome is what the coroutine returned or raised (duration: the whole
// await), or the generator's return value or the exception raised while it
// was iterated, with the number of items yielded (outcome ext Yields) and,
// with @intercept(yields=True), the items (Yielded fields). A generator
// closed (or garbage-collected) before its end gets outcome NotRecorded with
// Closed = 1; a CallInProgress freed unfinished, Closed = 2.
#pragma once

#include <Python.h>

namespace callmonitor::py {

int addCallIterationTypes(PyObject* module);

}  // namespace callmonitor::py
