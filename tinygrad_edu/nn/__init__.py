"""Neural networks built from Values.

* :mod:`tinygrad_edu.nn.module`: :class:`Module`, the base class (parameters, state dicts);
* :mod:`tinygrad_edu.nn.mlp`: ``Neuron`` → ``Layer`` → ``MLP``.
"""

from tinygrad_edu.nn.mlp import ACTIVATIONS, MLP, Layer, Neuron
from tinygrad_edu.nn.module import Module

__all__ = ["ACTIVATIONS", "MLP", "Layer", "Module", "Neuron"]
