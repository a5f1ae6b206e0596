"""Neural networks built from Values: ``Neuron`` → ``Layer`` → ``MLP``.

A neuron computes ``activation(w · x + b)``. A layer is a list of neurons that all
see the same inputs; an MLP (multi-layer perceptron) feeds each layer's outputs to
the next. Every weight and bias is a leaf :class:`~tinygrad_edu.engine.Value`, so
after ``loss.backward()`` each parameter's ``.grad`` says how the loss changes when
that parameter is nudged, which is all an optimizer needs.

>>> model = MLP(2, [16, 16, 1], seed=0)
>>> model
MLP(2 -> [16 relu, 16 relu, 1 linear], 337 parameters)
>>> score = model([0.5, -1.0])          # one Value: the last layer has one neuron
>>> score.backward()                    # fills .grad of all 337 parameters
>>> model.named_parameters()[0][0]
'layers.0.neurons.0.w.0'

The weighted sum ``b + w_1 x_1 + ... + w_n x_n`` is one graph node
(:func:`~tinygrad_edu.engine.weighted_sum`, drawn as ``w·x+b``) rather than ``2n``
separate multiplications and additions; the numbers and gradients are bit for bit
those of the unfused sum, and the graph is two to three times smaller (leaves count
too: ``MLP(2, [16, 16, 1])`` has 402 nodes instead of 977).

Initialisation. Weights are drawn from a uniform distribution ``U(-a, a)`` with
``a = sqrt(3 · gain² / nin)``, which gives each weight the variance ``gain² / nin``:
the sum of ``nin`` such terms keeps the signal's scale from layer to layer.

* relu: ``gain² = 2`` (He et al., 2015), because relu zeroes half of its inputs;
* leaky_relu: ``gain² = 2 / (1 + slope²)``;
* tanh, sigmoid and linear: ``gain² = 1`` (LeCun; the fan-in form of Glorot/Xavier).

Biases start at 0. The numbers come from a private ``random.Random(seed)``, so a seed
reproduces a model exactly and the global :mod:`random` state is never touched.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from operator import methodcaller

from tinygrad_edu._checks import check_int, random_generator
from tinygrad_edu.engine import Operand, Value, weighted_sum
from tinygrad_edu.nn.module import Module, prefixed

__all__ = ["ACTIVATIONS", "MLP", "Layer", "Neuron"]


# --------------------------------------------------------------------------- activations

#: Activation name -> the function applied to the weighted sum (None: "linear", no function).
# Called as methods (v.relu()), not as Value.relu(v), so a Value subclass such as forward
# mode's dual number applies its own version.
ACTIVATIONS: dict[str, Callable[[Value], Value] | None] = {
    "relu": methodcaller("relu"),
    "leaky_relu": methodcaller("leaky_relu"),  # slope 0.01
    "tanh": methodcaller("tanh"),
    "sigmoid": methodcaller("sigmoid"),
    "linear": None,
}

_LEAKY_SLOPE = 0.01  # Value.leaky_relu's default, needed for the initialisation gain

# gain² in Var(w) = gain² / nin, see the module docstring
_GAIN_SQUARED = {
    "relu": 2.0,
    "leaky_relu": 2.0 / (1.0 + _LEAKY_SLOPE**2),
    "tanh": 1.0,
    "sigmoid": 1.0,
    "linear": 1.0,
}


def _check_activation(owner: str, activation: object) -> str:
    if not isinstance(activation, str):
        raise TypeError(f"{owner}: activation must be a str, got {type(activation).__name__}")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{owner}: unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    return activation


def _check_inputs(owner: str, nin: int, x: Sequence[Operand]) -> None:
    """One sample of ``nin`` inputs; a batch (a list of samples) is refused, saying so."""
    try:
        got = len(x)
    except TypeError:
        raise TypeError(
            f"{owner}: expected a list of {nin} numbers or Values, got {type(x).__name__}"
        ) from None
    # A sample's first entry is a number; a batch's is a sample (a list, a NumPy row).
    if got and (isinstance(x[0], (list, tuple)) or getattr(x[0], "ndim", 0) >= 1):
        raise TypeError(
            f"{owner}: one sample at a time; use [model(x) for x in X] (given a batch of "
            f"{got} sample{'s' * (got != 1)}, expected one sample of {nin} inputs)"
        )
    if got != nin:
        raise ValueError(f"{owner}: expected {nin} inputs, got {got}")


def _single_or_list(outputs: list[Value]) -> Value | list[Value]:
    return outputs[0] if len(outputs) == 1 else outputs


# --------------------------------------------------------------------------- modules


class Neuron(Module):
    """``activation(w · x + b)``: ``nin`` weights, one bias and an activation.

    Parameters are named ``w.0`` … ``w.{nin-1}`` and ``b``. The activation is one of
    ``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"`` or ``"linear"`` (none);
    ``seed`` is an int, a ``random.Random`` to draw the weights from, or None.

    >>> n = Neuron(3, activation="tanh", seed=0)
    >>> y = n([1.0, 2.0, -1.0])       # tanh(b + w_0*1 + w_1*2 + w_2*(-1))
    >>> y.op, y.parents[0].op
    ('tanh', 'w·x+b')
    """

    def __init__(
        self, nin: int, activation: str = "relu", *, seed: int | random.Random | None = None
    ) -> None:
        self.nin = check_int("Neuron", "nin", nin)
        self.activation = _check_activation("Neuron", activation)
        rng = random_generator("Neuron", seed)
        bound = math.sqrt(3.0 * _GAIN_SQUARED[activation] / self.nin)
        self.w = [Value(rng.uniform(-bound, bound)) for _ in range(self.nin)]
        self.b = Value(0.0)
        self._activate = ACTIVATIONS[activation]
        self._label_parameters()

    def _forward(self, x: Sequence[Operand]) -> Value:
        out = weighted_sum(self.w, x, self.b)
        return out if self._activate is None else self._activate(out)

    def __call__(self, x: Sequence[Operand]) -> Value:
        _check_inputs("Neuron", self.nin, x)
        return self._forward(x)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [*((f"w.{i}", w) for i, w in enumerate(self.w)), ("b", self.b)]

    def config(self) -> dict[str, object]:
        return {"nin": self.nin, "activation": self.activation}

    def __repr__(self) -> str:
        return f"Neuron({self.nin} inputs, {self.activation}, {self.num_parameters()} parameters)"


class Layer(Module):
    """``nout`` neurons that all read the same ``nin`` inputs.

    Calling it returns one Value per neuron (a single Value when ``nout == 1``).
    Parameters are named ``neurons.<i>.w.<j>`` and ``neurons.<i>.b``.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        *,
        seed: int | random.Random | None = None,
    ) -> None:
        self.nin = check_int("Layer", "nin", nin)
        self.nout = check_int("Layer", "nout", nout)
        self.activation = _check_activation("Layer", activation)
        rng = random_generator("Layer", seed)
        self.neurons = [Neuron(nin, activation, seed=rng) for _ in range(self.nout)]
        self._label_parameters()

    def _forward(self, x: Sequence[Operand]) -> list[Value]:
        return [neuron._forward(x) for neuron in self.neurons]

    def __call__(self, x: Sequence[Operand]) -> Value | list[Value]:
        _check_inputs("Layer", self.nin, x)
        return _single_or_list(self._forward(x))

    def named_parameters(self) -> list[tuple[str, Value]]:
        return prefixed("neurons", self.neurons)

    def config(self) -> dict[str, object]:
        return {"nin": self.nin, "nout": self.nout, "activation": self.activation}

    def __repr__(self) -> str:
        return (
            f"Layer({self.nin} -> {self.nout} {self.activation}, "
            f"{self.num_parameters()} parameters)"
        )


