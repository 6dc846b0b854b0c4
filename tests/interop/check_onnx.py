#!/usr/bin/python3
"""check_onnx.py: what tests/test_interop.c asks of a model `dlc export` wrote, checked by python3-onnx.

    check_onnx.py MODEL.onnx INPUT OUTPUT N_INITIALIZERS [OP,OP...]

onnx.checker (full_check: the types and shapes inferred through every node) accepts it; the opset is 13 or later;
the graph has one input named INPUT and one output named OUTPUT, both with the symbolic batch dimension first;
and N_INITIALIZERS float initializers hold the parameters, running statistics and constants (a count, or -1 when
the parameters are graph inputs instead); and each ONNX operator named in the last argument is used.
"""
import sys

import onnx


def main():
    path, want_in, want_out, n_init = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    assert opset >= 13, f'opset {opset}'
    g = model.graph
    inits = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    data_inputs = [i for i in inputs if i.type.tensor_type.shape.dim[0].dim_param == 'batch']
    assert [i.name for i in data_inputs] == [want_in], f'inputs {[i.name for i in inputs]}'
    assert [o.name for o in g.output] == [want_out], f'outputs {[o.name for o in g.output]}'
    assert g.output[0].type.tensor_type.shape.dim[0].dim_param == 'batch', 'the output has no batch dimension'
    params = [t for t in g.initializer if t.data_type == onnx.TensorProto.FLOAT]
    if n_init >= 0:
        assert len(params) == n_init and len(inputs) == 1, f'{len(params)} float initializers, {len(inputs)} inputs'
    else:
        # constants (named t<id>) stay initializers; the parameters are inputs
        assert all(t.name.startswith('t') for t in params) and len(inputs) > 1, 'parameters are not graph inputs'
    used = {}
    for n in g.node:
        used[n.op_type] = used.get(n.op_type, 0) + 1
    for op in sys.argv[5].split(',') if len(sys.argv) > 5 else []:
        assert op in used, f'no {op} node (the nodes: {used})'
    print(f'{path}: opset {opset}, {len(g.node)} nodes, {len(params)} float initializers, '
          f'{len(inputs)} inputs, onnx {onnx.__version__} checker: ok; '
          + ', '.join(f'{k} {v}' for k, v in sorted(used.items())))


if __name__ == '__main__':
    main()
