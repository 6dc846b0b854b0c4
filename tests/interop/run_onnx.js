// run_onnx.js: runs an ONNX model with ONNX Runtime (the npm package onnxruntime-node), for tests/test_interop.c.
//
//     node run_onnx.js MODULES MODEL.onnx INPUTS.f32 DIMS OUT.f32
//     node run_onnx.js MODULES MODEL.onnx --io DIR
//
// MODULES is the node_modules folder onnxruntime-node was installed into. INPUTS.f32 holds raw little-endian float32
// examples for the model's one input, each of shape DIMS ("1,28,28"); all of them go through in one batch, and the
// model's first output is written to OUT.f32 the same way. With --io, DIR/io.json (written by
// tests/interop/zoo_io.py) names every input's file and full shape and every output, and each output NAME is written
// to DIR/ort.NAME.f32.
'use strict';
const fs = require('fs');
const path = require('path');

function floats(file) {
    const raw = fs.readFileSync(file);
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
}

function write(file, out) {
    fs.writeFileSync(file, Buffer.from(out.buffer, out.byteOffset, out.length * 4));
}

async function main() {
    const [modules, modelPath, inputsPath, dimsArg, outPath] = process.argv.slice(2);
    const ort = require(path.join(modules, 'onnxruntime-node'));
    const session = await ort.InferenceSession.create(modelPath, {intraOpNumThreads: 1});
    const feeds = {};
    if (inputsPath === '--io') {
        const io = JSON.parse(fs.readFileSync(path.join(dimsArg, 'io.json')));
        for (const t of io.inputs)
            feeds[t.name] = new ort.Tensor('float32', floats(t.file), t.dims);
        const results = await session.run(feeds);
        for (const name of io.outputs)
            write(path.join(dimsArg, `ort.${name}.f32`), results[name].data);
        console.log(`${io.inputs.map((t) => t.name)} -> ${io.outputs}`);
        return;
    }
    const data = floats(inputsPath);
    const dims = dimsArg.split(',').map(Number);
    const per = dims.reduce((a, b) => a * b, 1);
    feeds[session.inputNames[0]] = new ort.Tensor('float32', data, [data.length / per, ...dims]);
    const results = await session.run(feeds);
    write(outPath, results[session.outputNames[0]].data);
    console.log(`${session.inputNames[0]} -> ${session.outputNames[0]}: ${data.length / per} examples`);
}

main().catch((e) => {
    console.error(`run_onnx.js: ${e.message || e}`);
    process.exit(1);
});
