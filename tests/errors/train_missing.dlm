# A train section needs a loss; a model has one train section (a second is reported with a note at the first);
# the batch size is a positive integer literal, read before anything else runs.
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
#! note 7:1: the first one is here
#! error 7:1: the train section needs a loss: loss = cross_entropy(logits, y)
    optimizer = sgd(lr=0.03)
    batch = 2.5
#! error 11:13: batch must be a positive integer literal (at most 1048576), got 2.5
}
train {
#! error 14:1: a model has one train section
    batch = 0
#! error 16:13: batch must be a positive integer literal (at most 1048576), got 0
}
