"""A GPT from scalars: a character-level transformer small enough to train one Value at a time.

The recipe (that of the well-known one-file scalar GPT trained on names) for a
sequence of token ids, one position ``t`` at a time::

    x = rms_norm(wte[token_t] + wpe[t])                   # what the token is, and where
    for each layer:
        x = x + attn_wo · attention(rms_norm(x))           # look back at earlier positions
        x = x + mlp_fc2 · relu(mlp_fc1 · rms_norm(x))      # think about it, position by position
    logits = lm_head · x                                   # a score for every possible next token

Attention is causal: position ``t`` sees the keys and values of positions ``0 .. t``
only, so the model can be trained to predict every next token of a name at once and
then generate one token after another. There are no biases anywhere, and every
weight is drawn from ``N(0, std²)`` by a private ``random.Random(seed)``.

>>> model = GPT(27, n_embd=8, n_head=2, seed=0)
>>> model
GPT(vocab_size=27, n_embd=8, n_head=2, n_layer=1, block_size=16: 1328 parameters)
>>> loss = model.loss([26, 0, 13, 13, 0, 26])     # "anna" between two BOS tokens
>>> round(loss.data, 1)                  # near log(27) = 3.3: every next letter equally likely
3.4
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence

from tinygrad_edu._checks import check_int, check_real, random_generator
from tinygrad_edu.engine import Value, no_grad
from tinygrad_edu.fused import logsumexp, pick, sum_values
from tinygrad_edu.nn.layers import CausalSelfAttention, Embedding, Linear, rms_norm
from tinygrad_edu.nn.module import Module, named_children, prefixed

__all__ = ["GPT", "Block"]


def _add(a: list[Value], b: list[Value]) -> list[Value]:
    """``a + b`` element by element: a residual connection."""
    return [x + y for x, y in zip(a, b)]


def _sampling_weights(logits: list[float], temperature: float) -> list[float]:
    """``softmax(logits / temperature)`` up to a constant factor, for ``random.choices``.

    The largest scaled logit is subtracted before ``exp`` so that none overflows. At
    ``temperature=0``, or one so small that a scaled logit overflows to infinity
    (where ``inf - inf`` would give NaN weights), the weights are the limit as the
    temperature falls to 0: 1 for the largest logits, 0 for the others.
    """
    if temperature > 0.0:
        scores = [z / temperature for z in logits]
        largest = max(scores)
        if math.isfinite(largest):
            return [math.exp(s - largest) for s in scores]
    best = max(logits)
    return [1.0 if z == best else 0.0 for z in logits]


class Block(Module):
    """One transformer layer: attention then an MLP, each added back to its input.

    ``x + attn(rms_norm(x))`` and then ``x + mlp_fc2 · relu(mlp_fc1 · rms_norm(x))``,
    with a hidden width of ``4 * n_embd``. Adding the input back (a residual
    connection) gives the gradient a direct path through every layer. The relu is
    :meth:`~tinygrad_edu.nn.layers.Linear.after_relu`: the hidden units that are off are
    left out of the graph. Parameters: ``attn.wq...``, ``attn.wk...``,
    ``attn.wv...``, ``attn.wo...``, ``mlp_fc1.weight...``, ``mlp_fc2.weight...``.
    """

    def __init__(
        self, n_embd: int, n_head: int, *, std: float, seed: int | random.Random | None = None
    ) -> None:
        rng = random_generator("Block", seed)
        self.attn = CausalSelfAttention(n_embd, n_head, std=std, seed=rng)
        self.mlp_fc1 = Linear(n_embd, 4 * n_embd, bias=False, std=std, seed=rng)
        self.mlp_fc2 = Linear(4 * n_embd, n_embd, bias=False, std=std, seed=rng)

    def step(
        self, x: list[Value], keys: list[list[Value]], values: list[list[Value]]
    ) -> list[Value]:
        """The layer's output at the next position (its key and value join the cache)."""
        x = _add(self.attn.attend(rms_norm(x), keys, values), x)
        return _add(self.mlp_fc2.after_relu(self.mlp_fc1(rms_norm(x))), x)

    def __call__(self, xs: list[list[Value]]) -> list[list[Value]]:
        """The layer's outputs at every position of a sequence, each layer applied to all at once.

        The same numbers as :meth:`step` at one position after another, bit for bit.
        """
        xs = [_add(a, x) for a, x in zip(self.attn([rms_norm(x) for x in xs]), xs)]
        hidden = self.mlp_fc1.each([rms_norm(x) for x in xs])
        return [_add(self.mlp_fc2.after_relu(h), x) for h, x in zip(hidden, xs)]

    def named_parameters(self) -> list[tuple[str, Value]]:
        return named_children(self, ("attn", "mlp_fc1", "mlp_fc2"))


