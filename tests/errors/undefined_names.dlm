# Names that are not defined where they are used: variables, functions and layers, a block's own parameter
# used outside it, an output that names nothing. Each is reported at the use.
input x: f32[batch, 4]
block scale(v, k) {
    return v * k
}
a = x + q
#! error 7:9: 'q' is not defined
b = x |> lineer(10)
#! error 9:10: unknown function or layer 'lineer'
c = scale(x, 2) + k
#! error 11:19: 'k' is not defined
d = foo(x)
#! error 13:5: unknown function or layer 'foo'
e = x |> relux
#! error 15:10: 'relux' is not defined
f = x * undefined_factor
#! error 17:9: 'undefined_factor' is not defined
output a
output nothing_here
#! error 20:8: 'nothing_here' is not defined
