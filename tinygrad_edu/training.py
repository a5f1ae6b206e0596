"""A training loop you don't have to write: ``fit``, plus ``predict`` and ``accuracy``.

Writing the loop yourself is the way to learn what training is; it is five lines::

    optimizer = optim.Adam(model.parameters(), lr=0.05)
    signs = [2 * label - 1 for label in y]             # labels 0/1 as -1/+1
    for step in range(100):
        optimizer.zero_grad()                          # 1. clear old gradients
        scores = [model(x) for x in X]                 # 2. forward pass
        loss = losses.hinge_loss(scores, signs)        # 3. how wrong are we?
        loss.backward()                                # 4. backpropagation: p.grad
        optimizer.step()                               # 5. update the weights: p.data

:func:`fit` runs exactly this loop (full batch: every step sees every sample), with a
progress bar, and keeps the history of the loss and the accuracy.

>>> from tinygrad_edu import datasets, nn
>>> X, y = datasets.make_moons(100, noise=0.1, seed=0)
>>> model = nn.MLP(2, [16, 16, 1], seed=0)
>>> history = fit(model, X, y, steps=100, progress=False)
>>> history["accuracy"][-1] >= 0.97
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tqdm import tqdm

from tinygrad_edu import losses
from tinygrad_edu._checks import check_int, check_real
from tinygrad_edu.engine import Operand, Value, no_grad
from tinygrad_edu.nn import Module
from tinygrad_edu.optim import Adam, Optimizer
from tinygrad_edu.program import compile as compile_program

__all__ = ["LOSSES", "accuracy", "fit", "predict"]

Output = Value | list[Value]
LossFunction = Callable[[list[Output], Sequence], Value]


def _binary(y: Sequence) -> list[int]:
    """Labels of a binary loss, checked to be 0 or 1."""
    if any(label not in (0, 1) for label in y):
        raise ValueError(f"fit: this loss needs labels 0 or 1, got {sorted(set(y))!r}")
    return list(y)


def _hinge(outputs: list[Output], y: Sequence[int]) -> Value:
    """Max-margin loss on one score per sample; labels 0/1 are used as -1/+1."""
    return losses.hinge_loss(outputs, [2 * label - 1 for label in _binary(y)])


def _bce(outputs: list[Output], y: Sequence[int]) -> Value:
    """Binary cross-entropy on one logit per sample, labels 0/1."""
    return losses.binary_cross_entropy_with_logits(outputs, _binary(y))


def _mse(outputs: list[Output], y: Sequence[int]) -> Value:
    """Squared error of one score per sample against -1/+1 (labels 0/1 mapped), so that
    the sign of the score is the predicted class, as for the other binary losses."""
    return losses.mse_loss(outputs, [2.0 * label - 1.0 for label in _binary(y)])


#: The loss names :func:`fit` understands.
LOSSES: dict[str, LossFunction] = {
    "hinge": _hinge,
    "bce": _bce,
    "cross_entropy": losses.cross_entropy,
    "mse": _mse,
}


def _predicted_class(output: Output) -> int:
    """Binary (one score): 1 if the score is > 0. Multi-class (a list of logits): argmax."""
    if isinstance(output, (Value, float)):  # a float: the score from a compiled step
        return int((output.data if isinstance(output, Value) else output) > 0.0)
    scores = [v.data if isinstance(v, Value) else v for v in output]
    return scores.index(max(scores))


def _fraction_correct(outputs: list[Output], y: Sequence) -> float:
    correct = sum(bool(_predicted_class(out) == label) for out, label in zip(outputs, y))
    return correct / len(y)


def _check_output_shape(loss: str, output: Output) -> None:
    """The named binary losses need one score per sample; cross-entropy needs a list of logits."""
    if loss == "cross_entropy" and isinstance(output, Value):
        raise ValueError(
            "fit: loss='cross_entropy' needs one output per class, but the model has one "
            "output; use a binary loss ('hinge', 'bce', 'mse') or more outputs"
        )
    if loss != "cross_entropy" and not isinstance(output, Value):
        raise ValueError(
            f"fit: loss={loss!r} needs a model with one output, but it has {len(output)}; "
            "use loss='cross_entropy' for several classes"
        )


def _check_dataset(owner: str, X: Sequence, y: Sequence) -> None:  # noqa: N803
    if len(X) != len(y):
        raise ValueError(f"{owner}: X has {len(X)} samples but y has {len(y)} labels")
    if len(X) == 0:  # not `not X`: X may be a NumPy array
        raise ValueError(f"{owner}: the data set is empty")


@no_grad()
def _outputs(owner: str, model: Module, X: Sequence[Sequence[Operand]]) -> list[Output]:  # noqa: N803
    if not isinstance(model, Module):
        raise TypeError(
            f"{owner}: model must be a Module (e.g. an MLP), got {type(model).__name__}"
        )
    return [model(x) for x in X]


def predict(model: Module, X: Sequence[Sequence[Operand]]) -> list[int]:  # noqa: N803
    """The class the model predicts for each sample (no graph is recorded).

    A model with one output predicts class 1 when its score is > 0, else 0; a model
    with several outputs (logits) predicts the index of the largest.
    """
    return [_predicted_class(out) for out in _outputs("predict", model, X)]


def accuracy(model: Module, X: Sequence[Sequence[Operand]], y: Sequence[int]) -> float:  # noqa: N803
    """The fraction of samples whose predicted class (see :func:`predict`) equals the label."""
    _check_dataset("accuracy", X, y)
    return _fraction_correct(_outputs("accuracy", model, X), y)


def fit(
    model: Module,
    X: Sequence[Sequence[Operand]],  # noqa: N803
    y: Sequence[int],
    *,
    loss: str | LossFunction = "hinge",
    optimizer: Optimizer | None = None,
    steps: int = 100,
    l2: float = 0.0,
    progress: bool = True,
    callback: Callable[[int, float, float], object] | None = None,
    compile: bool = False,
) -> dict[str, list[float]]:
    """Train ``model`` on ``(X, y)`` for ``steps`` full-batch steps; return the history.

    Each step: ``zero_grad``, the forward pass over every sample, the loss (plus
    ``l2_penalty(parameters, l2)`` when ``l2 > 0``), ``backward()``, ``optimizer.step()``.

    Args:
        model: a :class:`~tinygrad_edu.nn.Module`, e.g. an MLP.
        X: the samples, each a sequence of numbers.
        y: their int labels (0/1 for the binary losses, class indices 0..k-1 for
            cross-entropy).
        loss: ``"hinge"`` (max-margin; labels 0/1 are used as -1/+1), ``"bce"`` (binary
            cross-entropy on logits), ``"mse"`` (squared error to -1/+1),
            ``"cross_entropy"`` (multi-class: the model outputs one logit per class), or
            a function ``(outputs, y) -> Value``.
        optimizer: by default ``Adam(model.parameters(), lr=0.05)``, which trains the
            small models of this library well without tuning.
        steps: how many updates.
        l2: the strength ``alpha`` of an L2 penalty on all parameters (0: none).
        progress: show a tqdm progress bar with the loss and accuracy.
        callback: called as ``callback(step, loss, accuracy)`` after each step, with
            ``step`` counting from 0 (so ``history["loss"][step] == loss``).
        compile: trace the step once into a :class:`~tinygrad_edu.program.Program` and
            run that (several times faster, bit for bit the same numbers). For the
            "hinge" and "mse" losses, or a loss function without Python branches on
            numbers; "bce" and "cross_entropy" pick their formula from each logit's
            value, which a trace would freeze, so they are refused.

    Returns:
        ``{"loss": [...], "accuracy": [...]}``, one float per step. Each entry is
        measured in the forward pass of its step, i.e. *before* that step's update.

    If a step fails with an arithmetic error (an ``OverflowError`` when the numbers
    outgrow float64, a ``FloatingPointError`` from the optimizer, ...), ``fit`` raises
    the same type of error with the step number added; the weights are left as they
    were before that step.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be a Module (e.g. an MLP), got {type(model).__name__}")
    _check_dataset("fit", X, y)
    y = list(y)
    steps = check_int("fit", "steps", steps)
    l2 = check_real("fit", "l2", l2, at_least=0.0)
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=0.05)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"fit: callback must be callable, got {type(callback).__name__}")
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"fit: unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        _check_output_shape(loss, _outputs("fit", model, X[:1])[0])
        loss_function = LOSSES[loss]
    elif callable(loss):
        loss_function = loss
    else:
        raise TypeError(f"fit: loss must be a name or a function, got {type(loss).__name__}")
    parameters = model.parameters()
    if compile and loss in ("bce", "cross_entropy"):
        raise ValueError(
            f"fit: compile=True cannot be used with loss={loss!r}: it picks its formula from "
            "the value of each logit, which a traced program would freeze; use 'hinge' or 'mse'"
        )

    def forward() -> tuple[Value, list[Output]]:
        outputs = [model(x) for x in X]
        total = loss_function(outputs, y)
        if not isinstance(total, Value):
            raise TypeError(f"fit: the loss function must return a Value, got {total!r}")
        if l2 > 0.0:
            total = total + losses.l2_penalty(parameters, l2)
        return total, outputs

    compiled = compile_program(forward, has_aux=True) if compile else None
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    bar = tqdm(range(steps), desc="training", disable=not progress, leave=True)
    for step in bar:
        optimizer.zero_grad()
        try:
            if compiled is None:
                total, outputs = forward()
                total.backward()
                step_loss = total.data
            else:  # the same numbers, and the same .grad, from the traced program
                (step_loss, outputs), _ = compiled()
            optimizer.step()
        except ArithmeticError as error:
            raise type(error)(
                f"fit: step {step}: {error}. The weights are as they were before this step; "
                "if the numbers grew out of range, try a smaller learning rate"
            ) from error
        step_accuracy = _fraction_correct(outputs, y)
        history["loss"].append(step_loss)
        history["accuracy"].append(step_accuracy)
        bar.set_postfix(loss=f"{step_loss:.4f}", accuracy=f"{step_accuracy:.1%}", refresh=False)
        if callback is not None:
            callback(step, step_loss, step_accuracy)
    bar.close()
    return history
