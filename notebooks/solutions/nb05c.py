"""Notebook 5c, an MLP character model: solutions."""


def embed_context(table, context):
    """The rows side by side, oldest character first."""
    return [x for i in context for x in table[i]]


def mlp_logits(table, w1, b1, w2, b2, context):
    """Embedding, hidden relu layer, output layer."""
    e = embed_context(table, context)
    h = [max(0.0, sum(w * x for w, x in zip(row, e)) + b) for row, b in zip(w1, b1)]
    return [sum(w * x for w, x in zip(row, h)) + b for row, b in zip(w2, b2)]
