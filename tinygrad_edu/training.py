"""A training loop you don't have to write: ``fit``, plus ``predict`` and ``accuracy``.

Writing the loop yourself is the way to learn what training is; it is five lines::

    optimizer = optim.Adam(model.parameters(), lr=0.05)
    for step in range(1, 101):                         # steps are counted from 1
        optimizer.zero_grad()                          # 1. clear old gradients
        scores = [model(x) for x in X]                 # 2. forward pass
        loss = losses.hinge_loss(scores, y)            # 3. how wrong are we?
        loss.backward()                                # 4. backpropagation: p.grad
        optimizer.step()                               # 5. update the weights: p.data

:func:`fit` runs exactly this loop (full batch: every step sees every sample), with a
progress bar, and keeps the history of the loss and the accuracy.

Binary labels may be written 0/1 or -1/+1, everywhere (``fit`` with every binary
loss, :func:`accuracy`, the losses themselves), as long as one data set uses one
convention: a 0 next to a -1 is an error, because it is not clear which class 0 is.

>>> from tinygrad_edu import datasets, nn
>>> X, y = datasets.make_moons(100, noise=0.1, seed=0)
>>> model = nn.MLP(2, [16, 16, 1], seed=0)
>>> history = fit(model, X, y, steps=100, progress=False)
>>> history["accuracy"][-1] >= 0.97
True
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence

from tqdm import tqdm

from tinygrad_edu import losses
from tinygrad_edu._checks import binary_signs, check_int, check_real
from tinygrad_edu.engine import Operand, Value, no_grad
from tinygrad_edu.nn import Module
from tinygrad_edu.optim import Adam, Optimizer
from tinygrad_edu.program import BACKENDS
from tinygrad_edu.program import compile as compile_program

__all__ = [
    "DIVERGENCE_FACTOR",
    "LOSSES",
    "accuracy",
    "fit",
    "format_accuracy",
    "format_loss",
    "predict",
]

Output = Value | list[Value]
LossFunction = Callable[[list[Output], Sequence], Value]


def _mse(outputs: list[Output], y: Sequence[float]) -> Value:
    """Squared error of one score per sample against -1/+1 (labels 0/1 mapped), so that
    the sign of the score is the predicted class, as for the other binary losses."""
    return losses.mse_loss(outputs, binary_signs("fit", y))


#: The loss names :func:`fit` understands.
LOSSES: dict[str, LossFunction] = {
    "hinge": losses.hinge_loss,
    "bce": losses.binary_cross_entropy_with_logits,
    "cross_entropy": losses.cross_entropy,
    "mse": _mse,
}


def format_loss(loss: float) -> str:
    """A loss as every report of training prints it: 4 decimals, ``0.3000`` (fit's
    progress bar, the command line, the training page), so that numbers side by side
    line up and read alike (never ``0.3`` next to ``0.3222``)."""
    return f"{loss:.4f}"


def format_accuracy(accuracy: float) -> str:
    """An accuracy (a fraction) as every report of training prints it: ``95.0%``."""
    return f"{accuracy:.1%}"


def _predicted_class(output: Output) -> int:
    """Binary (one score): 1 if the score is > 0. Multi-class (a list of logits): argmax."""
    if isinstance(output, (Value, float)):  # a float: the score from a compiled step
        return int((output.data if isinstance(output, Value) else output) > 0.0)
    scores = [v.data if isinstance(v, Value) else v for v in output]
    return scores.index(max(scores))


def _classes(owner: str, output: Output, y: Sequence, fix: str) -> list:
    """The labels as :func:`_predicted_class` numbers them: binary labels (0/1 or -1/+1,
    checked) as 0/1 when the model has one output, else as they are (class indices).

    Labels of more than two classes for a model with one output are refused with
    ``fix``, what to do instead."""
    if isinstance(output, Value):
        _refuse_several_classes(owner, y, fix)
        return [int(sign > 0.0) for sign in binary_signs(owner, list(y))]
    return list(y)


def _refuse_several_classes(owner: str, y: Sequence, fix: str) -> None:
    """ValueError when ``y`` holds more than two class indices (0, 1, 2, ...): one score
    separates two classes only. Other labels are left to :func:`binary_signs` to check."""
    if not all(isinstance(label, numbers.Integral) and not isinstance(label, bool) for label in y):
        return
    classes = sorted({int(label) for label in y})
    if len(classes) <= 2 or classes[0] < 0:
        return
    shown = (
        ", ".join(map(str, classes)) if len(classes) <= 5 else f"{classes[0]}, ..., {classes[-1]}"
    )
    raise ValueError(
        f"{owner}: y holds {len(classes)} classes ({shown}), but a model with one output "
        f"separates two; {fix} (e.g. MLP(..., [16, {len(classes)}]))"
    )


def _fraction_correct(outputs: list[Output], classes: Sequence) -> float:
    correct = sum(_predicted_class(out) == label for out, label in zip(outputs, classes))
    return correct / len(classes)


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

    A model with one output predicts class 1 when its score is > 0, else 0 (the +1 and
    -1 of -1/+1 labels); a model with several outputs (logits) predicts the index of
    the largest.
    """
    return [_predicted_class(out) for out in _outputs("predict", model, X)]


