# A bounded while loop whose condition still holds after its last iteration would truncate its result. When
# the loop runs on compile-time values that is an error here; on data, the generated code reports it
# (tests/d2l/while_bound.dlm).
c = tensor(3.0)
while c < 1000 max 2 {
#! error 5:1: the loop's condition still holds after its 2 iterations (max 2), so its result would be truncated; raise the
    c = c * 2
}
output c
