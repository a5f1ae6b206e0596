# A neuron, y = tanh(w·x + b), and its gradients: backward() applies the chain rule
# from y back to every input. Change a number and run it again.
from IPython.display import display

from tinygrad_edu import Value, viz

x, w, b = Value(2.0, "x"), Value(0.5, "w"), Value(-0.5, "b")
y = (w * x + b).tanh()
y.backward()

print(f"y = {y.data}")
for value in (x, w, b):
    print(f"dy/d{value.label} = {value.grad}")
# By hand: dy/dw = x (1 - y²), dy/dx = w (1 - y²), dy/db = 1 - y²
print(f"1 - y² = {1 - y.data**2}")

display(viz.draw_dot(y))  # the graph: data and gradient in every box
