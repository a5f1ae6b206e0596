"""Notebook 4, from a neuron to an MLP: solutions."""


def count_parameters(nin, nouts):
    """Each neuron of layer k has one weight per input and a bias: (n_(k-1) + 1) n_k."""
    sizes = [nin, *nouts]
    return sum((sizes[k - 1] + 1) * sizes[k] for k in range(1, len(sizes)))


def layer_forward(weights, biases, x):
    """Row i of the weights makes output i."""
    return [max(0.0, sum(w * v for w, v in zip(row, x)) + b) for row, b in zip(weights, biases)]


def dead_neurons(model, x):
    """relu's slope is 0 for w·x + b <= 0: nothing flows back to those weights."""
    return [
        i
        for i, neuron in enumerate(model.layers[0].neurons)
        if sum(w.data * v for w, v in zip(neuron.w, x)) + neuron.b.data <= 0
    ]
