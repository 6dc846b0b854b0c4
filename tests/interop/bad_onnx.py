#!/usr/bin/python3
"""bad_onnx.py: an ONNX model dlc import must refuse, written with onnx.helper, for tests/test_interop.c.

    bad_onnx.py OUT.onnx [--static]

Without --static the input x is [batch, 4, height, 8]: a dynamic shape. With it, x is [batch, 4, 8, 8] and the
graph holds, each reading x, nodes dlc import cannot express: a grouped Conv ('grouped'), a dilated Conv
('dilated'), Erf ('erf'), LSTM ('lstm'), a MaxPool with ceil_mode 1 ('ceil'), an AveragePool with ceil_mode 1
('avg_ceil'), a dilated MaxPool ('dilated_pool'), Shape ('shape') and a Softmax with an attribute it does not know
('softmax'); and one it can, a Relu, whose output y is the graph's.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    out, static = sys.argv[1], '--static' in sys.argv[2:]
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, ['batch', 4, 8 if static else 'height', 8])
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, ['batch', 4, 8, 8])
    w2 = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), 'w2')
    w4 = numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), 'w4')
    nodes = [
        helper.make_node('Conv', ['x', 'w2'], ['g'], name='grouped', group=2),
        helper.make_node('Conv', ['x', 'w4'], ['d'], name='dilated', dilations=[2, 2]),
        helper.make_node('Erf', ['x'], ['e'], name='erf'),
        helper.make_node('LSTM', ['x', 'w4', 'w4'], ['l'], name='lstm', hidden_size=4),
        helper.make_node('MaxPool', ['x'], ['m'], name='ceil', kernel_shape=[3, 3], ceil_mode=1),
        helper.make_node('AveragePool', ['x'], ['a'], name='avg_ceil', kernel_shape=[2, 2], strides=[2, 2],
                         ceil_mode=1),
        helper.make_node('MaxPool', ['x'], ['dm'], name='dilated_pool', kernel_shape=[2, 2], dilations=[2, 2]),
        helper.make_node('Shape', ['x'], ['s'], name='shape'),
        helper.make_node('Softmax', ['x'], ['sm'], name='softmax', stash_type=1),
        helper.make_node('Relu', ['x'], ['y'], name='relu'),
    ]
    graph = helper.make_graph(nodes, 'bad', [x], [y], initializer=[w2, w4])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 14)])
    onnx.save(model, out)


if __name__ == '__main__':
    main()
