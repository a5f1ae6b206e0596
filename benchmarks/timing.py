"""The timing every benchmark here shares: the median of repeated runs, in one process."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable


def median_time(run: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``run()`` over ``repeats`` calls.

    One untimed call first (imports, caches, the WebAssembly module), and a garbage
    collection before each timed call, so one call's garbage is not charged to the next.
    """
    run()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
