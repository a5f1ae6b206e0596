"""Notebook 5, training on the moons: solutions."""

from tinygrad_edu import Value, losses


def hinge(scores, labels):
    """relu(1 - t s) is max(0, 1 - t s); the mean keeps the loss's size independent of n."""
    terms = [(1 - t * s).relu() for s, t in zip(scores, labels)]
    return sum(terms, Value(0.0)) / len(terms)


def bce(logits, targets):
    """log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): no exponent is ever positive."""
    terms = [
        z.relu() + (1 + (z - 2 * z.relu()).exp()).log() - y * z for z, y in zip(logits, targets)
    ]
    return sum(terms, Value(0.0)) / len(terms)


def training_step(model, inputs, labels, optimizer):
    """Clear, forward, loss, backward, step: backward() adds to .grad, so clear it first."""
    optimizer.zero_grad()
    loss = losses.hinge_loss([model(x) for x in inputs], labels)
    loss.backward()
    optimizer.step()
    return loss.data
