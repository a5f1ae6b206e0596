"""tinygrad_edu: a scalar reverse-mode automatic differentiation engine for learning.

>>> from tinygrad_edu import Value
>>> x, w, b = Value(2.0, "x"), Value(-3.0, "w"), Value(1.0, "b")
>>> y = (w * x + b).tanh()
>>> y.backward()
>>> round(w.grad, 6)     # dy/dw = x * (1 - tanh(w x + b)**2)
0.000363
"""

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

__version__ = "0.1.0"

__all__ = [
    "GradcheckError",
    "Value",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradients",
    "is_grad_enabled",
    "no_grad",
    "topological_order",
    "value_and_grad",
    "weighted_sum",
]
