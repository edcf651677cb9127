"""Work shared between forked processes, without module state.

:func:`map_forked` runs ``fn(item)`` for each item in ``workers`` processes forked from this
one: the function and the items (and whatever they reference, e.g. a whole synthetic world)
reach the workers by the fork itself, never pickled and never parked in a module variable.
Workers take the next item as they finish one (largest-first ordering is the caller's), and
only the results travel back, pickled. A worker's exception is raised in the parent with
its traceback text. ``setup`` makes a resource once per process (a DuckDB connection costs
about 25 ms to open: once per process, not once per item) that every call receives.

Examples
--------
>>> map_forked(lambda x: x * x, [1, 2, 3], workers=2)
[1, 4, 9]
>>> map_forked(lambda base, x: base + x, [1, 2, 3], workers=2, setup=lambda: 10)
[11, 12, 13]
"""

from __future__ import annotations

import gc
import queue
import traceback
from collections.abc import Callable, Sequence
from typing import Any


class WorkerError(RuntimeError):
    """An exception in a worker process (the message holds its traceback)."""


def map_forked(
    fn: Callable[..., Any],
    items: Sequence,
    workers: int = 2,
    *,
    setup: Callable[[], Any] | None = None,
) -> list:
    """``[fn(x) for x in items]``, computed in up to ``workers`` forked processes (in this
    process when there is one worker or one item). Results come back in the items' order.
    With ``setup``, each process calls it once and every call is ``fn(resource, x)``; a
    resource with a ``close`` method is closed when the process has no more items."""
    items = list(items)
    n = max(1, min(workers, len(items)))
    if n == 1:
        return _serve(fn, setup, lambda: list(enumerate(items)), None)
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    tasks, results = ctx.Queue(), ctx.Queue()
    for i in range(len(items)):
        tasks.put(i)
    for _ in range(n):
        tasks.put(None)
    procs = [ctx.Process(target=_work, args=(fn, setup, items, tasks, results)) for _ in range(n)]
    # What is garbage now is collected here, and what the children inherit is frozen: a
    # child's collector must never run the finaliser of an inherited object (a DuckDB
    # connection of the parent's, say), which crashed a worker now and then.
    gc.collect()
    gc.freeze()
    try:
        for p in procs:
            p.start()
    finally:
        gc.unfreeze()
    out: dict[int, Any] = {}
    error = None
    try:
        while len(out) < len(items) and error is None:
            try:
                i, ok, value = results.get(timeout=0.5)
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead or all(p.exitcode is not None for p in procs):
                    # A second look: a result may have come in as the worker ended.
                    try:
                        i, ok, value = results.get(timeout=1)
                    except queue.Empty:
                        error = f"a worker process ended without its results (exit codes {dead})"
                        continue
                else:
                    continue
            if ok:
                out[i] = value
            else:
                error = value
    finally:
        if error is not None or len(out) < len(items):
            for p in procs:
                p.terminate()
        for p in procs:
            p.join()
    if error is not None:
        raise WorkerError(error)
    return [out[i] for i in range(len(items))]


def _serve(fn, setup, work, report) -> list | None:
    """Call ``fn`` on each (index, item) of ``work()`` with the process's resource, if any;
    ``report`` (in a worker) sends each result, else they are returned."""
    resource = setup() if setup is not None else None
    call = fn if setup is None else (lambda x: fn(resource, x))
    try:
        if report is None:
            return [call(x) for _, x in work()]
        for i, x in work():
            try:
                report((i, True, call(x)))
            except BaseException:
                report((i, False, traceback.format_exc()))
                return None
        return None
    finally:
        if hasattr(resource, "close"):
            resource.close()


def _work(fn, setup, items, tasks, results) -> None:
    def work():
        while (i := tasks.get()) is not None:
            yield i, items[i]

    try:
        _serve(fn, setup, work, results.put)
    except BaseException:  # the setup failed
        results.put((-1, False, traceback.format_exc()))
