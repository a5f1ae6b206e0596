"""Notebook 6, optimizers compared: solutions."""

import math


def momentum_step(params, velocities, lr, momentum):
    """The velocity is a running sum of gradients; the step follows it."""
    new = []
    for p, b in zip(params, velocities):
        b = momentum * b + p.grad
        p.data -= lr * b
        new.append(b)
    return new


def adam_updates(grads, lr=0.1, betas=(0.9, 0.999), eps=1e-8):
    """m and v start at 0, so they are divided by 1 - β^t to undo that bias."""
    beta1, beta2 = betas
    p, m, v, path = 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p -= lr * m_hat / (math.sqrt(v_hat) + eps)
        path.append(p)
    return path


def critical_learning_rate(curvature):
    """x ← (1 - lr λ) x shrinks while |1 - lr λ| < 1, that is for lr < 2 / λ."""
    return 2.0 / curvature
