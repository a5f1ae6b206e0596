"""tinygrad_edu: a scalar reverse-mode automatic differentiation engine for learning.

>>> from tinygrad_edu import Value
>>> x, w, b = Value(2.0, "x"), Value(0.5, "w"), Value(-0.5, "b")
>>> y = (w * x + b).tanh()     # tanh(0.5)
>>> y.backward()
>>> print(f"{y.data:.4f} {w.grad:.4f} {x.grad:.4f} {b.grad:.4f}")
0.4621 1.5729 0.3932 0.7864

``w.grad`` is dy/dw = x (1 - y²) = 2 × 0.7864, ``x.grad`` is w (1 - y²) and ``b.grad``
is 1 - y².

The package, from the bottom up: ``operators`` (float kernels) and ``grad_mode`` →
``engine`` (Value and backward) → ``fused`` (one node for a dot product or a softmax) and
``interop`` → ``functional`` (grad), ``forward`` (jvp, vjp, jacobian, hessian),
``gradient_check``, ``program`` and ``program_c`` (trace and compile, in Python or C) →
``nn``, ``losses``, ``optim``, ``datasets`` → ``training`` and ``step`` (a compiled
training step) → ``viz`` (pictures) → ``pages`` → ``cli`` (the command line). The
contributing page of the documentation draws the whole layering.
"""

from tinygrad_edu import (
    datasets,
    interop,  # noqa: F401 - installs pickling and NumPy support on Value
    losses,
    nn,
    optim,
    pages,  # the interactive pages; they hook themselves into viz and fit(live=True)
    training,
    viz,
)
from tinygrad_edu.engine import Op, Value, topological_order
from tinygrad_edu.forward import hessian, jacobian, jvp, vjp
from tinygrad_edu.functional import grad, gradients, value_and_grad
from tinygrad_edu.fused import (
    dot,
    logsumexp,
    matvec,
    matvecs,
    softmax_average,
    softmax_dot,
    sum_values,
    weighted_sum,
)
from tinygrad_edu.grad_mode import enable_grad, is_grad_enabled, no_grad
from tinygrad_edu.gradient_check import GradcheckError, gradcheck
from tinygrad_edu.program import Program, TraceMismatchError, compile, trace
from tinygrad_edu.step import CompiledStep, compile_step

__version__ = "0.1.0"

__all__ = [
    "CompiledStep",
    "GradcheckError",
    "Op",
    "Program",
    "TraceMismatchError",
    "Value",
    "compile",
    "compile_step",
    "datasets",
    "dot",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradients",
    "hessian",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "logsumexp",
    "losses",
    "matvec",
    "matvecs",
    "nn",
    "no_grad",
    "optim",
    "pages",
    "softmax_average",
    "softmax_dot",
    "sum_values",
    "topological_order",
    "trace",
    "training",
    "value_and_grad",
    "viz",
    "vjp",
    "weighted_sum",
]