class GPT(Module):
    """A character-level GPT (see the module docstring for the recipe).

    ``parameters()`` lists the weights in this order, each matrix row by row (a row
    makes one output): ``wte`` (vocab_size x n_embd), ``wpe`` (block_size x n_embd),
    ``lm_head`` (vocab_size x n_embd), then for each layer ``attn.wq``, ``attn.wk``,
    ``attn.wv``, ``attn.wo`` (n_embd x n_embd each), ``mlp_fc1`` (4·n_embd x n_embd)
    and ``mlp_fc2`` (n_embd x 4·n_embd). The weights are drawn in the same order.

    ``block_size`` is the longest context: positions ``0 .. block_size - 1``.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        n_embd: int = 16,
        n_head: int = 4,
        n_layer: int = 1,
        block_size: int = 16,
        std: float = 0.08,
        seed: int | random.Random | None = None,
    ) -> None:
        self.vocab_size = check_int("GPT", "vocab_size", vocab_size, at_least=2)
        self.n_embd = check_int("GPT", "n_embd", n_embd)
        self.n_head = check_int("GPT", "n_head", n_head)
        if self.n_embd % self.n_head:
            raise ValueError(f"GPT: n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.n_layer = check_int("GPT", "n_layer", n_layer)
        self.block_size = check_int("GPT", "block_size", block_size)
        self.std = check_real("GPT", "std", std, above=0.0)
        self.seed = seed if isinstance(seed, int) else None
        rng = random_generator("GPT", seed)
        self.wte = Embedding(self.vocab_size, self.n_embd, std=self.std, seed=rng)
        self.wpe = Embedding(self.block_size, self.n_embd, std=self.std, seed=rng)
        self.lm_head = Linear(self.n_embd, self.vocab_size, bias=False, std=self.std, seed=rng)
        self.layers = [
            Block(self.n_embd, self.n_head, std=self.std, seed=rng) for _ in range(self.n_layer)
        ]
        self._label_parameters()

    def config(self) -> dict[str, object]:
        """The constructor's arguments: ``GPT(**model.config())`` builds the same architecture."""
        return {
            "vocab_size": self.vocab_size,
            "n_embd": self.n_embd,
            "n_head": self.n_head,
            "n_layer": self.n_layer,
            "block_size": self.block_size,
            "std": self.std,
            "seed": self.seed,
        }

    # ----------------------------------------------------------------- forward

    def _embed(self, token: int, position: int) -> list[Value]:
        """What the token is and where: ``rms_norm(wte[token] + wpe[position])``."""
        return rms_norm(_add(self.wte(token), self.wpe.weight[position]))

    def _logits_at(self, token: int, position: int, caches: list[tuple[list, list]]) -> list[Value]:
        """The next-token logits at ``position``, given the keys and values of earlier ones."""
        x = self._embed(token, position)
        for layer, (keys, values) in zip(self.layers, caches):
            x = layer.step(x, keys, values)
        return self.lm_head(x)

    def _all_logits(self, tokens: Sequence[int]) -> list[list[Value]]:
        """The logits at every position of ``tokens``, each layer applied to all positions at once.

        The same numbers as :meth:`_logits_at` at one position after another (which
        :meth:`generate` uses), in a different order: each weight's number is read once
        per layer call rather than once per position.
        """
        xs = [self._embed(token, t) for t, token in enumerate(tokens)]
        for layer in self.layers:
            xs = layer(xs)
        return self.lm_head.each(xs)

    def _check_tokens(self, owner: str, tokens: Sequence[int]) -> None:
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
            raise TypeError(f"{owner}: tokens must be a list of ints, got {type(tokens).__name__}")
        for i, token in enumerate(tokens):
            if isinstance(token, bool) or not isinstance(token, numbers.Integral):
                raise TypeError(f"{owner}: tokens[{i}] must be an int, got {type(token).__name__}")
            if not 0 <= token < self.vocab_size:
                raise ValueError(
                    f"{owner}: tokens[{i}] = {token} is out of range 0..{self.vocab_size - 1}"
                )

    def __call__(self, tokens: Sequence[int]) -> list[list[Value]]:
        """The logits (``vocab_size`` Values) at every position of ``tokens``.

        ``logits[t]`` scores what comes after ``tokens[0 .. t]``. At most ``block_size``
        tokens.
        """
        self._check_tokens("GPT", tokens)
        if not 1 <= len(tokens) <= self.block_size:
            raise ValueError(
                f"GPT: expected 1 to {self.block_size} (block_size) tokens, got {len(tokens)}"
            )
        return self._all_logits(tokens)

    def loss(self, tokens: Sequence[int]) -> Value:
        """Mean cross-entropy of each next token: ``mean_t -log softmax(logits_t)[tokens[t+1]]``.

        Over positions ``t = 0 .. min(block_size, len(tokens) - 1) - 1`` (a longer
        sequence is cut at the context length). Each term is ``logsumexp(z) - z_target``,
        one fused node computed the stable way (:func:`~tinygrad_edu.engine.logsumexp`),
        so it never takes the log of a probability that rounded to 0. d loss / d z_j =
        (softmax(z)_j - [j == target]) / n.
        """
        self._check_tokens("GPT.loss", tokens)
        if len(tokens) < 2:
            raise ValueError(
                f"GPT.loss: expected at least 2 tokens (an input and its next token), "
                f"got {len(tokens)}"
            )
        n = min(self.block_size, len(tokens) - 1)
        terms = [
            logsumexp(logits) - pick(logits, target)
            for logits, target in zip(self._all_logits(tokens[:n]), tokens[1 : n + 1])
        ]
        return sum_values(terms) / n

    # ----------------------------------------------------------------- sampling

    @no_grad
    def generate(
        self,
        *,
        bos: int,
        max_len: int | None = None,
        temperature: float = 0.5,
        seed: int | random.Random | None = None,
    ) -> list[int]:
        """Sample one sequence, token by token, starting after ``bos`` and stopping at ``bos``.

        At each position the next token is drawn with probabilities
        ``softmax(logits / temperature)``: a temperature below 1 sharpens the
        distribution (safer, more common names), above 1 flattens it. As the
        temperature falls to 0 all the probability goes to the largest logit, so
        ``temperature=0`` is greedy decoding: always the most likely token (tokens tied
        for the largest logit share the draw equally). A temperature so small that
        ``logits / temperature`` leaves float64 (``1e-310``) is that limit too. Returns
        the token ids without ``bos``; at most ``max_len`` of them (default and maximum
        ``block_size``). Records no graph.
        """
        self._check_tokens("GPT.generate", [bos])
        max_len = (
            self.block_size if max_len is None else check_int("GPT.generate", "max_len", max_len)
        )
        if max_len > self.block_size:
            raise ValueError(
                f"GPT.generate: max_len ({max_len}) must be at most block_size ({self.block_size})"
            )
        temperature = check_real("GPT.generate", "temperature", temperature, at_least=0.0)
        rng = random_generator("GPT.generate", seed)
        caches = [([], []) for _ in self.layers]
        candidates = range(self.vocab_size)
        out, token = [], bos
        for position in range(max_len):
            logits = [z.data for z in self._logits_at(token, position, caches)]
            token = rng.choices(candidates, weights=_sampling_weights(logits, temperature))[0]
            if token == bos:
                break
            out.append(token)
        return out

    # ----------------------------------------------------------------- parameters

    def named_parameters(self) -> list[tuple[str, Value]]:
        return named_children(self, ("wte", "wpe", "lm_head")) + prefixed("layers", self.layers)

    def __repr__(self) -> str:
        return (
            f"GPT(vocab_size={self.vocab_size}, n_embd={self.n_embd}, n_head={self.n_head}, "
            f"n_layer={self.n_layer}, block_size={self.block_size}: "
            f"{self.num_parameters()} parameters)"
        )
