"""Work shared between forked processes, without module state.

:func:`map_forked` runs ``fn(item)`` for each item in ``workers`` processes forked from this
one: the function and the items (and whatever they reference, e.g. a whole synthetic world)
reach the workers by the fork itself, never pickled and never parked in a module variable.
Workers take the next item as they finish one (largest-first ordering is the caller's), and
only the results travel back, pickled. A worker's exception is raised in the parent with
its traceback text.

Examples
--------
>>> map_forked(lambda x: x * x, [1, 2, 3], workers=2)
[1, 4, 9]
"""

from __future__ import annotations

import queue
import traceback
from collections.abc import Callable, Sequence
from typing import Any


class WorkerError(RuntimeError):
    """An exception in a worker process (the message holds its traceback)."""


def map_forked(fn: Callable[[Any], Any], items: Sequence, workers: int = 2) -> list:
    """``[fn(x) for x in items]``, computed in up to ``workers`` forked processes (in this
    process when there is one worker or one item). Results come back in the items' order."""
    items = list(items)
    n = max(1, min(workers, len(items)))
    if n == 1:
        return [fn(x) for x in items]
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    tasks, results = ctx.Queue(), ctx.Queue()
    for i in range(len(items)):
        tasks.put(i)
    for _ in range(n):
        tasks.put(None)
    procs = [ctx.Process(target=_work, args=(fn, items, tasks, results)) for _ in range(n)]
    for p in procs:
        p.start()
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


def _work(fn, items, tasks, results) -> None:
    while (i := tasks.get()) is not None:
        try:
            results.put((i, True, fn(items[i])))
        except BaseException:
            results.put((i, False, traceback.format_exc()))
            return