def accuracy(model: Module, X: Sequence[Sequence[Operand]], y: Sequence[int]) -> float:  # noqa: N803
    """The fraction of samples whose predicted class (see :func:`predict`) equals the label.

    For a model with one output the labels are binary, 0/1 or -1/+1 (a score > 0 is
    right for a label of 1); for several outputs they are class indices.
    """
    _check_dataset("accuracy", X, y)
    outputs = _outputs("accuracy", model, X)
    fix = "a model for several classes has one output per class"
    return _fraction_correct(outputs, _classes("accuracy", outputs[0], y, fix))


#: fit warns once when the loss grows past this many times its value at step 1.
DIVERGENCE_FACTOR = 1000.0
# ... taking that first value as at least this, so that a near-perfect start (a hinge
# loss of 1e-9 that a step moves to 1e-5) is not taken for a diverging run.
_DIVERGENCE_FLOOR = 1e-2


def _check_optimizer(optimizer: Optimizer, parameters: list[Value]) -> None:
    """An optimizer built from another model's parameters would train nothing here."""
    mine = {id(p) for p in parameters}
    if not any(id(p) in mine for p in optimizer.params):
        raise ValueError(
            f"fit: the optimizer holds none of the model's {len(parameters)} parameters, so "
            "training would change nothing; make it from this model, e.g. "
            "Adam(model.parameters(), lr=0.05)"
        )


def _warn_if_diverging(step: int, step_loss: float, first_loss: float, lr: object) -> bool:
    """Warn (a RuntimeWarning) when the loss is orders of magnitude above its start.

    Returns whether it warned, so that :func:`fit` warns once per run.
    """
    if not step_loss > DIVERGENCE_FACTOR * max(first_loss, _DIVERGENCE_FLOOR):
        return False
    rate = f" (lr is {lr:g})" if isinstance(lr, float) else ""
    warnings.warn(
        f"fit: step {step}: the loss is {step_loss:.3g}, more than {DIVERGENCE_FACTOR:g} "
        f"times its {first_loss:.3g} at step 1: training is diverging; "
        f"try a smaller learning rate{rate}",
        RuntimeWarning,
        stacklevel=3,
    )
    return True


#: What ``fit(live=True)`` shows and redraws as it trains: the live training page, which
#: :mod:`tinygrad_edu.pages` (a module above this one: the pages draw) puts here when it is
#: imported, as ``import tinygrad_edu`` does. Called as
#: ``live_view(model, X, y, steps=steps, then=callback)``; it returns fit's callback.
live_view: Callable[..., Callable[[int, float, float], object]] | None = None


