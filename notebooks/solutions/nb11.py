"""Notebook 11, forward and reverse mode: solutions."""

import math

from tinygrad_edu import Op, grad, jvp


def dual_mul(a, b):
    """(a0 + a1 ε)(b0 + b1 ε) = a0 b0 + (a0 b1 + a1 b0) ε, since ε² = 0."""
    return a[0] * b[0], a[0] * b[1] + a[1] * b[0]


def jacobian_column(f, point, j):
    """A tangent of 1 on input j and 0 elsewhere: every output's derivative along input j."""
    tangents = [1.0 if i == j else 0.0 for i in range(len(point))]
    _, column = jvp(f, tuple(point), tuple(tangents))
    return column


def hessian_vector_product(f, point, v):
    """Forward mode over the gradient: the gradient's derivative along v is H v."""
    _, hv = jvp(grad(f, tuple(range(len(point)))), tuple(point), tuple(v))
    return hv


def make_gelu():
    """The product rule on x Φ(x) gives Φ(x) + x φ(x)."""

    def forward(x):
        return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))

    def derivative(x, out):
        cdf = 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
        return (cdf + x * math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi),)

    return Op("gelu", forward, derivative)
