"""Loss functions: one Value that says how wrong a batch of predictions is.

Training minimises the loss, so its gradient with respect to every parameter is what
``backward()`` computes. Each loss here returns the **mean** over the batch (as
``torch.nn.functional`` does by default), built from ordinary Value operations, so
the graph shows exactly what was computed and the gradients follow from the chain
rule.

The losses that involve ``exp`` are written in their numerically stable forms: the
textbook formulas overflow for logits of a few hundred (``exp(710)`` is larger than
any float64), while these stay finite, in value and in gradient, for any logits
whose differences fit in a float64 (the tests use ±500).

Binary labels may be written 0/1 or -1/+1 (0 and -1 both mean the negative class),
one convention per batch.

>>> from tinygrad_edu import Value
>>> scores = [Value(2.0), Value(-0.5)]
>>> hinge_loss(scores, [1, 1]).data      # mean(max(0, 1 - y s)) = (0 + 1.5) / 2
0.75
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from tinygrad_edu._checks import binary_signs, check_real
from tinygrad_edu.engine import Op, Operand, Value
from tinygrad_edu.fused import logsumexp, pick

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "l2_penalty",
    "log_softmax",
    "mse_loss",
    "softmax",
]

Batch = Sequence[Operand] | Operand


# --------------------------------------------------------------------------- helpers


def _as_values(owner: str, name: str, x: Batch) -> list[Value]:
    """A batch as a non-empty list of Values; a single Value or number is a batch of one.

    Numbers become leaf Values (constants: nothing upstream to send a gradient to).
    """
    if isinstance(x, Value) or (isinstance(x, numbers.Real) and not isinstance(x, bool)):
        x = [x]
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"{owner}: {name} must be a list of Values or numbers, got {x!r}")
    if not x:
        raise ValueError(f"{owner}: {name} is empty; a loss needs at least one sample")
    values = []
    for i, v in enumerate(x):
        if isinstance(v, Value):
            values.append(v)
        elif isinstance(v, numbers.Real) and not isinstance(v, bool):
            values.append(Value(v))
        else:
            raise TypeError(
                f"{owner}: {name}[{i}] must be a Value or a number, got {type(v).__name__}"
            )
    return values


def _as_targets(owner: str, x: Sequence[float] | float) -> list[float]:
    """Binary cross-entropy targets as probabilities in [0, 1].

    Probabilities (0/1 labels included) are taken as they are; -1/+1 labels become 0/1.
    """
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        x = [x]
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"{owner}: targets must be a list of numbers, got {x!r}")
    targets = []
    for i, t in enumerate(x):
        if isinstance(t, (bool, Value)) or not isinstance(t, numbers.Real):
            raise TypeError(f"{owner}: targets[{i}] must be a number, got {type(t).__name__}")
        targets.append(float(t))
    conventions = "probabilities in [0, 1] (labels 0/1) or labels -1/+1"
    if -1.0 in targets:  # -1/+1 labels
        minus_one = targets.index(-1.0)
        for i, t in enumerate(targets):
            if t not in (-1.0, 1.0):
                raise ValueError(
                    f"{owner}: targets must be {conventions}, not a mix: "
                    f"targets[{minus_one}] is -1 and targets[{i}] is {t!r}"
                )
        return [(t + 1.0) / 2.0 for t in targets]
    for i, t in enumerate(targets):
        if not 0.0 <= t <= 1.0:
            class_index = t >= 2.0 and t.is_integer()  # labels 0, 1, 2, ...: several classes
            several = "; for more than two classes use cross_entropy" if class_index else ""
            raise ValueError(
                f"{owner}: targets must be {conventions}, got {t!r} at index {i}{several}"
            )
    return targets


def _check_same_length(owner: str, first: Sequence, second: Sequence, names: str) -> None:
    if len(first) != len(second):
        raise ValueError(
            f"{owner}: {names} differ in length ({len(first)} vs {len(second)}); they must match"
        )


def _mean(terms: list[Value]) -> Value:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total / len(terms)


def _exp(x: float | Value) -> float | Value:
    """``e^x`` of a float, or of a Value when nested ``grad`` differentiates a derivative rule."""
    return x.exp() if isinstance(x, Value) else math.exp(x)


def _softplus_forward(z: float) -> float:
    """``log(1 + e^z)`` with ``exp`` seeing only ``-|z|``: ``z + log(1 + e^-z)`` for z >= 0."""
    if z >= 0.0:
        return z + math.log(1.0 + math.exp(-z))
    return math.log(1.0 + math.exp(z))


def _softplus_derivative(z: float | Value, out: float | Value) -> tuple:
    """d/dz = sigmoid(z), again with ``exp`` of ``-|z|`` only."""
    if z >= 0.0:
        return (1.0 / (1.0 + _exp(-z)),)
    e = _exp(z)
    return (e / (1.0 + e),)


#: ``softplus(z) = log(1 + e^z)``, computed the stable way. Which of its two formulas
#: applies is decided inside the op, from the number, on every run (a traced program
#: runs the op's own rules), so the choice is never frozen.
SOFTPLUS = Op("softplus", _softplus_forward, _softplus_derivative)


def _largest_forward(*operands: float) -> float:
    return max(operands)


def _largest_derivative(*operands_and_out: float | Value) -> tuple:
    return (0.0,) * (len(operands_and_out) - 1)


#: The largest of the operands, as a shift that ``softmax`` subtracts from every logit:
#: softmax does not change when all logits move together, so the shift passes no
#: gradient back (every local derivative is 0). An op rather than a plain float, so a
#: traced program finds the largest logit again on every run.
SHIFT = Op("max (shift)", _largest_forward, _largest_derivative)


# --------------------------------------------------------------------------- regression


def mse_loss(preds: Batch, targets: Batch) -> Value:
    """Mean squared error ``mean((p_i - t_i)²)``.

    d/dp_i = 2 (p_i - t_i) / n. Targets may be numbers or Values.

    >>> mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data    # (1 + 4) / 2
    2.5
    """
    preds = _as_values("mse_loss", "preds", preds)
    targets = _as_values("mse_loss", "targets", targets)
    _check_same_length("mse_loss", preds, targets, "predictions and targets")
    return _mean([(p - t) ** 2 for p, t in zip(preds, targets)])


# --------------------------------------------------------------------------- binary classification


def hinge_loss(scores: Batch, labels: Sequence[float] | float) -> Value:
    """The max-margin (SVM) loss ``mean(max(0, 1 - y_i s_i))`` with ``y_i`` = -1 or +1.

    Labels may be written 0/1 or -1/+1 (0 is taken as -1), but all in one convention:
    a list with both a 0 and a -1 is a ValueError. A sample scored on the right side
    with a margin of at least 1 costs nothing; every other sample pulls its score
    towards its label: d/ds_i = -y_i / n when ``y_i s_i < 1``, else 0.

    >>> hinge_loss([Value(0.5)], [0]).data == hinge_loss([Value(0.5)], [-1]).data == 1.5
    True
    """
    scores = _as_values("hinge_loss", "scores", scores)
    labels = binary_signs("hinge_loss", labels)
    _check_same_length("hinge_loss", scores, labels, "scores and labels")
    return _mean([(1.0 - y * s).relu() for s, y in zip(scores, labels)])


def binary_cross_entropy_with_logits(logits: Batch, targets: Sequence[float] | float) -> Value:
    """Binary cross-entropy of ``sigmoid(z_i)`` against targets ``y_i`` in [0, 1], from logits.

    Targets are probabilities (0/1 labels are the usual case; a soft target such as 0.9
    works too, as in PyTorch), or -1/+1 labels, which are read as 0/1. A list that mixes
    -1 with a 0 or any other probability is a ValueError.

    The loss of one sample is ``-y log σ(z) - (1 - y) log(1 - σ(z))``, which simplifies to
    ``softplus(z) - y z`` with ``softplus(z) = log(1 + e^z)``. Computing σ first and
    then its log fails for large ``|z|`` (σ rounds to 0 or 1 and the log to -inf), so
    softplus is written so that ``exp`` only sees ``-|z|``::

        softplus(z) = z + log(1 + e^-z)   for z >= 0
                    =     log(1 + e^z)    for z <  0

    i.e. ``max(z, 0) + log(1 + e^-|z|)``. The branch is chosen on the number, not
    through ``relu`` and ``abs``, so the derivative at z = 0 is the true
    σ(0) - y = 1/2 - y (the kinks of max and abs would give -y there). Overall
    d/dz_i = (σ(z_i) - y_i) / n.
    """
    logits = _as_values("binary_cross_entropy_with_logits", "logits", logits)
    targets = _as_targets("binary_cross_entropy_with_logits", targets)
    _check_same_length("binary_cross_entropy_with_logits", logits, targets, "logits and targets")
    return _mean([SOFTPLUS(z) - y * z for z, y in zip(logits, targets)])


# --------------------------------------------------------------------------- multi-class


def softmax(logits: Sequence[Operand]) -> list[Value]:
    """Probabilities ``p_i = e^{z_i} / sum_j e^{z_j}`` (they are positive and add up to 1).

    The largest logit is subtracted first (a shift of all logits, which changes
    nothing, :data:`SHIFT`), so every exponent is <= 0 and logits of any size are safe.
    d p_i / d z_j = p_i (δ_ij - p_j).

    >>> [round(p.data, 4) for p in softmax([0.0, 0.0, 1000.0])]
    [0.0, 0.0, 1.0]
    """
    logits = _as_values("softmax", "logits", logits)
    m = SHIFT(*logits)
    exps = [(z - m).exp() for z in logits]
    total = exps[0]
    for e in exps[1:]:
        total = total + e
    return [e / total for e in exps]


def log_softmax(logits: Sequence[Operand]) -> list[Value]:
    """``log(softmax(z))_i = z_i - log(sum_j e^{z_j})``, stable for logits of any size.

    Taking the log of :func:`softmax` would give -inf once a probability underflows to
    0; this form never computes the probabilities: the log-sum-exp is one node
    (:func:`~tinygrad_edu.engine.logsumexp`). d/dz_j = δ_ij - p_j.
    """
    logits = _as_values("log_softmax", "logits", logits)
    log_total = logsumexp(logits)
    return [z - log_total for z in logits]


def cross_entropy(
    batch_logits: Sequence[Sequence[Operand]] | Sequence[Operand], targets: Sequence[int] | int
) -> Value:
    """Multi-class cross-entropy ``mean_i(-log softmax(z_i)[t_i])`` from raw logits.

    ``batch_logits`` is one list of logits per sample and ``targets`` the correct class
    index of each (a single list of logits with an int target is a batch of one).
    Each sample costs ``log(sum_j e^{z_j}) - z_t`` (the log-sum-exp is one node,
    :func:`~tinygrad_edu.engine.logsumexp`, computed stably), and
    d/dz_j = (softmax(z)_j - [j == t]) / n: the predicted probabilities minus the
    one-hot target.

    >>> import math
    >>> round(cross_entropy([[0.0, 0.0]], [1]).data, 6) == round(math.log(2), 6)
    True
    """
    if isinstance(targets, numbers.Integral) and not isinstance(targets, bool):
        batch_logits, targets = [batch_logits], [targets]  # one sample
    if isinstance(batch_logits, (str, bytes)) or not isinstance(batch_logits, Sequence):
        raise TypeError(
            f"cross_entropy: batch_logits must be a list of lists, got {batch_logits!r}"
        )
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise TypeError(f"cross_entropy: targets must be a list of class indices, got {targets!r}")
    if not batch_logits:
        raise ValueError("cross_entropy: batch_logits is empty; a loss needs at least one sample")
    _check_same_length("cross_entropy", batch_logits, targets, "logit lists and targets")
    rows = [
        _as_values("cross_entropy", f"batch_logits[{i}]", z) for i, z in enumerate(batch_logits)
    ]
    n_classes = len(rows[0])
    terms = []
    for i, (z, t) in enumerate(zip(rows, targets)):
        if len(z) != n_classes:
            raise ValueError(
                f"cross_entropy: sample {i} has {len(z)} logits but sample 0 has {n_classes}"
            )
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise TypeError(f"cross_entropy: targets[{i}] must be an int, got {type(t).__name__}")
        if not 0 <= t < n_classes:
            raise ValueError(
                f"cross_entropy: targets[{i}] = {t} is not a class index in 0..{n_classes - 1}"
            )
        terms.append(logsumexp(z) - pick(z, t))  # z[t]; by the input in a compiled step
    return _mean(terms)


# --------------------------------------------------------------------------- regularisation


def l2_penalty(parameters: Sequence[Value], alpha: float) -> Value:
    """``alpha * sum(p²)``: add it to a loss to keep the weights small.

    Its gradient is ``2 alpha p``, a pull of every weight towards 0. This is what
    *weight decay* does: ``SGD(..., weight_decay=λ)`` adds ``λ p`` to each gradient,
    which is exactly the gradient of ``l2_penalty(params, alpha=λ / 2)``. (The same holds
    for :class:`~tinygrad_edu.optim.Adam`'s ``weight_decay``, which is also added to the
    gradient; AdamW's "decoupled" decay is different.)

    >>> l2_penalty([Value(1.0), Value(-2.0)], alpha=0.5).data    # 0.5 * (1 + 4)
    2.5
    """
    alpha = check_real("l2_penalty", "alpha", alpha, at_least=0.0)
    if isinstance(parameters, Value) or not isinstance(parameters, Sequence):
        raise TypeError(f"l2_penalty: parameters must be a list of Values, got {parameters!r}")
    if not parameters:
        raise ValueError("l2_penalty: parameters is empty")
    for i, p in enumerate(parameters):
        if not isinstance(p, Value):
            raise TypeError(f"l2_penalty: parameters[{i}] must be a Value, got {type(p).__name__}")
    total = parameters[0] * parameters[0]
    for p in parameters[1:]:
        total = total + p * p
    return total * alpha
