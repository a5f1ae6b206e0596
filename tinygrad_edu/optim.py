"""Optimizers: turn the gradients that ``backward()`` computed into better weights.

Backpropagation only *measures* (``p.grad`` = d loss / d p); the optimizer decides how
to move each parameter with that information. The update rules are those of
``torch.optim`` (same formulas, same order of operations), so a trajectory here
matches PyTorch's on the same problem.

A training step::

    optimizer.zero_grad()        # gradients of leaves accumulate: clear them first
    loss = ...                   # forward pass
    loss.backward()              # backpropagation: fills p.grad
    optimizer.step()             # the update: changes p.data

``step()`` refuses a gradient that is infinite or NaN, and an update that would make a
weight infinite (both typically come from too large a learning rate): it raises
``FloatingPointError`` naming the parameter *before* changing anything, so the model
and the optimizer's own state are left as they were, instead of filled with NaN.

A parameter whose ``.grad`` is ``None`` has no gradient this step, as in PyTorch: the
optimizer skips it (its weight, its momentum and, for Adam, its own step count stay as
they are). Setting ``p.grad = None`` is how to freeze a parameter for one step;
``backward()`` fills it in again.

``state_dict()`` returns everything an optimizer or a schedule carries from one step to
the next (the hyperparameters, the momentum buffers, Adam's moments and step counts, a
schedule's epoch) as JSON-ready numbers, and ``load_state_dict(state)`` puts it back: a
training run saved with its model and optimizer continues, after loading both, exactly
(bit for bit) as if it had never stopped.

A learning-rate schedule (:class:`StepLR`, :class:`CosineAnnealingLR`, :class:`LinearLR`) changes
``optimizer.lr`` between steps; call its ``step()`` once per optimizer step (or epoch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from tinygrad_edu._checks import check_int, check_real
from tinygrad_edu.engine import Value
from tinygrad_edu.nn import Module

__all__ = [
    "SGD",
    "Adam",
    "CosineAnnealingLR",
    "LRScheduler",
    "LinearLR",
    "Optimizer",
    "StepLR",
]


class _Resumable:
    """``state_dict()`` and ``load_state_dict()`` for optimizers and schedules.

    A subclass says what its state is made of: ``_settings()``, its constructor's
    arguments (``lr``, ``momentum``, ...), and ``_buffers()``, what it has accumulated
    over the steps (momentum buffers, Adam's moments, a schedule's epoch). Loading checks
    the settings by building a fresh object with them (``_fresh``: the constructor's own
    checks) and the buffers with ``_checked_buffers``, and changes nothing unless all of
    it is valid.
    """

    def _settings(self) -> dict[str, object]:
        raise NotImplementedError(f"{type(self).__name__} must define _settings()")

    def _buffers(self) -> dict[str, object]:
        raise NotImplementedError(f"{type(self).__name__} must define _buffers()")

    def _fresh(self, settings: dict[str, object]) -> _Resumable:
        raise NotImplementedError(f"{type(self).__name__} must define _fresh()")

    def _checked_buffers(self, owner: str, buffers: dict[str, object]) -> dict[str, object]:
        raise NotImplementedError(f"{type(self).__name__} must define _checked_buffers()")

    def state_dict(self) -> dict[str, object]:
        """The settings and the accumulated state, as a new JSON-ready dict.

        ``json.dumps`` writes it as it is, and every float reads back as the same float.
        """
        buffers = {k: list(v) if isinstance(v, list) else v for k, v in self._buffers().items()}
        return {**self._settings(), **buffers}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Take the settings and the state from ``state`` (as :meth:`state_dict` returns it).

        Strict and all-or-nothing: a missing or unexpected entry, or a value that is
        not valid (a negative learning rate, a list of the wrong length, a NaN), raises
        ``ValueError`` or ``TypeError`` naming it, and nothing is changed.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{owner}: expected a dict from state_dict(), got {type(state).__name__}"
            )
        settings, buffers = self._settings(), self._buffers()
        missing = [key for key in (*settings, *buffers) if key not in state]
        unexpected = [key for key in state if key not in settings and key not in buffers]
        if missing or unexpected:
            problems = [f"missing {', '.join(map(repr, missing))}"] * bool(missing)
            problems += [f"unexpected {', '.join(map(repr, unexpected))}"] * bool(unexpected)
            raise ValueError(f"{owner}: {'; '.join(problems)} (keys of {type(self).__name__})")
        try:
            fresh = self._fresh({key: state[key] for key in settings})
        except (TypeError, ValueError) as error:
            raise type(error)(f"{owner}: {error}") from None
        checked = self._checked_buffers(owner, {key: state[key] for key in buffers})
        vars(self).update(vars(fresh))  # the settings (and, for now, fresh buffers) ...
        vars(self).update(checked)  # ... then the state: nothing changed until all was valid


def _number_list(
    owner: str,
    name: str,
    value: object,
    length: int,
    *,
    at_least: float = -math.inf,
    missing: bool = False,
) -> list:
    """``value`` as a list of ``length`` finite floats >= ``at_least`` (and ``None``s if
    ``missing`` allows them), or a ValueError/TypeError naming the entry."""
    if not isinstance(value, list) or len(value) != length:
        size = len(value) if isinstance(value, list) else type(value).__name__
        raise ValueError(f"{owner}: {name} must be a list of {length} numbers, got {size}")
    numbers = []
    for i, x in enumerate(value):
        if x is None and missing:
            numbers.append(None)
            continue
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise TypeError(f"{owner}: {name}[{i}] must be a number, got {type(x).__name__}")
        if not (math.isfinite(x) and x >= at_least):
            raise ValueError(f"{owner}: {name}[{i}] = {x!r} is not a finite number >= {at_least}")
        numbers.append(float(x))
    return numbers


class Optimizer(_Resumable):
    """Holds the parameters and the learning rate; subclasses define :meth:`step`."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        owner = type(self).__name__
        if isinstance(params, (Module, Value)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{owner}: params must be a list of Values (e.g. model.parameters()), "
                f"got {type(params).__name__}"
            )
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{owner}: params is empty; there is nothing to optimize")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{owner}: params[{i}] must be a Value, got {type(p).__name__}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{owner}: a parameter appears twice; it would be updated twice")
        self.lr = check_real(owner, "lr", lr, above=0.0)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (they accumulate over ``backward()`` calls)."""
        for p in self.params:
            p.grad = 0.0

    def _gradients(self) -> list[float | None]:
        """Every parameter's gradient (``None``: it has none this step); raises
        FloatingPointError if one is inf or NaN."""
        grads = [p.grad for p in self.params]
        self._refuse_non_finite(grads, "the gradient of parameter {name} is {x!r}")
        return grads

    def _write(self, new_data: list[float]) -> None:
        """Set every parameter's ``.data``, or none of them if one would not be finite."""
        self._refuse_non_finite(new_data, "the update would make parameter {name} {x!r}")
        for p, x in zip(self.params, new_data):
            p._data = x  # a finite float (checked above): no need for the .data setter's checks

    def _refuse_non_finite(self, numbers: list[float | None], problem: str) -> None:
        """FloatingPointError naming the first parameter whose number is inf or NaN.

        ``problem`` says what is wrong, with ``{name}`` and ``{x}`` filled in. ``None``
        (no gradient) is not a number to check.
        """
        if None not in numbers and all(map(math.isfinite, numbers)):  # the usual case
            return
        for i, x in enumerate(numbers):
            if x is not None and not math.isfinite(x):
                p = self.params[i]
                name = f"{p.label!r}" if p.label else f"#{i}"
                raise FloatingPointError(
                    f"{type(self).__name__}.step: {problem.format(name=name, x=x)}; "
                    "no parameter was changed (the loss probably diverged: "
                    "try a smaller learning rate)"
                )

    def step(self) -> None:
        """Update every parameter's ``.data`` from its ``.grad`` (skipping ``.grad is None``)."""
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def _fresh(self, settings: dict[str, object]) -> Optimizer:
        return type(self)(self.params, **settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr!r})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum and weight decay.

    For each parameter p with gradient g (as ``torch.optim.SGD``, dampening 0)::

        g = g + weight_decay * p                 # L2 regularisation, see l2_penalty
        b = g                  on the first step # the momentum buffer (a running sum
        b = momentum * b + g   afterwards        #   of past gradients: a "velocity")
        g = b                  (or g + momentum * b with nesterov=True)
        p = p - lr * g

    With ``momentum=0`` this is plain gradient descent, ``p -= lr * g``. Momentum lets
    steps that keep the same direction build up speed and those that oscillate cancel.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        *,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = check_real("SGD", "momentum", momentum, at_least=0.0, below=1.0)
        self.weight_decay = check_real("SGD", "weight_decay", weight_decay, at_least=0.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.nesterov = nesterov
        # the momentum buffers, one per parameter: None until its first gradient
        self.velocity: list[float | None] = [None] * len(self.params)

    def step(self) -> None:
        """One update of every parameter that has a gradient (see the class docstring)."""
        grads = self._gradients()
        if self.weight_decay:
            grads = [
                None if g is None else g + self.weight_decay * p._data
                for p, g in zip(self.params, grads)
            ]
        velocity = self.velocity
        if self.momentum:
            momentum = self.momentum
            velocity = [
                b if g is None else g if b is None else momentum * b + g
                for b, g in zip(velocity, grads)
            ]
            # the direction of the step (None where there is no gradient: no step at all)
            if self.nesterov:
                grads = [None if g is None else g + momentum * b for g, b in zip(grads, velocity)]
            else:
                grads = [None if g is None else b for g, b in zip(grads, velocity)]
        self._write(
            [p._data if g is None else p._data - self.lr * g for p, g in zip(self.params, grads)]
        )
        self.velocity = velocity  # kept only once the step has succeeded

    def _settings(self) -> dict[str, object]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
        }

    def _buffers(self) -> dict[str, object]:
        return {"velocity": self.velocity}

    def _checked_buffers(self, owner: str, buffers: dict[str, object]) -> dict[str, object]:
        n = len(self.params)
        return {"velocity": _number_list(owner, "velocity", buffers["velocity"], n, missing=True)}


