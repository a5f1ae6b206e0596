"""Notebook 5b, a bigram model of names: solutions."""

import math


def bigram_probabilities(counts, smoothing=1.0):
    """Each row normalised on its own: P(next | current)."""
    rows = []
    for row in counts:
        total = sum(n + smoothing for n in row)
        rows.append([(n + smoothing) / total for n in row])
    return rows


def average_nll(probs, pairs):
    """The mean surprise, in nats."""
    return sum(-math.log(probs[a][b]) for a, b in pairs) / len(pairs)
