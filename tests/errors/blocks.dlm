# Block definitions and calls: a block must return, is defined once, does not take a built-in's name, names
# each parameter once, is called with as many arguments as it has parameters (a note points at the
# definition), and declares no inputs or outputs of the model.
input x: f32[batch, 4]
block no_return(x) {
#! error 5:7: block 'no_return' ends without 'return'
    y = x * 2
}
block twice(x, n) {
#! note 9:7: first defined here
#! note 9:7: 'twice' is defined here
#! note 9:7: 'twice' is defined here
    return x * n
}
block twice(x) {
#! error 15:7: block 'twice' is defined twice
    return x + x
}
block relu(x) {
#! error 19:7: 'relu' is a built-in; give the block another name
    return x
}
block pair(a, a) {
#! error 23:15: block 'pair' has two parameters named 'a'
    return a
}
block declares(x) {
    input z: f32[4]
#! error 28:11: inputs are declared at the top level of the model, not in a block
    output x
#! error 30:12: outputs are declared at the top level of the model; return a value from the block
    return x
}
a = no_return(x)
#! note 34:5: called here
b = twice(x, 1, 2)
#! error 36:5: block 'twice' takes 2 arguments (x, n), or 1 without the input to make a layer, got 3
c = twice(x, m=2)
#! error 38:14: block 'twice' has no parameter 'm'; its parameters are x, n
d = x |> twice(1, 2)
#! error 40:10: block 'twice' takes 2 arguments (x, n), or 1 without the input to make a layer, got 3
e = declares(x)
output a
