# Forward mode pushes a tangent through the computation with dual numbers (jvp); reverse
# mode pulls a gradient back (grad). Both give the same derivative.
import math

import tinygrad_edu as tg


def f(x):
    return x.sin() * x


value, slope = tg.jvp(f, (1.0,), (1.0,))  # f(1) and f'(1), in one forward pass
print(f"f(1) = {value:.6f}, forward mode f'(1) = {slope:.6f}")
print(f"reverse mode f'(1) = {tg.grad(f)(1.0):.6f}")
print(f"by hand: sin 1 + cos 1 = {math.sin(1) + math.cos(1):.6f}")

# A function of two inputs with two outputs, and second derivatives.
print("jacobian:", tg.jacobian(lambda x, y: [x * y, x + y.exp()], argnums=(0, 1))(2.0, 0.0))
print("hessian of x²y:", tg.hessian(lambda x, y: x * x * y, argnums=(0, 1))(1.0, 2.0))
