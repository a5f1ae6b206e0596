# trace writes the backward pass out as a program (a Wengert list) that runs on plain
# floats: the same numbers as backward(), much faster.
import tinygrad_edu as tg
from tinygrad_edu import Value

program = tg.trace(lambda x, w, b: (w * x + b).tanh(), 2.0, -3.0, 1.0)
print(program)

value, gradients = program(0.5, 1.5, -0.25)  # plain floats in and out
print("program: ", value, gradients)

x, w, b = Value(0.5), Value(1.5), Value(-0.25)
y = (w * x + b).tanh()
y.backward()
print("backward:", y.data, (x.grad, w.grad, b.grad))
