# softmax and log_softmax are over the last axis; cross_entropy takes logits f32[n, classes] and integer labels
# i32[n] of the same batch; accuracy the same.
batch = 16
input x: f32[batch, 10]
input img: f32[batch, 1, 4, 4]
#! note 5:7: 'img' is declared here
input labels: i32[batch]
input flabels: f32[batch]
input few: i32[4]
input s: f32[]
a = softmax(x, axis=0)
#! error 11:16: softmax: axis 0 is the batch dimension of f32[batch 16, 10]; a softmax runs within each example
b = log_softmax(x, axis=1)
c = softmax(s)
#! error 14:5: softmax needs an f32 tensor of at least one dimension, got f32[]
d = cross_entropy(x, flabels)
#! error 16:5: cross_entropy expects logits f32[n, classes] and labels i32[n], got f32[batch 16, 10] and f32[batch 16]
e = cross_entropy(img, labels)
#! error 18:5: cross_entropy expects logits f32[n, classes] and labels i32[n], got f32[batch 16, 1, 4, 4] and i32[batch 16]
f = cross_entropy(x, few)
#! error 20:5: cross_entropy expects logits f32[n, classes] and labels i32[n], got f32[batch 16, 10] and i32[4]
g = cross_entropy(labels, labels)
#! error 22:5: cross_entropy expects logits f32[n, classes] and labels i32[n], got i32[batch 16] and i32[batch 16]
output b
train {
    data = fashion_mnist(img, labels)
#! error 26:26: fashion_mnist gives images f32[batch, 1, 28, 28], but 'img' is f32[batch 16, 1, 4, 4]
    loss = cross_entropy(x, labels)
    optimizer = sgd(lr=0.1)
    metrics = [accuracy(x, flabels), accuracy(img, labels)]
#! error 30:16: accuracy expects logits f32[n, classes] and labels i32[n], got f32[batch 16, 10] and f32[batch 16]
#! error 30:38: accuracy expects logits f32[n, classes] and labels i32[n], got f32[batch 16, 1, 4, 4] and i32[batch 16]
}
