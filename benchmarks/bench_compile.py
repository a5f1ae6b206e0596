"""Compiled programs vs the eager graph: the demo's training step and a long elementwise chain.

1. The full-batch step of the classic demo (as in ``bench_training.py``: MLP 2-16-16-1,
   100 moons points, hinge loss + L2), forward and backward from identical weights:
   tinygrad_edu eager (``zero_grad``, loss, ``backward()``), the same step traced once
   with ``tinygrad_edu.trace`` and run as a program, the call a user makes,
   ``model.zero_grad()`` then ``step()`` with ``step = tg.compile(demo_loss)`` (traced on
   its first call), and micrograd 0.1.0. Checked first: both compiled forms and eager
   agree bit for bit (loss and all 337 gradients), micrograd to 1e-9.
2. A chain of 10,000 elementwise operations (``v * a``, ``+ b``, ``relu``, repeated),
   forward and backward, eager vs compiled, per operation.

Both also run as C (``backend="c"``, when a C compiler is found): checked bit-identical
to the Python program, timed per call, with the build time cold (an empty cache) and
cached, and the size of the library.

Reported: medians, ratios, the time to trace and compile each program (median of a few
runs), and its memory (tracemalloc: what the program keeps, and the peak while
building it).

Run: ``python benchmarks/bench_compile.py`` (needs ``pip install micrograd==0.1.0``).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable

from bench_training import svm_loss  # the demo's forward pass, written once for both
from timing import median_time  # the median of repeated runs, shared by the benchmarks

import tinygrad_edu as tg
from tinygrad_edu import Value, datasets, program_c
from tinygrad_edu.nn import MLP

try:
    from micrograd.nn import MLP as MicrogradMLP  # noqa: N811
except ImportError:
    sys.exit("micrograd is not installed: pip install micrograd==0.1.0")

CHAIN_LENGTH = 10_000


def build(make_program: Callable[[], tg.Program], repeats: int = 3) -> tuple[tg.Program, str]:
    """The program, and a line with its trace+compile time and its memory."""
    build_time = median_time(make_program, repeats)
    start = time.process_time()  # CPU time: what a busy machine does not inflate
    make_program()
    build_cpu = time.process_time() - start
    gc.collect()
    tracemalloc.start()
    program = make_program()
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    line = (
        f"  {program!r}\n  trace + compile {build_time:.2f} s (median of {repeats}; "
        f"{build_cpu:.2f} s of CPU time); memory kept "
        f"{kept / 1e6:.1f} MB ({kept / len(program):.0f} B per operation), peak while "
        f"building {peak / 1e6:.1f} MB"
    )
    return program, line


def in_c(
    trace_it: Callable[[], tg.Program],
    run: Callable[[tg.Program], object],
    python_time: float,
    repeats: int,
    n_operations: int,
) -> tg.Program | None:
    """The same program in C: its build (cold, then cached), size, speed, equality."""
    try:
        start = time.perf_counter()
        program = trace_it()
    except program_c.CompilerNotFoundError as error:
        print(f"  C backend: skipped ({error})")
        return None
    cold = time.perf_counter() - start
    cached = median_time(trace_it, 3)
    size = program_c.library_path(program.c_source).stat().st_size
    # Many calls a sample, as a training loop makes them: a single call of a few
    # microseconds after median_time's garbage collection would time a cold cache.
    start = time.perf_counter()
    run(program)
    calls = max(1, int(0.005 / max(time.perf_counter() - start, 1e-7)))
    c_time = median_time(lambda: [run(program) for _ in range(calls)], repeats) / calls
    print(
        f"  C program: trace + build {cold:.2f} s cold, {cached:.2f} s cached; "
        f"library {size / 1e6:.2f} MB"
    )
    print(f"  tinygrad_edu C program {1e9 * c_time / n_operations:>9.2f} ns per operation, "
          f"{python_time / c_time:.1f}x the Python program")  # fmt: skip
    return program


def alternated(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The median seconds of each run, the runs taking turns call by call, so that a
    shared machine's changing load falls on all alike (after one untimed call of each)."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def demo_step(repeats: int) -> None:
    points, labels = datasets.make_moons(100, noise=0.1, seed=0)
    signs = [2 * label - 1 for label in labels]
    random.seed(1337)  # micrograd initialises from the global generator
    theirs = MicrogradMLP(2, [16, 16, 1])
    ours = MLP(2, [16, 16, 1], seed=0)
    for p, q in zip(theirs.parameters(), ours.parameters()):
        q.data = p.data

    def eager() -> float:
        ours.zero_grad()
        loss = svm_loss(ours, points, signs)
        loss.backward()
        return loss.data

    def micrograd() -> float:
        theirs.zero_grad()
        loss = svm_loss(theirs, points, signs)
        loss.backward()
        return loss.data

    print("1. the demo's full-batch step, forward + backward (MLP 2-16-16-1, 100 points)")
    program, built = build(lambda: tg.trace(lambda: svm_loss(ours, points, signs)))

    def compiled() -> float:
        ours.zero_grad()
        return program()[0]

    def demo_loss() -> Value:
        return svm_loss(ours, points, signs)

    step = tg.compile(demo_loss)

    def through_compile() -> float:
        ours.zero_grad()
        return step()[0]

    loss_eager = eager()
    grads_eager = [p.grad.hex() for p in ours.parameters()]
    for run in (compiled, through_compile):
        loss_compiled = run()
        grads_compiled = [p.grad.hex() for p in ours.parameters()]
        assert loss_compiled.hex() == loss_eager.hex() and grads_compiled == grads_eager
    loss_micrograd = micrograd()
    assert abs(loss_micrograd - loss_eager) <= 1e-9
    for p, q in zip(theirs.parameters(), ours.parameters()):
        assert abs(p.grad - q.grad) <= 1e-9, (p.grad, q.grad)
    print(
        "  compiled (trace and tg.compile) and eager: loss and 337 gradients bit-identical; "
        "micrograd within 1e-9"
    )
    print(built)
    times = alternated(
        {
            "tinygrad_edu eager": eager,
            "tinygrad_edu program": compiled,
            "tg.compile, zero_grad": through_compile,
        },
        repeats,
    )
    times["micrograd 0.1.0"] = median_time(micrograd, max(3, repeats // 3))
    for name, seconds in times.items():
        print(f"  {name:<24}{1e3 * seconds:>9.2f} ms")
    eager_time = times["tinygrad_edu eager"]
    speedup = eager_time / times["tinygrad_edu program"]
    user_speedup = eager_time / times["tg.compile, zero_grad"]
    over_micrograd = times["micrograd 0.1.0"] / times["tg.compile, zero_grad"]
    print(f"  the program is {speedup:.1f}x faster than eager; the call a user makes, "
          f"model.zero_grad() and tg.compile's step(), {user_speedup:.1f}x (target: >= 12x), "
          f"{over_micrograd:.0f}x faster than micrograd")  # fmt: skip

    def in_c_run(c_program: tg.Program) -> float:
        ours.zero_grad()
        return c_program()[0]

    c_program = in_c(lambda: tg.trace(lambda: svm_loss(ours, points, signs), backend="c"),
                     in_c_run, times["tinygrad_edu program"], repeats, len(program))  # fmt: skip
    if c_program is not None:
        c_loss = in_c_run(c_program)
        assert c_loss == loss_eager and [p.grad.hex() for p in ours.parameters()] == grads_eager
        print("  C program and eager: loss and 337 gradients bit-identical (target: >= 10x)")


def chain(x: Value, a: Value, b: Value) -> Value:
    """CHAIN_LENGTH elementwise operations: (v * a + b).relu(), over and over."""
    v = x
    for _ in range(CHAIN_LENGTH // 3):
        v = (v * a + b).relu()
    return v * a


def elementwise_chain(repeats: int) -> None:
    print(f"\n2. a chain of {CHAIN_LENGTH:,} elementwise operations (* + relu), forward + backward")
    args = (0.5, 0.9, 0.1)

    def eager() -> tuple:
        inputs = [Value(v) for v in args]
        out = chain(*inputs)
        out.backward()
        return out.data, tuple(v.grad for v in inputs)

    program, built = build(lambda: tg.trace(chain, *args))
    value, grads = eager()
    compiled_value, compiled_grads = program(*args)
    assert (compiled_value, compiled_grads) == (value, grads)
    print("  compiled and eager: value and gradients bit-identical")
    print(built)
    eager_time = median_time(eager, repeats)
    compiled_time = median_time(lambda: program(*args), repeats)
    n = len(program)
    print(f"  tinygrad_edu eager      {1e9 * eager_time / n:>8.1f} ns per operation")
    print(f"  tinygrad_edu compiled   {1e9 * compiled_time / n:>8.1f} ns per operation")
    print(f"  compiled is {eager_time / compiled_time:.1f}x faster per operation (target: >= 6x)")
    c_program = in_c(lambda: tg.trace(chain, *args, backend="c"), lambda p: p(*args),
                     compiled_time, repeats, n)  # fmt: skip
    if c_program is not None:
        assert c_program(*args) == (value, grads)
        print("  C program and eager: value and gradients bit-identical (target: >= 20x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per peer")
    args = parser.parse_args()
    # an empty cache of its own, so that the first C build is a cold one
    os.environ["TINYGRAD_EDU_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_compile_")
    demo_step(args.repeats)
    elementwise_chain(args.repeats)


if __name__ == "__main__":
    main()
