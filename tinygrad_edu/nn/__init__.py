"""Neural networks built from Values.

* :mod:`tinygrad_edu.nn.module`: :class:`Module`, the base class (parameters, state dicts);
* :mod:`tinygrad_edu.nn.mlp`: ``Neuron`` → ``Layer`` → ``MLP``;
* :mod:`tinygrad_edu.nn.saving`: ``save(model, path)`` and ``load(path)``, a model file
  with its kind, its shape and its weights.
* :mod:`tinygrad_edu.nn.layers`: ``Linear``, ``Embedding``, ``rms_norm``/``RMSNorm``, attention;
* :mod:`tinygrad_edu.nn.gpt`: ``GPT``, a character-level transformer.
"""

from tinygrad_edu.nn.gpt import GPT, Block
from tinygrad_edu.nn.layers import (
    CausalSelfAttention,
    Embedding,
    Linear,
    RMSNorm,
    attention,
    attention_weights,
    rms_norm,
)
from tinygrad_edu.nn.mlp import ACTIVATIONS, MLP, Layer, Neuron
from tinygrad_edu.nn.module import Module
from tinygrad_edu.nn.saving import load, register, save

__all__ = [
    "ACTIVATIONS",
    "GPT",
    "MLP",
    "Block",
    "CausalSelfAttention",
    "Embedding",
    "Layer",
    "Linear",
    "Module",
    "Neuron",
    "RMSNorm",
    "attention",
    "attention_weights",
    "load",
    "register",
    "rms_norm",
    "save",
]
