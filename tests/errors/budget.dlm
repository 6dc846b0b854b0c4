# Elaboration runs loops at compile time and has a budget of steps: a loop nest of 10^10 iterations is
# stopped where the budget runs out, and nothing after it is elaborated. Each iteration counts, even of an
# empty body (found by tests/fuzz: an empty inner loop once ran for minutes).
input x: f32[batch, 4]
k = 0
r = range(100000)
for i in r {
    for j in r {
#! error 8:5: elaborating the model takes more than
    }
}
output y = x * k
