"""Notebook 3, backpropagation by hand through a neuron: solutions."""

import math


def neuron_grads(x, w, b):
    """do/dn = 1 - o² for tanh; dn/dw_i = x_i; dn/db = 1."""
    o = math.tanh(sum(wi * xi for wi, xi in zip(w, x)) + b)
    do_dn = 1 - o * o
    return [xi * do_dn for xi in x], do_dn


def sigmoid_neuron_grads(x, w, b):
    """Only the activation's slope changes: o (1 - o)."""
    o = 1 / (1 + math.exp(-(sum(wi * xi for wi, xi in zip(w, x)) + b)))
    do_dn = o * (1 - o)
    return [xi * do_dn for xi in x], do_dn


def shared_grads(x, y, w):
    """x is used in x·y and x·w, y in x·y and on its own: the shares add up."""
    return y + w, x + 1, x
