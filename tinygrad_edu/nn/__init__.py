"""Neural networks built from Values.

* :mod:`tinygrad_edu.nn.module`: :class:`Module`, the base class (parameters, state dicts);
* :mod:`tinygrad_edu.nn.mlp`: ``Neuron`` → ``Layer`` → ``MLP``;
* :mod:`tinygrad_edu.nn.saving`: ``save(model, path)`` and ``load(path)``, a model file
  with its kind, its shape and its weights.
"""

from tinygrad_edu.nn.mlp import ACTIVATIONS, MLP, Layer, Neuron
from tinygrad_edu.nn.module import Module
from tinygrad_edu.nn.saving import load, register, save

__all__ = ["ACTIVATIONS", "MLP", "Layer", "Module", "Neuron", "load", "register", "save"]
