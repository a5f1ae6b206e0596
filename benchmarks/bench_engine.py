"""Engine benchmark: build and backpropagate the same elementwise graph with three peers.

The graph: ``width`` independent chains, each step ``relu(x * 1.01 + 0.5) * x0``, summed at
the end — multiplications, additions and relus with plain-number constants, the bread and
butter of a scalar network. Every peer builds exactly the same computation in this process:

* tinygrad_edu
* micrograd 0.1.0 (``pip install micrograd==0.1.0``; it turns each constant into a node)
* PyTorch with 0-d float64 tensors (``pip install torch``)

Reported: median time per operation (forward + backward), peak memory per operation
(tracemalloc), cyclic-GC collections per run, the ratios to tinygrad_edu, the same timing
with the cyclic garbage collector paused (what the collector costs), and the time per node of a
chain of 250k, 500k and 1M nodes (linear time means a flat column).

Run: ``python benchmarks/bench_engine.py`` (``--quick`` for a smaller graph).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

from tinygrad_edu import Value

OPS_PER_STEP = 4  # mul, add, relu, mul


def build_and_backward(make: Callable[[float], object], width: int, depth: int) -> object:
    inputs = [make(0.01 * (i + 1)) for i in range(width)]
    chains = list(inputs)
    for _ in range(depth):
        chains = [(c * 1.01 + 0.5).relu() * x0 for c, x0 in zip(chains, inputs)]
    total = chains[0]
    for c in chains[1:]:
        total = total + c
    total.backward()
    return inputs[0]


def peers() -> dict[str, Callable[[float], object]]:
    found: dict[str, Callable[[float], object]] = {"tinygrad_edu": Value}
    try:
        from micrograd.engine import Value as MicrogradValue

        found["micrograd"] = MicrogradValue
    except ImportError:
        print("micrograd not installed: pip install micrograd==0.1.0", file=sys.stderr)
    try:
        import torch

        def tensor(x: float) -> object:
            return torch.tensor(x, dtype=torch.float64, requires_grad=True)

        found["pytorch 0-d"] = tensor
    except ImportError:
        print("torch not installed: its column is left out", file=sys.stderr)
    return found


class GcCounter:
    """Counts cyclic-GC collections (by generation) while active."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.counts[info["generation"]] += 1

    def __enter__(self) -> GcCounter:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)


def time_peer(
    make: Callable[[float], object], width: int, depth: int, repeats: int, collector: bool = True
):
    """Median seconds per run and GC collections per run; ``collector=False`` pauses the GC."""
    times = []
    with GcCounter() as collections:
        for _ in range(repeats):
            gc.collect()
            if not collector:
                gc.disable()
            try:
                start = time.perf_counter()
                build_and_backward(make, width, depth)
                times.append(time.perf_counter() - start)
            finally:
                gc.enable()
    return statistics.median(times), [c / repeats for c in collections.counts]


def peak_memory(make: Callable[[float], object], width: int, depth: int) -> int:
    gc.collect()
    tracemalloc.start()
    inputs = [make(0.01 * (i + 1)) for i in range(width)]
    chains = list(inputs)
    for _ in range(depth):
        chains = [(c * 1.01 + 0.5).relu() * x0 for c, x0 in zip(chains, inputs)]
    _, peak = tracemalloc.get_traced_memory()  # the whole graph is alive here
    tracemalloc.stop()
    del chains, inputs
    return peak


def chain_times(lengths: list[int]) -> list[tuple[int, float]]:
    rows = []
    for n in lengths:
        gc.collect()
        start = time.perf_counter()
        x = Value(0.5)
        y = x
        for _ in range(n):
            y = y + 1e-6
        y.backward()
        rows.append((n, time.perf_counter() - start))
        del x, y
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller graph, fewer repeats")
    args = parser.parse_args()
    width, depth, repeats = (50, 50, 3) if args.quick else (100, 200, 5)
    n_ops = width * depth * OPS_PER_STEP + width - 1
    print(f"graph: {width} chains x {depth} steps = {n_ops:,} operations; median of {repeats}\n")

    results = {}
    for name, make in peers().items():
        seconds, collections = time_peer(make, width, depth, repeats)
        paused, _ = time_peer(make, width, depth, repeats, collector=False)
        memory = peak_memory(make, width, depth // 4)
        per_op = memory / (width * (depth // 4) * OPS_PER_STEP)
        results[name] = (seconds, paused, per_op, collections)

    ours_time, ours_paused, ours_memory, _ = results["tinygrad_edu"]
    header = f"{'peer':<14}{'ns/op':>9}{'x slower':>10}{'bytes/op':>10}{'x memory':>10}"
    print(header + f"{'gc gen0/1/2 per run':>24}{'ns/op, gc paused':>18}{'x slower':>10}")
    for name, (seconds, paused, memory, collections) in results.items():
        gcs = "/".join(f"{c:.0f}" for c in collections)
        print(
            f"{name:<14}{seconds / n_ops * 1e9:>9.0f}{seconds / ours_time:>10.2f}"
            f"{memory:>10.0f}{memory / ours_memory:>10.2f}{gcs:>24}"
            f"{paused / n_ops * 1e9:>18.0f}{paused / ours_paused:>10.2f}"
        )

    print("\nchain of additions (linear time: a flat ns/node column)")
    lengths = [100_000, 200_000, 400_000] if args.quick else [250_000, 500_000, 1_000_000]
    for n, seconds in chain_times(lengths):
        print(f"{n:>10,} nodes {seconds:8.2f} s {seconds / n * 1e9:8.0f} ns/node")


if __name__ == "__main__":
    main()
