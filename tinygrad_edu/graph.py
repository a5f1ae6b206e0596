"""The graph walk: a computation graph in depth-first post-order, without recursion.

Apart from the engine because a student needs only what it gives (every node after its
parents; ``reversed()`` of that is the order in which ``backward()`` visits nodes), not
how it stays linear and safe for a graph a million nodes deep. It reads three attributes
of a node (``parents``, ``grad`` and the walk's mark ``_visit``) and imports nothing of the
package: the engine imports it.
"""

from __future__ import annotations

import threading
from typing import Any

Node = Any  # a Value; this module sits below the engine, so it does not import the class

__all__ = ["depth_first"]

_one_walk_at_a_time = threading.Lock()


def depth_first(
    root: Node, earlier_leaf_grads: list[tuple[Node, float]] | None = None
) -> list[Node]:
    """``root``'s graph in depth-first post-order: each node after all of its parents.

    The stack holds the path from ``root`` down to the node being explored, each with
    an iterator over its parents, so a node's remaining parents are picked up where
    they were left. A visited node carries this walk's own mark in ``_visit``: each
    edge costs one attribute read, cheaper than looking the node up in a set, which is
    what makes ``backward()`` linear and cheap. (Walks take turns, so two threads'
    marks on shared nodes never mix.)

    Given the list ``earlier_leaf_grads`` it prepares a backward pass instead: leaves
    are left out of the order, every node's gradient is set to 0, and each leaf's
    nonzero gradient is first saved in the list as ``(leaf, grad)``, so the pass can
    sum its own contributions and add the total at the end.
    """
    backward = earlier_leaf_grads is not None
    order = []
    walk = object()  # this walk's mark: a node carrying it has been visited
    path = [root]  # from root down to the node being explored,
    unexplored = [iter(root.parents)]  # and for each of them, the parents still to visit
    with _one_walk_at_a_time:
        root._visit = walk
        while unexplored:
            for parent in unexplored[-1]:
                if parent._visit is walk:
                    continue
                parent._visit = walk
                if parent.parents:  # explore it before coming back to the other parents
                    path.append(parent)
                    unexplored.append(iter(parent.parents))
                    break
                if not backward:  # a leaf has no parents: it is placed at once
                    order.append(parent)
                else:
                    if parent.grad:
                        earlier_leaf_grads.append((parent, parent.grad))
                    parent.grad = 0.0
            else:  # all of this node's parents are placed
                unexplored.pop()
                node = path.pop()
                if backward:
                    if not node.parents:
                        continue  # root itself is a leaf
                    node.grad = 0.0
                order.append(node)
    return order
