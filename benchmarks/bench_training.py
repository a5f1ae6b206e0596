"""Training benchmark: one step of the classic moons demo, micrograd 0.1.0 vs tinygrad_edu.

The step: an MLP 2-16-16-1 (relu hidden layers, linear output) scores 100 ``make_moons``
points (noise 0.1); the loss is the max-margin loss ``mean(relu(1 - y_i * score_i))``
with ``y_i`` in {-1, +1} plus ``1e-4 * sum(p * p)`` over the 337 parameters; then
``zero_grad``, ``backward`` and a plain SGD update ``p.data -= lr * p.grad``. The step is
written once, with ordinary Value arithmetic, and run by both libraries in this process
from identical weights (micrograd's, copied into ours in ``parameters()`` order). Our
MLP computes each neuron's weighted sum as one fused node; micrograd builds it from
separate multiplications and additions.

Checked first: the two losses, and the weights after the update, agree to 1e-9.

Timed: each library trains for ``--steps`` steps back to back from the same weights (so
both do the same work, step by step), as in a real training loop: a step's time
includes freeing earlier graphs whenever that happens. micrograd's nodes hold closures
that refer back to the node, so each step leaves reference cycles that only the cyclic
garbage collector frees; our nodes form no cycles and are freed as soon as the graph
is dropped. Reported: the median time per step and per phase (forward: the model and
the loss; backward: zero_grad and backward; update), the graph's size, cyclic-GC
collections per step, and the speed ratio. A second line times the steps with a
``gc.collect()`` before each one, outside the timer, which leaves that collection out.

Run: ``python benchmarks/bench_training.py`` (needs ``pip install micrograd==0.1.0``).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from bench_engine import GcCounter  # the engine benchmark's collection counter

from tinygrad_edu import datasets
from tinygrad_edu.nn import MLP

try:
    from micrograd.nn import MLP as MicrogradMLP  # noqa: N811
except ImportError:
    sys.exit("micrograd is not installed: pip install micrograd==0.1.0")

LEARNING_RATE = 0.05
ALPHA = 1e-4  # strength of the L2 penalty


def svm_loss(model, points: Sequence[list[float]], signs: Sequence[int]):
    """The forward pass: scores, mean max-margin loss and the L2 penalty."""
    scores = [model(x) for x in points]
    margins = [(1 + -y * score).relu() for y, score in zip(signs, scores)]
    data_loss = sum(margins) * (1.0 / len(margins))
    reg_loss = ALPHA * sum(p * p for p in model.parameters())
    return data_loss + reg_loss


def svm_step(model, points: Sequence[list[float]], signs: Sequence[int]) -> tuple[float, ...]:
    """One full-batch training step; returns the loss and the time of each phase."""
    start = time.perf_counter()
    total = svm_loss(model, points, signs)
    forward = time.perf_counter()
    model.zero_grad()
    total.backward()
    backward = time.perf_counter()
    for p in model.parameters():
        p.data -= LEARNING_RATE * p.grad
    update = time.perf_counter()
    return total.data, forward - start, backward - forward, update - backward


def count_nodes(root: object, parents: Callable[[object], Sequence]) -> int:
    seen = {id(root)}
    stack = [root]
    while stack:
        for parent in parents(stack.pop()):
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=9, help="timed steps per library")
    args = parser.parse_args()

    points, labels = datasets.make_moons(100, noise=0.1, seed=0)
    signs = [2 * label - 1 for label in labels]
    random.seed(1337)  # micrograd initialises from the global generator
    theirs = MicrogradMLP(2, [16, 16, 1])
    ours = MLP(2, [16, 16, 1], seed=0)
    start_weights = [float(p.data) for p in theirs.parameters()]
    assert len(start_weights) == ours.num_parameters() == 337

    def reset() -> None:
        for p, q, w in zip(theirs.parameters(), ours.parameters(), start_weights):
            p.data = q.data = w

    peers = {"micrograd 0.1.0": (theirs, "_prev"), "tinygrad_edu": (ours, "parents")}

    # Correctness: the same step from the same weights gives the same numbers.
    reset()
    nodes = {
        name: count_nodes(svm_loss(model, points, signs), lambda v, attr=attr: getattr(v, attr))
        for name, (model, attr) in peers.items()
    }
    (loss_a, *_), (loss_b, *_) = (svm_step(model, points, signs) for model, _ in peers.values())
    assert abs(loss_a - loss_b) <= 1e-9, (loss_a, loss_b)
    for p, q in zip(theirs.parameters(), ours.parameters()):
        assert abs(p.data - q.data) <= 1e-9, (p.data, q.data)
    print(f"loss of the first step: micrograd {loss_a!r}, tinygrad_edu {loss_b!r}")
    print("the losses and the updated weights agree to 1e-9")

    # Timing, as in a real loop: steps back to back from the same weights (both libraries
    # then do the same work step by step), with no forced collection, so a step's time
    # includes freeing earlier graphs whenever the garbage collector gets to them.
    loop = {
        name: time_steps(model, reset, points, signs, args.steps)
        for name, (model, _) in peers.items()
    }
    print(f"\none training step, median of {args.steps} (ms); MLP 2-16-16-1, 100 moons points")
    header = f"{'library':<17}{'step':>8}{'forward':>9}{'backward':>10}{'update':>8}"
    print(header + f"{'graph nodes':>13}{'gc gen0/1/2 per step':>23}")
    for name, (medians, collections) in loop.items():
        step, forward, backward, update = (1e3 * t for t in medians)
        gcs = "/".join(f"{count:.1f}" for count in collections)
        print(
            f"{name:<17}{step:>8.1f}{forward:>9.1f}{backward:>10.1f}{update:>8.2f}"
            f"{nodes[name]:>13,}{gcs:>23}"
        )
    ratio = loop["micrograd 0.1.0"][0][0] / loop["tinygrad_edu"][0][0]
    print(f"\ntinygrad_edu is {ratio:.1f}x faster per step (target: at least 20x)")

    # The same with gc.collect() before every step, outside the timer: this leaves out
    # collecting the reference cycles that micrograd's closures leave behind.
    collected = {
        name: time_steps(model, reset, points, signs, args.steps, collect_first=True)[0][0]
        for name, (model, _) in peers.items()
    }
    print(
        "with gc.collect() before each step (not timed): "
        + ", ".join(f"{name} {1e3 * t:.1f} ms" for name, t in collected.items())
        + f", {collected['micrograd 0.1.0'] / collected['tinygrad_edu']:.1f}x"
    )


def time_steps(
    model,
    reset: Callable[[], None],
    points: Sequence[list[float]],
    signs: Sequence[int],
    steps: int,
    collect_first: bool = False,
) -> tuple[list[float], list[float]]:
    """Median time of a step and of each phase, and GC collections per step, over ``steps``."""
    reset()
    gc.collect()
    rows = []
    counter = GcCounter()
    for _ in range(steps):
        if collect_first:
            gc.collect()
        with counter:
            start = time.perf_counter()
            _, *phases = svm_step(model, points, signs)
            rows.append((time.perf_counter() - start, *phases))
    medians = [statistics.median(column) for column in zip(*rows)]
    return medians, [count / steps for count in counter.counts]


if __name__ == "__main__":
    main()
