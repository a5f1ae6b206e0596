"""Saving a trained model to a file and loading it back: :func:`save` and :func:`load`.

A state dict (:meth:`Module.state_dict`) holds only the numbers; to use them you must
first build a model of the right shape. A saved file holds everything needed to build it
again, so ``nn.load(path)`` returns a ready model::

    {
      "format": "tinygrad_edu.model",
      "version": 1,
      "kind": "MLP",
      "config": {"nin": 2, "nouts": [16, 16, 1], "activation": "relu",
                 "output_activation": "linear"},
      "state_dict": {"layers.0.neurons.0.w.0": 0.8467..., ...},
      "metadata": {...}
    }

``kind`` names the model's class, ``config`` is what its constructor needs
(``MLP(**config)``), ``state_dict`` is the numbers and the optional ``metadata`` is
anything the caller wants to keep with them (the command line records how the model was
trained). It is JSON, so any tool can read it.

Saving is atomic: the file is written to a temporary file and renamed into place, so a
crash or a full disk never leaves half a file. Loading is strict and all-or-nothing: a
file that is not exactly this format, a kind that is not registered, a config the
constructor refuses, or a state dict with a missing, extra or non-finite entry raises a
``ValueError`` naming the file and the problem, and no model is returned.

A model class can be saved when it has a ``config()`` method returning its constructor's
arguments as JSON-ready values, and is registered under its kind name::

    class MyModel(Module):
        def config(self) -> dict: return {"width": self.width}
    register(MyModel)            # or @register above the class

>>> import os, tempfile
>>> from tinygrad_edu.nn import MLP
>>> model = MLP(2, [3, 1], activation="tanh", seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "model.json")
>>> _ = save(model, path)
>>> copy = load(path)
>>> copy
MLP(2 -> [3 tanh, 1 linear], 13 parameters)
>>> copy.state_dict() == model.state_dict()
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from tinygrad_edu._files import write_atomically
from tinygrad_edu.nn.mlp import MLP, Layer, Neuron
from tinygrad_edu.nn.module import Module

__all__ = ["FORMAT", "MODEL_KINDS", "VERSION", "load", "register", "save"]

#: The ``"format"`` entry of every saved file, and the version of the layout described above.
FORMAT = "tinygrad_edu.model"
VERSION = 1

#: Kind name -> model class: what :func:`load` may build. Add to it with :func:`register`.
MODEL_KINDS: dict[str, type[Module]] = {}

_REQUIRED = ("format", "version", "kind", "config", "state_dict")
_OPTIONAL = ("metadata",)

M = TypeVar("M", bound=type[Module])


def register(model_class: M) -> M:
    """Let :func:`save` and :func:`load` handle ``model_class``, under its class name.

    The class must be a :class:`Module` with a ``config()`` method (see the module
    docstring). Returns the class, so it also works as a decorator. Registering a
    different class under a name already taken is a ValueError.
    """
    if not (isinstance(model_class, type) and issubclass(model_class, Module)):
        raise TypeError(f"nn.register: expected a Module class, got {model_class!r}")
    kind = model_class.__name__
    if MODEL_KINDS.get(kind, model_class) is not model_class:
        raise ValueError(f"nn.register: the kind {kind!r} is already taken by another class")
    MODEL_KINDS[kind] = model_class
    return model_class


for _builtin in (Neuron, Layer, MLP):
    register(_builtin)


def save(
    model: Module,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, object] | None = None,
) -> Path:
    """Write ``model`` (its kind, its constructor's arguments and its weights) to ``path``.

    ``metadata``, if given, is stored as it is (it must be JSON-ready). The file is
    written atomically. Returns the path written; :func:`load` reads it back.
    """
    if not isinstance(model, Module):
        raise TypeError(f"nn.save: model must be a Module, got {type(model).__name__}")
    kind = type(model).__name__
    if MODEL_KINDS.get(kind) is not type(model):
        raise TypeError(
            f"nn.save: {kind} is not a registered kind of model; give it a config() method "
            f"and call nn.register({kind}) (registered: {', '.join(MODEL_KINDS)})"
        )
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"nn.save: metadata must be a dict, got {type(metadata).__name__}")
    data: dict[str, object] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "config": model.config(),
        "state_dict": model.state_dict(),
    }
    if metadata is not None:
        data["metadata"] = dict(metadata)
    try:
        text = json.dumps(data, indent=2, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"nn.save: the config or metadata cannot be written as JSON: {error}"
        ) from None
    return write_atomically(path, text + "\n")


def _refuse_constant(name: str) -> float:
    """JSON's NaN and Infinity are not numbers a model may hold."""
    raise ValueError(f"{name} is not a finite number")


def load(path: str | os.PathLike[str]) -> Module:
    """Build the model saved at ``path`` by :func:`save`, weights and all.

    Raises ``ValueError`` (naming the file and the problem) for anything but a complete,
    well-formed saved model; ``OSError`` if the file cannot be read.
    """
    where = f"nn.load: {os.fspath(path)!r}"
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{where} is not a saved model: not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(
            f'{where} is not a saved model: it has no "format": {json.dumps(FORMAT)} entry '
            "(nn.load reads files written by nn.save)"
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ValueError(f"{where}: missing entries {', '.join(missing)}")
    unexpected = [key for key in data if key not in _REQUIRED + _OPTIONAL]
    if unexpected:
        raise ValueError(f"{where}: unexpected entries {', '.join(map(repr, unexpected))}")
    if data["version"] != VERSION or isinstance(data["version"], bool):
        raise ValueError(
            f"{where}: format version {data['version']!r}; this version of tinygrad_edu "
            f"reads version {VERSION}"
        )
    kind, config, state = data["kind"], data["config"], data["state_dict"]
    if kind not in MODEL_KINDS:
        raise ValueError(
            f"{where}: unknown kind of model {kind!r}; known: {', '.join(MODEL_KINDS)}"
        )
    if not isinstance(config, dict):
        raise ValueError(f"{where}: config must be an object, got {type(config).__name__}")
    if not isinstance(state, dict):
        raise ValueError(f"{where}: state_dict must be an object, got {type(state).__name__}")
    if "metadata" in data and not isinstance(data["metadata"], dict):
        raise ValueError(f"{where}: metadata must be an object")
    try:
        model = MODEL_KINDS[kind](**config)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: its config does not build a model of kind {kind}: {error}"
        ) from None
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError) as error:
        raise ValueError(f"{where}: {error.args[0]}") from None
    return model
