# An MLP learns to separate the two moons. fit(live=True) redraws the decision boundary,
# the loss and the weights every 5 steps while it trains.
from tinygrad_edu import datasets, training
from tinygrad_edu.nn import MLP

X, y = datasets.make_moons(n_samples=100, noise=0.1, seed=0)
model = MLP(2, [16, 16, 1], seed=0)  # 337 parameters; relu hidden, linear out
history = training.fit(model, X, y, steps=100, progress=False, live=True)

print(f"loss at the first step: {history['loss'][0]:.6f}, at the last: {history['loss'][-1]:.6f}")
print(f"accuracy after training: {training.accuracy(model, X, y):.0%}")
