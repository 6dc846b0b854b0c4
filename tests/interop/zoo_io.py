#!/usr/bin/python3
"""zoo_io.py: inputs, weights and a C driver for a zoo model of any inputs and outputs, for tests/test_interop.c.

    zoo_io.py DLC MODEL.dlm DIR BATCH

The models the book's image harness cannot run (several inputs and outputs, unbatched ones among them: autograd,
blocks, custom_layers) are checked output by output. From `dlc check --json` this writes into DIR: w.npz, random
weights under the parameters' names (when the model has any); c/, `dlc compile --infer --weights w.npz --batch
BATCH` of the model; in.NAME.f32, random float32 values for each input its <name>_forward takes (BATCH examples of
a batched one; not the labels of a train section); io.json, the inputs' files and full shapes and the outputs'
names, for tests/interop/run_onnx.js; inputs.txt and outputs.txt, the names, comma-separated; and main.c, which
runs the compiled C once on the inputs and writes each output NAME to dlc.NAME.f32. The values are drawn from a
fixed seed, so a run is repeatable.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"zoo_io.py: {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def main():
    dlc, dlm, out, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    name = os.path.splitext(os.path.basename(dlm))[0]
    info = json.loads(run(dlc, 'check', dlm, '--json'))
    rng = np.random.default_rng(7)
    if info['parameters']:
        weights = {}
        for p in info['parameters']:
            shape = tuple(p['shape'])
            if p['name'].endswith('num_batches_tracked'):
                weights[p['name']] = np.array(3, dtype=np.int64)
            elif p['name'].endswith('running_var'):
                weights[p['name']] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
            else:
                weights[p['name']] = (0.5 * rng.standard_normal(shape)).astype(np.float32)
        np.savez(os.path.join(out, 'w.npz'), **weights)
    run(dlc, 'compile', dlm, '--infer', '--batch', str(batch), '-o', os.path.join(out, 'c'),
        *(['--weights', os.path.join(out, 'w.npz')] if info['parameters'] else []))
    with open(os.path.join(out, 'c', f'{name}.h')) as f:
        forward = re.search(rf'int {name}_forward\(void \*ctx, int n(.*?)\);', f.read()).group(1)
    takes = re.findall(r'\*(\w+)', forward)

    def full(t):
        return [batch] + t['shape'][1:] if t['batched'] else t['shape']

    io = {'inputs': [], 'outputs': [o['name'] for o in info['outputs']]}
    args = []
    for t in sorted((t for t in info['inputs'] if t['name'] in takes), key=lambda t: takes.index(t['name'])):
        assert t['dtype'] == 'f32', f"input {t['name']} is {t['dtype']}"
        dims = full(t)
        path = os.path.join(out, f"in.{t['name']}.f32")
        (2 * rng.standard_normal(dims)).astype('<f4').tofile(path)
        io['inputs'].append({'name': t['name'], 'file': path, 'dims': dims})
        args.append((t['name'], path, int(np.prod(dims))))
    with open(os.path.join(out, 'io.json'), 'w') as f:
        json.dump(io, f)
    with open(os.path.join(out, 'inputs.txt'), 'w') as f:
        f.write(','.join(t['name'] for t in io['inputs']) + '\n')
    with open(os.path.join(out, 'outputs.txt'), 'w') as f:
        f.write(','.join(io['outputs']) + '\n')

    uc = name.upper()
    c = [f'#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include "{name}.h"\n',
         f'static {name}_real *read_input(const char *path, size_t n) {{',
         f'    {name}_real *v = malloc(sizeof *v * n);',
         '    float *f = malloc(sizeof *f * n);',
         '    FILE *in = fopen(path, "rb");',
         '    if (!v || !f || !in || fread(f, sizeof *f, n, in) != n) {',
         '        fprintf(stderr, "cannot read %zu floats from %s\\n", n, path);',
         '        exit(1);',
         '    }',
         '    fclose(in);',
         f'    for (size_t i = 0; i < n; i++)\n        v[i] = ({name}_real)f[i];',
         '    free(f);\n    return v;\n}\n',
         f'static void write_output(const char *path, const {name}_real *v, size_t n) {{',
         '    FILE *out = fopen(path, "wb");',
         '    for (size_t i = 0; out && i < n; i++) {\n        float f = (float)v[i];\n'
         '        fwrite(&f, sizeof f, 1, out);\n    }',
         '    if (!out || fclose(out) != 0) {\n        fprintf(stderr, "cannot write %s\\n", path);\n'
         '        exit(1);\n    }\n}\n',
         'int main(void) {',
         f'    size_t bytes = ((size_t){uc}_WORKSPACE_BYTES + 63) / 64 * 64;',
         '    void *ctx = aligned_alloc(64, bytes);',
         '    memset(ctx, 0, bytes);']
    for i, (n, path, count) in enumerate(args):
        c.append(f'    {name}_real *in{i} = read_input("{path}", {count});')
    call = ', '.join(f'in{i}' for i in range(len(args)))
    c.append(f'    int rc = {name}_forward(ctx, {batch}{", " if call else ""}{call});')
    c.append('    if (rc != 0) {\n        fprintf(stderr, "forward returned %d\\n", rc);\n        return 1;\n    }')
    for o in info['outputs']:
        count = int(np.prod(full(o)))
        path = os.path.join(out, f"dlc.{o['name']}.f32")
        c.append(f'    write_output("{path}", {name}_output_{o["name"]}(ctx), {count});')
    c.append('    return 0;\n}')
    with open(os.path.join(out, 'main.c'), 'w') as f:
        f.write('\n'.join(c) + '\n')
    print(f"{name}: {len(args)} inputs, {len(io['outputs'])} outputs, {len(info['parameters'])} parameters, "
          f"batch {batch}")


if __name__ == '__main__':
    main()
