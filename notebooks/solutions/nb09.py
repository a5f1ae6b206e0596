"""Notebook 9, a GPT from scalars: solutions."""

import math

from tinygrad_edu import Value


def my_rms_norm(xs):
    """One scale for the whole vector; eps keeps it finite for a vector of zeros."""
    mean_square = sum((x * x for x in xs), Value(0.0)) / len(xs)
    scale = (mean_square + 1e-5) ** -0.5
    return [x * scale for x in xs]


def my_softmax(scores):
    """Subtracting the largest score changes nothing but keeps every exponent <= 0."""
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def attention_head(q, keys, values):
    """Weights from the scaled scores, then the weighted average of the values."""
    d = len(q)
    weights = my_softmax([sum(a * b for a, b in zip(q, k)) / math.sqrt(d) for k in keys])
    return [sum(w * v[j] for w, v in zip(weights, values)) for j in range(len(values[0]))]


def attention_head_grad(q, keys, values, upstream):
    """Backwards through the average, the softmax, the scaling and the dot products."""
    d = len(q)
    weights = my_softmax([sum(a * b for a, b in zip(q, k)) / math.sqrt(d) for k in keys])
    out = [sum(w * v[j] for w, v in zip(weights, values)) for j in range(len(values[0]))]
    d_values = [[w * u for u in upstream] for w in weights]
    d_weights = [sum(u * x for u, x in zip(upstream, v)) for v in values]
    u_out = sum(u * o for u, o in zip(upstream, out))
    d_scores = [w * (dw - u_out) for w, dw in zip(weights, d_weights)]  # softmax's Jacobian
    d_q = [sum(ds * k[j] for ds, k in zip(d_scores, keys)) / math.sqrt(d) for j in range(d)]
    return d_q, d_values
