"""Random expression graphs against PyTorch float64: values, gradients, second derivatives.

Hypothesis draws a small program: three inputs, then a dozen steps, each applying one
operation of the op table to earlier results (so results are reused, as in real graphs).
The same program runs on our Values and on PyTorch tensors, and everything must agree to
1e-9. A program that leaves an op's domain must fail the same way in both: our engine
raises, and PyTorch's result is then not finite (or the operand is outside the domain).
"""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value, grad

# name -> (ours on Values, PyTorch on tensors); unary ops take one earlier result
UNARY = {
    "tanh": (lambda a: a.tanh(), lambda a: a.tanh()),
    "sigmoid": (lambda a: a.sigmoid(), lambda a: a.sigmoid()),
    "sin": (lambda a: a.sin(), lambda a: a.sin()),
    "cos": (lambda a: a.cos(), lambda a: a.cos()),
    "exp": (lambda a: a.exp(), lambda a: a.exp()),
    "relu": (lambda a: a.relu(), lambda a: a.relu()),
    "abs": (lambda a: abs(a), lambda a: a.abs()),
    "neg": (lambda a: -a, lambda a: -a),
    "log": (lambda a: a.log(), lambda a: a.log()),
    "sqrt": (lambda a: a.sqrt(), lambda a: a.sqrt()),
    "square": (lambda a: a**2, lambda a: a**2),
    "add_c": (lambda a: a + 1.5, lambda a: a + 1.5),
    "rsub_c": (lambda a: 0.5 - a, lambda a: 0.5 - a),
    "rdiv_c": (lambda a: 2.0 / a, lambda a: 2.0 / a),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
}
STEPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 99)),
        st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 99), st.integers(0, 99)),
    ),
    min_size=1,
    max_size=12,
)
INPUTS = st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=3, max_size=3)
DOMAIN_ERRORS = (ValueError, ZeroDivisionError, OverflowError)


def run(program, inputs, table_column: int):
    """Apply the program to ``inputs`` (our Values or tensors); returns the sum of results."""
    results = list(inputs)
    for name, *picks in program:
        ops = UNARY if name in UNARY else BINARY
        operands = [results[i % len(results)] for i in picks]
        results.append(ops[name][table_column](*operands))
    total = results[3]
    for r in results[4:]:
        total = total + r
    return total


def torch_reference(torch, program, point):
    xs = [torch.tensor(x, requires_grad=True) for x in point]
    out = run(program, xs, 1)
    grads = torch.autograd.grad(out, xs, allow_unused=True)
    return out, [0.0 if g is None else g.item() for g in grads]


def close(a: float, b: float, scale: float = 1.0) -> bool:
    """Equal to 1e-9, relative to the numbers and to ``scale``, the largest term summed."""
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * scale)


def absolute_gradients(root: Value) -> dict[Value, float]:
    """The chain rule on magnitudes: the sum over paths of the product of ``|local_grad|``.

    Rounding in a sum of chain-rule terms is relative to the terms, not to the total, and
    it is carried along every path, so two correct engines that add in different orders may
    differ by about 1e-16 of this (``1 + 1e-121 - 1`` is 0 in one order, 1e-121 in another).
    """
    magnitude = {root: 1.0}
    for node in reversed(root.topological_order()):
        for parent, local_grad in zip(node.parents, node.local_grads):
            term = abs(local_grad) * magnitude.get(node, 0.0)
            magnitude[parent] = magnitude.get(parent, 0.0) + term
    return magnitude


@settings(max_examples=200)
@given(program=STEPS, point=INPUTS)
def test_random_graphs_agree_with_pytorch(program, point, torch) -> None:
    xs = [Value(x) for x in point]
    try:
        out = run(program, xs, 0)
    except DOMAIN_ERRORS:
        with torch.no_grad():
            reference = run(program, [torch.tensor(x) for x in point], 1)
        assert not math.isfinite(reference.item()) or _leaves_domain(program, point)
        return
    out.backward()
    reference, reference_grads = torch_reference(torch, program, point)
    assert close(out.data, reference.item())
    magnitudes = absolute_gradients(out)
    for x, theirs in zip(xs, reference_grads):
        assume(math.isfinite(theirs))  # inf/nan slopes at kinks: compared op by op elsewhere
        assert close(x.grad, theirs, 1.0 + magnitudes.get(x, 0.0)), (x.grad, theirs)


def _leaves_domain(program, point) -> bool:
    """True when some step's operand is outside its op's domain (checked in float maths)."""
    results = list(point)
    for name, *picks in program:
        operands = [results[i % len(results)] for i in picks]
        if (name == "log" and operands[0] <= 0) or (name == "sqrt" and operands[0] < 0):
            return True
        if (name == "div" and operands[1] == 0) or (name == "rdiv_c" and operands[0] == 0):
            return True
        try:
            results.append(run([(name, *range(len(picks)))], [*operands, 0.0, 0.0], 0).data)
        except DOMAIN_ERRORS:
            return True
    return False


@settings(max_examples=60)
@given(program=STEPS, x=st.floats(-2.0, 2.0, allow_nan=False))
def test_random_second_derivatives_agree_with_pytorch(program, x, torch) -> None:
    f = lambda v: run(program, [v, v * 0.5, v + 1.0], 0)  # noqa: E731
    try:
        ours = grad(grad(f))(x)
        first = f(Value(x))
        first.backward()
    except DOMAIN_ERRORS:
        return  # the first-order test checks that domain errors are real
    largest = max(absolute_gradients(first).values())
    assume(largest < 1e6)  # past that, rounding dominates
    t = torch.tensor(x, requires_grad=True)
    out = run(program, [t, t * 0.5, t + 1.0], 1)
    (d1,) = torch.autograd.grad(out, t, create_graph=True)
    d2 = torch.autograd.grad(d1, t)[0].item() if d1.requires_grad else 0.0
    assume(math.isfinite(d2))
    ours = ours.item() if isinstance(ours, Value) else ours
    # Second-order terms are products of two first-order paths, so rounding is relative to
    # the square of the largest (u/u near u = 0 cancels terms of 1e10 down to 0).
    scale = max(1.0, largest) ** 2
    assert close(ours, d2, scale) or math.isclose(ours, d2, rel_tol=1e-7, abs_tol=1e-7), (ours, d2)
