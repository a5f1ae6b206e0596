"""Notebook 5c, an MLP character model: solutions."""


def embed_context(C, context):  # noqa: N803 - C is the embedding table
    """The rows side by side, oldest character first."""
    return [x for i in context for x in C[i]]


def mlp_logits(C, W1, b1, W2, b2, context):  # noqa: N803 - matrices
    """Embedding, hidden relu layer, output layer."""
    e = embed_context(C, context)
    h = [max(0.0, sum(w * x for w, x in zip(row, e)) + b) for row, b in zip(W1, b1)]
    return [sum(w * x for w, x in zip(row, h)) + b for row, b in zip(W2, b2)]
