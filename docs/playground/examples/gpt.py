# A small GPT (embeddings, attention, an MLP, all on scalar Values) learns from a
# thousand names, one name per step, then makes up new ones. A few seconds here; more
# steps and a wider model give better names.
import time

from tinygrad_edu import datasets, optim
from tinygrad_edu.nn import GPT

names = datasets.load_names()
tok = datasets.CharTokenizer.from_documents(names)
gpt = GPT(tok.vocab_size, n_embd=8, n_head=2, n_layer=1, block_size=12, seed=42)
adam = optim.Adam(gpt.parameters(), lr=0.02, betas=(0.85, 0.99))
print(f"{len(gpt.parameters())} parameters, {tok.vocab_size} characters")

start = time.perf_counter()
steps = 1000
for step, name in enumerate(names[:steps], start=1):
    loss = gpt.loss(tok.encode(name))  # mean -log p(next character)
    adam.zero_grad()
    loss.backward()
    adam.step()
    if step % 200 == 0:
        print(f"step {step}: loss {loss.data:.3f} ({time.perf_counter() - start:.0f} s)")

for seed in range(8):
    print(tok.decode(gpt.generate(bos=tok.bos, temperature=0.6, seed=seed)))