class MLP(Module):
    """A multi-layer perceptron: layers of sizes ``nouts`` applied one after another.

    ``MLP(2, [16, 16, 1])`` maps 2 inputs through two hidden layers of 16 ``activation``
    neurons to 1 output. The last layer uses ``output_activation`` (default
    ``"linear"``: raw scores or logits, which is what the losses expect). Parameters are
    named ``layers.<k>.neurons.<i>.w.<j>`` and ``layers.<k>.neurons.<i>.b``, and each
    parameter's ``.label`` is its name.

    Calling the model on a list of ``nin`` numbers or Values returns a Value when the
    last layer has one neuron, else a list of Values.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        seed: int | random.Random | None = None,
        *,
        output_activation: str = "linear",
    ) -> None:
        self.nin = check_int("MLP", "nin", nin)
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(f"MLP: nouts must be a non-empty list of layer sizes, got {nouts!r}")
        sizes = [self.nin, *(check_int("MLP", "layer size", n) for n in nouts)]
        self.activation = _check_activation("MLP", activation)
        self.output_activation = _check_activation("MLP", output_activation)
        rng = random_generator("MLP", seed)
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[k], sizes[k + 1], output_activation if k == last else activation, seed=rng)
            for k in range(len(nouts))
        ]
        self._label_parameters()

    def __call__(self, x: Sequence[Operand]) -> Value | list[Value]:
        _check_inputs("MLP", self.nin, x)
        for layer in self.layers:
            x = layer._forward(x)
        return _single_or_list(x)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return prefixed("layers", self.layers)

    def config(self) -> dict[str, object]:
        return {
            "nin": self.nin,
            "nouts": [layer.nout for layer in self.layers],
            "activation": self.activation,
            "output_activation": self.output_activation,
        }

    def __repr__(self) -> str:
        layers = ", ".join(f"{layer.nout} {layer.activation}" for layer in self.layers)
        return f"MLP({self.nin} -> [{layers}], {self.num_parameters()} parameters)"
