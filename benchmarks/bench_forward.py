"""Forward-mode benchmark: what a jvp costs, and when each mode wins.

1. A chain of 10,000 operations (``tanh(x * 1.01 + 0.5)`` repeated, plus a ``sin`` now and
   then), run three ways in this process:

   * an eager forward pass with Values (records the graph, as training does),
   * the same forward pass inside ``no_grad`` (numbers only, no graph),
   * ``jvp`` with plain numbers (dual numbers: the number and its tangent, no graph).

   Reported: median time per operation and the ratios jvp / eager and jvp / no_grad.
   The target is jvp within 3x of the eager forward pass.

2. The cost of a full derivative as the number of inputs ``n`` grows, both ways:

   * ``f: R^n -> R`` (a sum of terms): one backward pass gives the whole gradient,
     forward mode needs n jvps;
   * ``f: R -> R^n`` (n outputs of one input): one jvp gives the whole Jacobian column,
     reverse mode needs n backward passes.

Run: ``python benchmarks/bench_forward.py`` (``--quick`` for fewer repeats).
"""

from __future__ import annotations

import argparse

from timing import median_time  # the median of repeated runs, shared by the benchmarks

from tinygrad_edu import Value, jacobian, jvp, no_grad

CHAIN = 10_000


def chain(x: Value) -> Value:
    """CHAIN operations: three per step (mul, add, tanh), a sin every tenth step."""
    y = x
    ops = 0
    step = 0
    while ops < CHAIN:
        y = (y * 1.01 + 0.5).tanh()
        ops += 3
        step += 1
        if step % 10 == 0 and ops < CHAIN:
            y = y.sin()
            ops += 1
    return y


def eager() -> object:
    return chain(Value(0.3))


def numbers_only() -> object:
    with no_grad():
        return chain(Value(0.3))


def forward_mode() -> object:
    return jvp(chain, (0.3,), (1.0,))


def many_inputs(*xs: Value) -> Value:
    """R^n -> R: sum of tanh(x_i * x_{i+1})."""
    total = Value(0.0)
    for a, b in zip(xs, xs[1:] + xs[:1]):
        total = total + (a * b).tanh()
    return total


def many_outputs(x: Value, n: int) -> list[Value]:
    """R -> R^n: every step of a chain of n steps is an output."""
    outputs = []
    for _ in range(n):
        x = (x * 0.9 + 0.1).tanh()
        outputs.append(x)
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 5 if args.quick else 21

    # the three passes compute the same number
    assert forward_mode()[0] == eager().data == numbers_only().data

    print(f"1. a chain of {CHAIN:,} operations, median of {repeats} runs")
    results = {
        "eager forward (graph)": median_time(eager, repeats),
        "forward in no_grad": median_time(numbers_only, repeats),
        "jvp (dual numbers)": median_time(forward_mode, repeats),
    }
    for name, seconds in results.items():
        print(f"   {name:<24} {seconds * 1e3:8.2f} ms  {seconds / CHAIN * 1e6:6.3f} µs/op")
    jvp_time = results["jvp (dual numbers)"]
    print(f"   jvp / eager forward   = {jvp_time / results['eager forward (graph)']:.2f}x")
    print(f"   jvp / no_grad forward = {jvp_time / results['forward in no_grad']:.2f}x")

    print("\n2. a full derivative as the number of inputs or outputs n grows (ms)")
    print(f"   {'n':>4}  {'R^n->R: reverse':>16}  {'forward':>9}  {'R->R^n: reverse':>16}  "
          f"{'forward':>9}")  # fmt: skip
    cost_repeats = max(3, repeats // 4)
    for n in (2, 8, 32, 128):
        row = [seconds * 1e3 for seconds in full_derivative_times(n, cost_repeats)]
        print(f"   {n:>4}  {row[0]:>16.2f}  {row[1]:>9.2f}  {row[2]:>16.2f}  {row[3]:>9.2f}")


def full_derivative_times(n: int, repeats: int) -> list[float]:
    """Median seconds for the full Jacobian: R^n -> R both ways, then R -> R^n both ways."""
    point = [0.01 * (i + 1) for i in range(n)]
    everything = tuple(range(n))

    def outputs(x: Value) -> list[Value]:
        return many_outputs(x, n)

    return [
        median_time(lambda: jacobian(many_inputs, everything)(*point), repeats),
        median_time(lambda: jacobian(many_inputs, everything, mode="forward")(*point), repeats),
        median_time(lambda: jacobian(outputs)(0.5), repeats),
        median_time(lambda: jacobian(outputs, mode="forward")(0.5), repeats),
    ]


if __name__ == "__main__":
    main()
