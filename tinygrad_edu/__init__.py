"""tinygrad_edu: a scalar reverse-mode automatic differentiation engine for learning.

>>> from tinygrad_edu import Value
>>> x, w, b = Value(2.0, "x"), Value(-3.0, "w"), Value(1.0, "b")
>>> y = (w * x + b).tanh()
>>> y.backward()
>>> round(w.grad, 6)     # dy/dw = x * (1 - tanh(w x + b)**2)
0.000363

The package, from the bottom up: ``operators`` (float kernels) → ``engine`` (Value and
backward) → ``functional`` (grad) and ``gradient_check`` → ``nn``, ``losses``, ``optim``,
``datasets``, ``training`` → ``viz`` (pictures) → ``cli`` (the command line).
"""

from tinygrad_edu import datasets, losses, nn, optim, training, viz
from tinygrad_edu.engine import (
    Value,
    enable_grad,
    is_grad_enabled,
    no_grad,
    topological_order,
    weighted_sum,
)
from tinygrad_edu.functional import grad, gradients, value_and_grad
from tinygrad_edu.gradient_check import GradcheckError, gradcheck
from tinygrad_edu.program import Program, compile, trace

__version__ = "0.1.0"

__all__ = [
    "GradcheckError",
    "Program",
    "Value",
    "compile",
    "datasets",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradients",
    "is_grad_enabled",
    "losses",
    "nn",
    "no_grad",
    "optim",
    "topological_order",
    "trace",
    "training",
    "value_and_grad",
    "viz",
    "weighted_sum",
]
