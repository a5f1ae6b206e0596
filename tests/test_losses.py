"""Losses against torch.nn.functional in float64: values and gradients, stability, errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value, losses

# Ordinary logits, exact zeros (kinks) and logits of +-500, far beyond where exp overflows.
logit = st.one_of(st.floats(-30.0, 30.0, allow_nan=False), st.sampled_from([0.0, 500.0, -500.0]))


def close(ours: float, reference: float) -> bool:
    """Equal to 1e-9, relative for large numbers and absolute near zero."""
    return math.isfinite(ours) and abs(ours - reference) <= 1e-9 * max(1.0, abs(reference))


def assert_matches(torch, loss: Value, leaves: list[Value], reference, tensor) -> None:
    """Our loss and d loss / d leaves equal PyTorch's (``reference`` from the leaf ``tensor``)."""
    loss.backward()
    reference.backward()
    assert close(loss.data, reference.item()), (loss.data, reference.item())
    for ours, theirs in zip([v.grad for v in leaves], tensor.grad.flatten().tolist()):
        assert close(ours, theirs), (ours, theirs)


def leaves_and_tensor(torch, numbers: list[float]):
    return [Value(x) for x in numbers], torch.tensor(numbers, requires_grad=True)


# ------------------------------------------------------------------ against PyTorch


@given(pairs=st.lists(st.tuples(logit, logit), min_size=1, max_size=6))
def test_mse_loss_matches_pytorch(torch, pairs) -> None:
    preds, targets = [p for p, _ in pairs], [t for _, t in pairs]
    leaves, tensor = leaves_and_tensor(torch, preds)
    reference = torch.nn.functional.mse_loss(tensor, torch.tensor(targets))
    assert_matches(torch, losses.mse_loss(leaves, targets), leaves, reference, tensor)


@given(
    pairs=st.lists(st.tuples(logit, st.sampled_from([-1, 1])), min_size=1, max_size=6),
    zero_one=st.booleans(),
)
def test_hinge_loss_matches_pytorch(torch, pairs, zero_one: bool) -> None:
    """Labels -1/+1, or the same labels written 0/1."""
    scores, signs = [s for s, _ in pairs], [y for _, y in pairs]
    labels = [(y + 1) // 2 for y in signs] if zero_one else signs
    leaves, tensor = leaves_and_tensor(torch, scores)
    reference = torch.relu(1.0 - torch.tensor(signs, dtype=torch.float64) * tensor).mean()
    assert_matches(torch, losses.hinge_loss(leaves, labels), leaves, reference, tensor)


# Target kinds binary cross-entropy takes: how to draw one, and the probability it means.
BCE_TARGETS = {
    "labels 0/1": (st.sampled_from([0, 1]), lambda t: t),
    "probabilities": (st.floats(0.0, 1.0), lambda t: t),
    "labels -1/+1": (st.sampled_from([-1, 1]), lambda t: (t + 1) / 2),
}


@pytest.mark.parametrize("kind", BCE_TARGETS)
@given(data=st.data())
def test_binary_cross_entropy_with_logits_matches_pytorch(torch, kind, data) -> None:
    target, as_probability = BCE_TARGETS[kind]
    pairs = data.draw(st.lists(st.tuples(logit, target), min_size=1, max_size=6))
    logits, targets = [z for z, _ in pairs], [y for _, y in pairs]
    leaves, tensor = leaves_and_tensor(torch, logits)
    reference = torch.nn.functional.binary_cross_entropy_with_logits(
        tensor, torch.tensor([as_probability(y) for y in targets], dtype=torch.float64)
    )
    loss = losses.binary_cross_entropy_with_logits(leaves, targets)
    assert_matches(torch, loss, leaves, reference, tensor)


@st.composite
def logits_and_targets(draw):
    n_classes = draw(st.integers(2, 4))
    rows = draw(st.lists(st.lists(logit, min_size=n_classes, max_size=n_classes), min_size=1,
                         max_size=4))  # fmt: skip
    targets = draw(st.lists(st.integers(0, n_classes - 1), min_size=len(rows), max_size=len(rows)))
    return rows, targets


@given(data=logits_and_targets())
def test_cross_entropy_matches_pytorch(torch, data) -> None:
    rows, targets = data
    leaves = [[Value(z) for z in row] for row in rows]
    tensor = torch.tensor(rows, requires_grad=True)
    reference = torch.nn.functional.cross_entropy(tensor, torch.tensor(targets))
    loss = losses.cross_entropy(leaves, targets)
    assert_matches(torch, loss, [v for row in leaves for v in row], reference, tensor)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(
    logits=st.lists(logit, min_size=1, max_size=5),
    weights=st.lists(st.floats(-2.0, 2.0), min_size=5, max_size=5),
)
def test_softmax_and_log_softmax_match_pytorch(torch, name, logits, weights) -> None:
    leaves, tensor = leaves_and_tensor(torch, logits)
    outputs = getattr(losses, name)(leaves)
    reference = getattr(torch.nn.functional, name)(tensor, dim=0)
    for ours, theirs in zip(outputs, reference.tolist()):
        assert close(ours.data, theirs)
    # A weighted sum of the outputs exercises the whole Jacobian in one backward pass.
    weights = weights[: len(logits)]
    total = sum((w * out for w, out in zip(weights, outputs)), Value(0.0))
    expected = (torch.tensor(weights) * reference).sum()
    assert_matches(torch, total, leaves, expected, tensor)


@given(
    params=st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=6),
    alpha=st.floats(0.0, 2.0),
)
def test_l2_penalty_is_alpha_times_the_sum_of_squares(torch, params, alpha) -> None:
    leaves, tensor = leaves_and_tensor(torch, params)
    reference = alpha * (tensor**2).sum()
    assert_matches(torch, losses.l2_penalty(leaves, alpha), leaves, reference, tensor)


