# Values of the wrong kind: 'not' of a string, indexing the batch axis, an index out of range,
# an attribute other than .shape, operators on strings and layers, a list that is not a tensor.
input x: f32[batch, 4]
l = [1, 2, 3]
a = not "yes"
#! error 5:5: 'not' needs a boolean, got a string
b = x[0]
#! error 7:7: cannot index axis 0 of x: it is the batch dimension, whose size is known only at run time; subscripts select within each example: x[:, ...]
c = l[3]
#! error 9:7: index 3 is out of range for a list of 3
d = l[-4]
#! error 11:7: index -4 is out of range for a list of 3
e = x.size
#! error 13:7: f32[batch 1, 4] has no attribute 'size' (tensors have .shape and .T)
f = "a" + 1
#! error 15:5: '+' cannot combine a string and the integer 1
g = relu + 1
#! error 17:5: '+' cannot combine a function and the integer 1
h = tensor([])
#! error 19:12: tensor's argument 'data': an empty list is not a tensor (shape [0])
k = x + [[1, 2], [3]]
#! error 21:5: the right operand: a list used as a tensor must be a rectangular nest of numbers, at most 6 deep
m = l["one"]
#! error 23:7: an index must be a compile-time integer, got a string
n = (3).shape
#! error 25:9: the integer 3 has no attribute 'shape' (tensors have .shape and .T)
output a
