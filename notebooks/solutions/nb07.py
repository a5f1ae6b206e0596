"""Notebook 7, checking gradients: solutions."""

import math


def my_numerical_gradient(f, inputs, eps=1e-6):
    """A fresh copy of the inputs for every nudge, so that only input i moves."""
    slopes = []
    for i in range(len(inputs)):
        up, down = list(inputs), list(inputs)
        up[i] += eps
        down[i] -= eps
        slopes.append((f(*up) - f(*down)) / (2 * eps))
    return slopes


def cube(v):
    """Every factor in the graph: backpropagation sees all three uses of v."""
    return v * v * v


def softplus(x):
    """m is a plain number, yet the gradient is right: the value does not depend on m."""
    m = max(x.data, 0.0)
    return m + (math.exp(-m) + (x - m).exp()).log()