# ------------------------------------------------------------------ stability and special points


def test_huge_logits_give_finite_losses_and_gradients() -> None:
    z = [Value(500.0), Value(-500.0)]
    for loss, expected in (
        (losses.binary_cross_entropy_with_logits(z, [0, 1]), 500.0),  # softplus(500) each
        (losses.cross_entropy([z, z[::-1]], [1, 0]), 1000.0),  # the wrong class, by 1000
        (losses.log_softmax(z)[1], -1000.0),
    ):
        for v in z:
            v.grad = 0.0
        loss.backward()
        assert loss.data == pytest.approx(expected, rel=1e-12)
        assert all(math.isfinite(v.grad) for v in z)


def test_bce_gradient_at_zero_logit_is_sigmoid_minus_target() -> None:
    for y in (0, 1):
        z = Value(0.0)
        losses.binary_cross_entropy_with_logits(z, y).backward()
        assert z.grad == 0.5 - y


def test_softmax_of_equal_logits_is_uniform_and_sums_to_one() -> None:
    probabilities = losses.softmax([Value(3.0)] * 4)
    assert [p.data for p in probabilities] == [0.25] * 4
    assert math.fsum(p.data for p in losses.softmax([1.0, -2.0, 700.0])) == pytest.approx(1.0)


def test_single_values_and_numbers_are_a_batch_of_one() -> None:
    s = Value(0.25)
    assert losses.hinge_loss(s, -1).data == 1.25
    assert losses.mse_loss(s, 1.0).data == 0.5625
    assert losses.mse_loss(2.0, 1.0).data == 1.0
    assert losses.cross_entropy([0.0, 0.0], 1).data == pytest.approx(math.log(2.0))


