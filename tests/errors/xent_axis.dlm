# cross_entropy's class axis: any axis of an example (PyTorch's [n, classes, d] is axis=1), not the batch
# dimension and not past the logits' rank; the labels are the logits' shape without that axis.
input x: f32[batch, 12]
input y: i32[batch, 3]
logits = reshape(x, [batch, 4, 3])
a = cross_entropy(logits, y, axis=0)
#! error 6:30: cross_entropy: axis 0 is the batch dimension of f32[batch 1, 4, 3]; the classes lie along axes 1..2
b = cross_entropy(logits, y, axis=3)
#! error 8:30: cross_entropy: axis 3 is out of range of f32[batch 1, 4, 3]; the classes lie along axes 1..2
c = cross_entropy(logits, y)
#! error 10:5: cross_entropy expects logits f32[n, classes] and labels i32[n], got f32[batch 1, 4, 3] and i32[batch 1, 3] (or logits
output d = cross_entropy(logits, y, axis=1)
