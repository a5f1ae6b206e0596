"""Notebook 8, second derivatives: solutions."""

from tinygrad_edu import grad


def third_derivative(f):
    """grad returns a function, so it can be applied again."""
    return grad(grad(grad(f)))


def newton_step(f, x):
    """Jump to the bottom of the parabola with slope f'(x) and curvature f''(x)."""
    return x - grad(f)(x) / grad(grad(f))(x)


def mixed_partial(f, x, y):
    """The inner grad is ∂f/∂y (argnums=1); the outer differentiates it with respect to x."""
    return grad(lambda a, b: grad(f, 1)(a, b))(x, y)
