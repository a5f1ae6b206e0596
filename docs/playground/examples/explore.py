# The forward and backward pass of an expression, one step at a time: press "next".
# Forward, each Value gets its number from its parents; backward, each gets its gradient
# and passes it on with the chain rule, the numbers written out.
from IPython.display import display

from tinygrad_edu import Value, pages

a, b = Value(-2.0, "a"), Value(3.0, "b")
c = a * b
d = c + b.exp()
loss = (d / a).relu() + c.tanh()

display(pages.explore(loss))
