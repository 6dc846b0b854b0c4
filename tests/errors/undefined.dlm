# Names that do not exist: a variable, a layer, a block argument count.
input x: f32[batch, 10]
a = x + q
#! error 3:9: 'q' is not defined
b = x |> lineer(10)
#! error 5:10: unknown function or layer 'lineer'
block twice(x, n) {
    return x * n
}
c = twice(x, 1, 2)
#! error 10:5: block 'twice' takes 2 arguments
output a