def fit(
    model: Module,
    X: Sequence[Sequence[Operand]],  # noqa: N803
    y: Sequence,
    *,
    loss: str | LossFunction = "hinge",
    optimizer: Optimizer | None = None,
    steps: int = 100,
    l2: float = 0.0,
    progress: bool = True,
    callback: Callable[[int, float, float], object] | None = None,
    live: bool = False,
    compile: bool = False,
    backend: str = "python",
) -> dict[str, list[float]]:
    """Train ``model`` on ``(X, y)`` for ``steps`` full-batch steps; return the history.

    Each step: ``zero_grad``, the forward pass over every sample, the loss (plus
    ``l2_penalty(parameters, l2)`` when ``l2 > 0``), ``backward()``, ``optimizer.step()``.
    Steps are numbered from 1 to ``steps``, in errors, warnings and callbacks alike.

    Args:
        model: a :class:`~tinygrad_edu.nn.Module`, e.g. an MLP.
        X: the samples, each a sequence of numbers.
        y: their labels: binary labels 0/1 or -1/+1 (either, but one convention per data
            set) for a model with one output, class indices 0..k-1 for a model with k
            outputs.
        loss: ``"hinge"`` (max-margin), ``"bce"`` (binary cross-entropy on logits),
            ``"mse"`` (squared error to -1/+1), ``"cross_entropy"`` (multi-class: the
            model outputs one logit per class), or a function ``(outputs, y) -> Value``.
        optimizer: by default ``Adam(model.parameters(), lr=0.05)``, which trains the
            small models of this library well without tuning. It must hold at least
            one of the model's parameters.
        steps: how many updates.
        l2: the strength ``alpha`` of an L2 penalty on all parameters (0: none).
        progress: show a tqdm progress bar with the loss and accuracy.
        callback: called as ``callback(step, loss, accuracy)`` after each step, with
            ``step`` counting from 1 (so ``history["loss"][step - 1] == loss``).
        live: in a Jupyter notebook, show the training page of
            :func:`tinygrad_edu.viz.training_page` (decision boundary for 2-D data, loss
            and accuracy curves, weights) and redraw it in place about 20 times during
            training; it stays in the saved notebook with a slider over the steps.
        compile: trace the step once into a :class:`~tinygrad_edu.program.Program` and
            run that (several times faster, bit for bit the same numbers). Every named
            loss traces: where one picks a formula from a number (the stable forms of
            "bce" and "cross_entropy"), the choice is made inside an op, which the
            program runs again on every step. A loss function of your own must not
            branch in Python on numbers (``if z.data > 0``), or the program freezes
            that branch; ``tinygrad_edu.trace(..., check=True)`` finds such a branch.
        backend: with ``compile=True``, ``"python"`` (the default, works everywhere) or
            ``"c"``: the program compiled by the system's C compiler (gcc or clang),
            many times faster again, with the same numbers bit for bit.

    Returns:
        ``{"loss": [...], "accuracy": [...]}``, one float per step. Each entry is
        measured in the forward pass of its step, i.e. *before* that step's update
        (so the accuracy after the last update is ``accuracy(model, X, y)``).

    If a step fails with an arithmetic error (an ``OverflowError`` when the numbers
    outgrow float64, a ``FloatingPointError`` from the optimizer, ...), ``fit`` raises
    the same type of error with the step number added; the weights are left as they
    were before that step. A run whose loss grows to more than ``DIVERGENCE_FACTOR``
    (1000) times its value at step 1 gets a ``RuntimeWarning`` (once) saying so.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be a Module (e.g. an MLP), got {type(model).__name__}")
    _check_dataset("fit", X, y)
    steps = check_int("fit", "steps", steps)
    l2 = check_real("fit", "l2", l2, at_least=0.0)
    parameters = model.parameters()
    if optimizer is None:
        optimizer = Adam(parameters, lr=0.05)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    _check_optimizer(optimizer, parameters)
    if backend not in BACKENDS:
        raise ValueError(f"fit: backend must be 'python' or 'c', got {backend!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"fit: callback must be callable, got {type(callback).__name__}")
    first_output = _outputs("fit", model, X[:1])[0]
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"fit: unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        _check_output_shape(loss, first_output)
        loss_function = LOSSES[loss]
    elif callable(loss):
        loss_function = loss
    else:
        raise TypeError(f"fit: loss must be a name or a function, got {type(loss).__name__}")
    if live:
        if live_view is None:
            raise RuntimeError("fit: live=True needs tinygrad_edu.pages; import tinygrad_edu")
        callback = live_view(model, X, y, steps=steps, then=callback)
    y = list(y)
    several = "use loss='cross_entropy' and a model with one output per class"
    if isinstance(loss, str):
        several = f"loss={loss!r} is for two classes: {several}"
    classes = _classes("fit", first_output, y, several)  # labels checked before any step

    def forward() -> tuple[Value, list[Output]]:
        outputs = [model(x) for x in X]
        total = loss_function(outputs, y)
        if not isinstance(total, Value):
            raise TypeError(f"fit: the loss function must return a Value, got {total!r}")
        if l2 > 0.0:
            total = total + losses.l2_penalty(parameters, l2)
        return total, outputs

    compiled = compile_program(forward, has_aux=True, backend=backend) if compile else None
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    warned = False
    bar = tqdm(range(1, steps + 1), desc="training", disable=not progress, leave=True)
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
                f"fit: step {step} of {steps}: {error}. The weights are as they were before "
                "this step; if the numbers grew out of range, try a smaller learning rate"
            ) from error
        step_accuracy = _fraction_correct(outputs, classes)
        history["loss"].append(step_loss)
        history["accuracy"].append(step_accuracy)
        if not warned:
            lr = getattr(optimizer, "lr", None)
            warned = _warn_if_diverging(step, step_loss, history["loss"][0], lr)
        bar.set_postfix(
            loss=format_loss(step_loss), accuracy=format_accuracy(step_accuracy), refresh=False
        )
        if callback is not None:
            callback(step, step_loss, step_accuracy)
    bar.close()
    return history
