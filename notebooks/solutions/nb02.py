"""Notebook 2, values and the chain rule: solutions."""

import math

from tinygrad_edu import topological_order


def chain_by_hand(p, q, r):
    """Local derivatives, multiplied along each path from m back to the input."""
    u = p * q
    s = math.sin(u)
    dm_ds = 1 / r
    dm_du = dm_ds * math.cos(u)
    return dm_du * q, dm_du * p, -s / r**2


def my_topological_order(root):
    """Depth first: a node is appended once all its parents are."""
    order, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            for parent in node.parents:
                visit(parent)
            order.append(node)

    visit(root)
    return order


def my_backward(root):
    """Reverse topological order: each node's gradient is complete before it is passed on."""
    root.grad = 1.0
    for node in reversed(topological_order(root)):
        for parent, local in zip(node.parents, node.local_grads):
            parent.grad += local * node.grad