def test_losses_are_means_over_the_batch() -> None:
    one = losses.hinge_loss([Value(0.5)], [1]).data
    assert losses.hinge_loss([Value(0.5)] * 4, [1] * 4).data == one == 0.5


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: losses.mse_loss([1.0, 2.0], [1.0]), r"mse_loss: .*\(2 vs 1\)"),
        (lambda: losses.hinge_loss([Value(1.0)], [1, -1]), r"hinge_loss: .*\(1 vs 2\)"),
        (lambda: losses.mse_loss([], []), "mse_loss: preds is empty"),
        (
            lambda: losses.hinge_loss([Value(1.0)] * 3, [1, 0, -1]),
            r"hinge_loss: binary labels must be all 0/1 or -1/\+1, not a mix of the two: "
            r"labels\[1\] is 0 and labels\[2\] is -1",
        ),
        (
            lambda: losses.hinge_loss([Value(1.0)] * 2, [1, 2]),
            r"hinge_loss: binary labels must be 0/1 or -1/\+1, got 2 at index 1",
        ),
        (lambda: losses.hinge_loss([Value(1.0)], [0.5]), r"0/1 or -1/\+1, got 0.5 at index 0"),
        (
            lambda: losses.binary_cross_entropy_with_logits([0.0] * 3, [1, -1, 0]),
            r"targets must be probabilities in \[0, 1\] \(labels 0/1\) or labels -1/\+1, "
            r"not a mix: targets\[1\] is -1 and targets\[2\] is 0.0",
        ),
        (
            lambda: losses.binary_cross_entropy_with_logits([0.0] * 2, [-1, 0.5]),
            r"not a mix: targets\[0\] is -1 and targets\[1\] is 0.5",
        ),
        (
            lambda: losses.binary_cross_entropy_with_logits([0.0], [1.5]),
            r"probabilities in \[0, 1\] \(labels 0/1\) or labels -1/\+1, got 1.5 at index 0$",
        ),
        (  # class indices: the loss for them is named
            lambda: losses.binary_cross_entropy_with_logits([0.0] * 3, [0, 1, 2]),
            r"got 2.0 at index 2; for more than two classes use cross_entropy$",
        ),
        (lambda: losses.binary_cross_entropy_with_logits([0.0], [-0.5]), "got -0.5 at index 0"),
        (lambda: losses.binary_cross_entropy_with_logits([0.0], [math.nan]), "got nan"),
        (lambda: losses.cross_entropy([[0.0, 1.0]], [2]), r"targets\[0\] = 2 .* 0\.\.1"),
        (lambda: losses.cross_entropy([[0.0, 1.0]], [-1]), r"targets\[0\] = -1"),
        (lambda: losses.cross_entropy([[0.0, 1.0], [0.0]], [0, 0]), "sample 1 has 1 logits"),
        (lambda: losses.cross_entropy([], []), "cross_entropy: batch_logits is empty"),
        (lambda: losses.cross_entropy([[1.0, 2.0]], [0, 1]), r"\(1 vs 2\)"),
        (lambda: losses.l2_penalty([Value(1.0)], -0.1), "alpha must be >= 0"),
        (lambda: losses.l2_penalty([], 0.1), "parameters is empty"),
        (lambda: losses.softmax([]), "softmax: logits is empty"),
    ],
)
def test_bad_values_raise_value_error_naming_the_problem(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: losses.mse_loss(["a"], [1.0]),
        lambda: losses.mse_loss("ab", "ab"),
        lambda: losses.hinge_loss([Value(1.0)], [Value(1.0)]),
        lambda: losses.hinge_loss([Value(1.0)], [True]),
        lambda: losses.hinge_loss([Value(1.0)], "1"),
        lambda: losses.binary_cross_entropy_with_logits([0.0], [False]),
        lambda: losses.binary_cross_entropy_with_logits([0.0], ["1"]),
        lambda: losses.cross_entropy([[0.0, 1.0]], [1.0]),
        lambda: losses.cross_entropy(None, [1]),
        lambda: losses.l2_penalty([1.0], 0.1),
        lambda: losses.l2_penalty([Value(1.0)], "0.1"),
    ],
)
def test_wrong_types_raise_type_error(call) -> None:
    with pytest.raises(TypeError):
        call()


def test_a_binary_loss_given_three_classes_suggests_cross_entropy():
    with pytest.raises(ValueError, match="for more than two classes, use cross_entropy"):
        losses.hinge_loss([Value(0.5)] * 3, [0, 1, 2])
