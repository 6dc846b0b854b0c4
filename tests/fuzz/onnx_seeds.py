#!/usr/bin/python3
"""onnx_seeds.py: writes the seeds of fuzz_import (tests/fuzz/seeds-onnx/), small ONNX models made with onnx.helper
that together use every operator and attribute form dlc import takes.

    onnx_seeds.py DIR
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def const(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def save(path, nodes, inits, shape, out_shape, opset=14):
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, ['batch'] + shape)
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, ['batch'] + out_shape)
    model = helper.make_model(helper.make_graph(nodes, 'seed', [x], [y], initializer=inits),
                              opset_imports=[helper.make_opsetid('', opset)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    d = sys.argv[1]
    r = np.random.default_rng(0)
    f = lambda *s: r.standard_normal(s).astype(np.float32)
    # a small CNN: Conv, BatchNormalization, Relu, Pad + AveragePool, MaxPool, Flatten, Gemm, Softmax
    save(f'{d}/cnn.onnx', [
        helper.make_node('Conv', ['x', 'c.weight', 'c.bias'], ['a'], name='/c/Conv', kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1], group=1),
        helper.make_node('BatchNormalization', ['a', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'],
                         ['b'], name='/bn/BatchNormalization', epsilon=1e-5, momentum=0.9),
        helper.make_node('Relu', ['b'], ['c'], name='/relu/Relu'),
        helper.make_node('Constant', [], ['pads'], value=const('pads', np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))),
        helper.make_node('Pad', ['c', 'pads'], ['p'], mode='constant'),
        helper.make_node('AveragePool', ['p'], ['q'], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
        helper.make_node('MaxPool', ['q'], ['m'], kernel_shape=[2, 2], strides=[1, 1], pads=[1, 1, 1, 1]),
        helper.make_node('Flatten', ['m'], ['fl'], axis=1),
        helper.make_node('Gemm', ['fl', 'l.weight', 'l.bias'], ['g'], alpha=1.0, beta=1.0, transB=1),
        helper.make_node('Softmax', ['g'], ['y'], axis=-1),
    ], [const('c.weight', f(2, 1, 3, 3)), const('c.bias', f(2)), const('bn.weight', f(2)), const('bn.bias', f(2)),
        const('bn.running_mean', f(2)), const('bn.running_var', np.ones(2, np.float32)),
        const('l.weight', f(3, 2 * 6 * 6)), const('l.bias', f(3))], [1, 8, 8], [3])
    # branches: Concat, Add, GlobalAveragePool, Reshape, MatMul with the bias Add dlc export writes, LogSoftmax
    save(f'{d}/branches.onnx', [
        helper.make_node('Conv', ['x', 'w1'], ['a'], kernel_shape=[1, 1]),
        helper.make_node('Conv', ['x', 'w2'], ['b'], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node('Concat', ['a', 'b', 'x'], ['c'], axis=1),
        helper.make_node('Add', ['c', 'c'], ['s'], name='residual'),
        helper.make_node('GlobalAveragePool', ['s'], ['gap']),
        helper.make_node('Reshape', ['gap', 'shape'], ['flat']),
        helper.make_node('MatMul', ['flat', 'w3'], ['mm']),
        helper.make_node('Add', ['mm', 'bias'], ['z']),
        helper.make_node('LogSoftmax', ['z'], ['y'], axis=1),
    ], [const('w1', f(2, 2, 1, 1)), const('w2', f(3, 2, 3, 3)), const('shape', np.array([0, -1], np.int64)),
        const('w3', f(7, 4)), const('bias', f(4))], [2, 4, 4], [4])
    # element-wise and layout: Sub, Mul, Div with constants, Sigmoid, Tanh, Transpose, Identity, Dropout
    save(f'{d}/elementwise.onnx', [
        helper.make_node('Sub', ['x', 'mean'], ['a']),
        helper.make_node('Mul', ['a', 'two'], ['b']),
        helper.make_node('Div', ['b', 'scale'], ['c']),
        helper.make_node('Sigmoid', ['c'], ['d']),
        helper.make_node('Transpose', ['d'], ['t'], perm=[0, 2, 1]),
        helper.make_node('Identity', ['t'], ['i']),
        helper.make_node('Dropout', ['i'], ['dr']),
        helper.make_node('Tanh', ['dr'], ['y']),
    ], [const('mean', f(3, 4)), const('two', np.array(2, np.float32)), const('scale', f(4))], [3, 4], [4, 3])


if __name__ == '__main__':
    main()