class Adam(Optimizer):
    """Adam: a per-parameter step size from running averages of the gradient and its square.

    For each parameter p with gradient g, at step t = 1, 2, ... (as ``torch.optim.Adam``)::

        g = g + weight_decay * p                 # L2-style decay, added to the gradient
        m = beta1 * m + (1 - beta1) * g          # mean of recent gradients (momentum)
        v = beta2 * v + (1 - beta2) * g * g      # mean of recent squared gradients
        m_hat = m / (1 - beta1 ** t)             # bias correction: m and v start at 0,
        v_hat = v / (1 - beta2 ** t)             #   which would make early steps too small
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    Dividing by ``sqrt(v_hat)`` makes the step about ``lr`` in size whatever the scale
    of the gradient, so one learning rate suits all parameters.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = check_real("Adam", "betas[0]", betas[0], at_least=0.0, below=1.0)
        self.beta2 = check_real("Adam", "betas[1]", betas[1], at_least=0.0, below=1.0)
        self.eps = check_real("Adam", "eps", eps, above=0.0)
        self.weight_decay = check_real("Adam", "weight_decay", weight_decay, at_least=0.0)
        self.t = 0  # how many times step() ran
        self.steps = [0] * len(self.params)  # how many of those updated each parameter
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def step(self) -> None:
        """One update of every parameter that has a gradient (see the class docstring).

        Each parameter's ``t`` in the bias correction is its own number of updates, as
        in PyTorch: a parameter skipped (``.grad is None``) does not count the step.
        """
        grads = [p.grad for p in self.params]  # checked below, through v
        together = self._in_step()  # the usual case: all in one go
        if together:
            t = self.steps[0] + 1
            try:
                data = [p._data for p in self.params]
                m, v, new_data = self._update(data, grads, self.m, self.v, t)
            except TypeError:  # a gradient is None (rest1 * None): that one is skipped
                together = False
            steps = [t] * len(self.params)
        if not together:  # some have no gradient, or counts that differ: each count on its own
            m, v, steps = list(self.m), list(self.v), list(self.steps)
            new_data = [p._data for p in self.params]
            groups: dict[int, list[int]] = {}  # t -> the parameters at that step
            for i, (g, count) in enumerate(zip(grads, self.steps)):
                if g is not None:
                    groups.setdefault(count + 1, []).append(i)
            for t, where in groups.items():
                results = self._update(
                    [self.params[i]._data for i in where],
                    [grads[i] for i in where],
                    [m[i] for i in where],
                    [v[i] for i in where],
                    t,
                )
                for i, m_i, v_i, x in zip(where, *results):
                    m[i], v[i], new_data[i], steps[i] = m_i, v_i, x, t
        # A gradient that is inf or nan makes its v so too, so one pass over v checks both.
        if not all(map(math.isfinite, v)):
            self._gradients()  # raises, naming the parameter, if its gradient is inf or nan
            # g * g overflows for |g| > 1.3e154: v would stay inf and freeze the parameter
            self._refuse_non_finite(v, "the squared gradient of parameter {name} overflows ({x!r})")
        self._write(new_data)
        # kept only once the step has succeeded
        self.t, self.steps, self.m, self.v = self.t + 1, steps, m, v

    def _in_step(self) -> bool:
        """Whether every parameter has had as many updates (so one ``t`` serves them all)."""
        return self.steps.count(self.steps[0]) == len(self.steps)

    def _factors(self, t: int) -> tuple[float, float, float, float]:
        """The numbers the update at step ``t`` shares by all parameters: the step size
        and the correction of sqrt(v) (the bias corrections folded in, as PyTorch does),
        ``1 - beta1`` and ``1 - beta2`` (computed once, not once per parameter)."""
        step_size = self.lr / (1.0 - self.beta1**t)
        v_correction = math.sqrt(1.0 - self.beta2**t)
        return step_size, v_correction, 1.0 - self.beta1, 1.0 - self.beta2

    def _update(
        self, data: list[float], grads: list[float], m: list[float], v: list[float], t: int
    ) -> tuple[list[float], list[float], list[float]]:
        """The rule of the class docstring for parameters at step ``t``: new m, v and data.

        On plain floats (the parameters' numbers ``data``), so that a compiled step
        (:mod:`tinygrad_edu.step`) runs the very same update on its flat lists.
        """
        beta1, beta2 = self.beta1, self.beta2
        step_size, v_correction, rest1, rest2 = self._factors(t)
        if self.weight_decay:
            grads = [g + self.weight_decay * p for p, g in zip(data, grads)]
        # One list per quantity: each line is the formula above, and the loops run fast.
        m = [beta1 * m_i + rest1 * g for m_i, g in zip(m, grads)]
        v = [beta2 * v_i + rest2 * g * g for v_i, g in zip(v, grads)]
        eps, sqrt = self.eps, math.sqrt
        new_data = [
            p - step_size * (m_i / (sqrt(v_i) / v_correction + eps))
            for p, m_i, v_i in zip(data, m, v)
        ]
        return m, v, new_data

    def _settings(self) -> dict[str, object]:
        return {
            "lr": self.lr,
            "betas": [self.beta1, self.beta2],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def _buffers(self) -> dict[str, object]:
        return {"t": self.t, "steps": self.steps, "m": self.m, "v": self.v}

    def _checked_buffers(self, owner: str, buffers: dict[str, object]) -> dict[str, object]:
        n = len(self.params)
        t = check_int(owner, "t", buffers["t"], at_least=0)
        steps = buffers["steps"]
        if not (
            isinstance(steps, list)
            and len(steps) == n
            and all(type(s) is int and 0 <= s <= t for s in steps)
        ):
            raise ValueError(f"{owner}: steps must be a list of {n} ints from 0 to t ({t})")
        return {
            "t": t,
            "steps": list(steps),
            "m": _number_list(owner, "m", buffers["m"], n),
            "v": _number_list(owner, "v", buffers["v"], n, at_least=0.0),
        }


# --------------------------------------------------------------------------- schedules


class LRScheduler(_Resumable):
    """Sets ``optimizer.lr`` from a formula in the number of ``step()`` calls so far.

    Subclasses define :meth:`lr_at`. The learning rate given to the optimizer is the
    schedule's starting value (``base_lr``); each ``step()`` moves one epoch on.
    ``state_dict()`` holds the settings, ``base_lr`` and ``epoch``; the learning rate
    the schedule last set is in the optimizer's own ``state_dict()``.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:
        """The learning rate after ``epoch`` calls of :meth:`step`."""
        raise NotImplementedError(f"{type(self).__name__} must define lr_at()")

    def step(self) -> None:
        """Advance one epoch and set the optimizer's learning rate for it."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)

    def _settings(self) -> dict[str, object]:
        return {}  # a subclass adds its constructor's arguments

    def _fresh(self, settings: dict[str, object]) -> LRScheduler:
        return type(self)(self.optimizer, **settings)

    def _buffers(self) -> dict[str, object]:
        return {"base_lr": self.base_lr, "epoch": self.epoch}

    def _checked_buffers(self, owner: str, buffers: dict[str, object]) -> dict[str, object]:
        return {
            "base_lr": check_real(owner, "base_lr", buffers["base_lr"], above=0.0),
            "epoch": check_int(owner, "epoch", buffers["epoch"], at_least=0),
        }


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr * gamma ** (epoch // step_size)`` (as ``torch.optim.lr_scheduler.StepLR``).
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = check_int("StepLR", "step_size", step_size)
        self.gamma = check_real("StepLR", "gamma", gamma, above=0.0)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)

    def _settings(self) -> dict[str, object]:
        return {"step_size": self.step_size, "gamma": self.gamma}


class CosineAnnealingLR(LRScheduler):
    """Lower the learning rate from ``base_lr`` to ``eta_min`` along half a cosine.

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``: slow
    at first, fastest halfway, gentle again near ``T_max`` (as
    ``torch.optim.lr_scheduler.CosineAnnealingLR`` up to ``T_max``). After ``T_max``
    epochs the learning rate stays at ``eta_min``.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        super().__init__(optimizer)
        self.T_max = check_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = check_real("CosineAnnealingLR", "eta_min", eta_min, at_least=0.0)

    def lr_at(self, epoch: int) -> float:
        progress = min(epoch, self.T_max) / self.T_max
        return (
            self.eta_min + (self.base_lr - self.eta_min) * (1.0 + math.cos(math.pi * progress)) / 2
        )

    def _settings(self) -> dict[str, object]:
        return {"T_max": self.T_max, "eta_min": self.eta_min}


class LinearLR(LRScheduler):
    """Lower the learning rate in a straight line from ``base_lr`` to 0 over ``total_steps``.

    ``lr = base_lr * (1 - epoch / total_steps)``: the first step uses ``base_lr``, the
    last one ``base_lr / total_steps``, and after ``total_steps`` epochs it stays 0. Small
    steps at the end let the weights settle instead of jumping around a minimum (the
    schedule of the classic scalar GPT recipe; ``torch.optim.lr_scheduler.LinearLR``
    with ``start_factor=1``, ``end_factor=0``, ``total_iters=total_steps``).
    """

    def __init__(self, optimizer: Optimizer, total_steps: int) -> None:
        super().__init__(optimizer)
        self.total_steps = check_int("LinearLR", "total_steps", total_steps)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * (1.0 - min(epoch, self.total_steps) / self.total_steps)

    def _settings(self) -> dict[str, object]:
        return {"total_steps": self.total_steps}
