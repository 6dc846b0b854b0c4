# Subscripts are compile-time integers and slices checked against the static shape: an index out of range, too
# many subscripts, a step that is not positive, an empty slice, a tensor as an index, and any subscript of the
# batch axis but ':' are located errors; a slice assignment needs a value that broadcasts to the part it replaces.
batch = 8
input x: f32[batch, 4, 3]
input X: f32[3, 4]
input labels: i32[batch]
a = X[3]
#! error 8:7: index 3 is out of range for axis 0 of X, of size 3 (valid: -3..2)
b = X[1, -5]
#! error 10:10: index -5 is out of range for axis 1 of X, of size 4 (valid: -4..3)
c = X[1, 2, 0]
#! error 12:5: too many subscripts: X is f32[3, 4], with 2 axes, and is given 3
d = x[0]
#! error 14:7: cannot index axis 0 of x: it is the batch dimension, whose size is known only at run time; subscripts select within each example: x[:, ...]
e = x[1:3, 0]
#! error 16:7: axis 0 of x is the batch dimension, whose size is known only at run time: it is taken whole (':'); subscripts select within each example: x[:, ...]
f = X[::-1]
#! error 18:9: a slice's step must be positive, got -1 (PyTorch has no negative steps)
g = X[2:1]
#! error 20:7: this slice selects no element of axis 0, of size 3
h = X[x[:, 0, 0]]
#! error 22:7: a subscript is a compile-time integer or slice, got f32[batch 8]; for a data-dependent choice use where(cond, a, b)
i = X[1.5]
#! error 24:7: an index must be a compile-time integer, got the number 1.5
X[0, :] = tensor([1, 2, 3])
#! error 26:11: the assigned value, f32[3], does not broadcast to X[...], which is f32[4]
labels[0:2] = 1
#! error 28:1: a subscript assignment needs an f32 tensor, but 'labels' is i32[batch 8]
undefined_name[0] = 1
#! error 30:1: 'undefined_name' is not defined; a subscript assignment replaces elements of an existing tensor
k = relu[0]
#! error 32:5: only tensors and lists take subscripts, got a function
output y = X[-1, 1:] + x[:, 0, ::2] |> sum
