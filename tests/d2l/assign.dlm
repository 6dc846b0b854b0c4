# Assignments beyond the book's cells: compound assignment (D2L 5.1's FixedHiddenMLP writes X /= 2), on a name
# and on a subscript, and stack of more tensors than one concat joins.
input m: f32[3, 4]
#! input m = 0 1 2 3 4 5 6 7 8 9 10 11
X = m
X[0] += 10
X[:, 1] *= 2
X[-1, ::2] -= 1
output y = X
#! expect y = 10 22 12 13  4 10 6 7  7 18 9 11
h = m
h /= 2
h += 1
h *= 3
h -= 0.5
output h_out = h
#! expect h_out = 2.5 4 5.5 7 8.5 10 11.5 13 14.5 16 17.5 19
output st = stack([m[0], m[1], m[2], m[0], m[1], m[2]], 1)
#! expect st = 0 4 8 0 4 8  1 5 9 1 5 9  2 6 10 2 6 10  3 7 11 3 7 11
