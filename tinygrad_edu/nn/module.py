"""The base class of every model: named parameters, gradients and state dicts.

A :class:`Module` only has to say what its parameters are (:meth:`Module.named_parameters`);
listing them, zeroing their gradients, saving and loading their numbers follow from that.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

from tinygrad_edu.engine import Value

__all__ = ["Module", "named_children", "prefixed"]


def prefixed(prefix: str, modules: Sequence[Module]) -> list[tuple[str, Value]]:
    """Named parameters of child modules, each name prefixed with ``prefix.<index>.``."""
    named = []
    for i, module in enumerate(modules):
        head = f"{prefix}.{i}."  # once per module, not once per parameter
        named += [(head + name, p) for name, p in module.named_parameters()]
    return named


def named_children(owner: object, names: Sequence[str]) -> list[tuple[str, Value]]:
    """Named parameters of the modules ``owner.<name>``, each name prefixed with ``<name>.``."""
    named = []
    for name in names:
        head = name + "."
        named += [(head + p_name, p) for p_name, p in getattr(owner, name).named_parameters()]
    return named


def _preview(names: Sequence[object], limit: int = 5) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


class Module:
    """Base class of everything with parameters.

    A subclass defines :meth:`named_parameters`; everything else (``parameters``,
    ``zero_grad``, ``state_dict``, ...) follows from it.
    """

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, parameter)`` pairs, in :meth:`parameters` order, with stable dotted names."""
        raise NotImplementedError(f"{type(self).__name__} must define named_parameters()")

    def parameters(self) -> list[Value]:
        """Every trainable Value of the module, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many scalars the module learns."""
        return len(self.named_parameters())

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.

        Gradients of leaves *accumulate* over ``backward()`` calls, so a training loop
        clears them before each backward pass.
        """
        for p in self.parameters():
            p.grad = 0.0

    def config(self) -> dict[str, object]:
        """The constructor's arguments that rebuild this module's shape: ``type(m)(**m.config())``.

        :func:`tinygrad_edu.nn.save` stores it next to the weights; a Module subclass
        defines it (with JSON-ready values) to be saved.
        """
        raise NotImplementedError(f"{type(self).__name__} must define config() to be saved")

    def _label_parameters(self) -> None:
        """Label each parameter with its name, so that drawn graphs show which weight is which."""
        for name, p in self.named_parameters():
            p.label = name

    def state_dict(self) -> dict[str, float]:
        """The parameters' numbers by name: a plain dict that ``json.dumps`` accepts.

        >>> import json
        >>> from tinygrad_edu.nn import MLP
        >>> model = MLP(2, [3, 1], seed=0)
        >>> copy = MLP(2, [3, 1], seed=1)
        >>> copy.load_state_dict(json.loads(json.dumps(model.state_dict())))
        >>> copy.state_dict() == model.state_dict()
        True
        """
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Set every parameter from ``state`` (as returned by :meth:`state_dict`).

        Strict: a missing or unexpected name raises ``KeyError``, a value that is not a
        finite real number raises ``ValueError``, each naming the entry. Atomic: every
        entry is checked before any parameter is changed, so after an error the module
        is exactly as it was. A whole file written by :func:`tinygrad_edu.nn.save` is not
        a state dict: read it with :func:`tinygrad_edu.nn.load`, which also rebuilds the
        model.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{owner}: expected a dict of name -> number, got {type(state).__name__}"
            )
        named = self.named_parameters()
        known = {name for name, _ in named}
        if "state_dict" in state and "state_dict" not in known:
            raise ValueError(
                f"{owner}: this is a whole saved model (it has a 'state_dict' entry), not a "
                "state dict; rebuild the model from the file with nn.load(path), or pass "
                "only its ['state_dict'] here"
            )
        missing = [name for name, _ in named if name not in state]
        if missing:
            raise KeyError(f"{owner}: missing entries {_preview(missing)}")
        unexpected = [name for name in state if name not in known]
        if unexpected:
            raise KeyError(f"{owner}: unexpected entries {_preview(unexpected)}")
        numbers_by_name = {}
        for name, _ in named:
            number = state[name]
            if isinstance(number, (bool, Value)) or not isinstance(number, numbers.Real):
                raise ValueError(
                    f"{owner}: entry {name!r} must be a real number, got {type(number).__name__}"
                )
            try:
                number = float(number)
            except OverflowError:  # an int or Fraction such as 10**400
                raise ValueError(
                    f"{owner}: entry {name!r} is too large for a float64 (above 1.8e308)"
                ) from None
            if not math.isfinite(number):
                raise ValueError(f"{owner}: entry {name!r} must be finite, got {number!r}")
            numbers_by_name[name] = number
        for name, p in named:
            p.data = numbers_by_name[name]
