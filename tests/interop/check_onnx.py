#!/usr/bin/python3
"""check_onnx.py: what tests/test_interop.c asks of a model `dlc export` wrote, checked by python3-onnx.

    check_onnx.py MODEL.onnx INPUTS OUTPUTS N_INITIALIZERS [OP,OP...]

onnx.checker (full_check: the types and shapes inferred through every node) accepts it; the opset is 13 or later;
the graph's inputs are INPUTS and its outputs OUTPUTS (comma-separated names, in order), and where each is one
name, both have the symbolic batch dimension first; N_INITIALIZERS float initializers hold the parameters,
running statistics and constants (a count; -2: any count, the graph's inputs INPUTS alone; or -1 when the parameters
are graph inputs instead); and each ONNX operator named in the last argument is used.
"""
import sys

import onnx


def batched(v):
    dims = v.type.tensor_type.shape.dim
    return len(dims) > 0 and dims[0].dim_param == 'batch'


def main():
    path, n_init = sys.argv[1], int(sys.argv[4])
    want_in, want_out = sys.argv[2].split(','), sys.argv[3].split(',')
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    assert opset >= 13, f'opset {opset}'
    g = model.graph
    inits = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    names = [i.name for i in inputs]
    assert [o.name for o in g.output] == want_out, f'outputs {[o.name for o in g.output]}'
    if len(want_in) == 1 and len(want_out) == 1:
        assert [i.name for i in inputs if batched(i)] == want_in, f'inputs {names}'
        assert batched(g.output[0]), 'the output has no batch dimension'
    params = [t for t in g.initializer if t.data_type == onnx.TensorProto.FLOAT]
    if n_init >= 0 or n_init == -2:
        assert n_init < 0 or len(params) == n_init, f'{len(params)} float initializers'
        assert names == want_in, f'inputs {names}'
    else:
        # constants (named t<id>, t<id>.<what>) stay initializers; the parameters are inputs
        assert all(t.name.startswith('t') for t in params), 'parameters are initializers'
        assert [n for n in names if n in want_in] == want_in, f'inputs {names}'
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
