// run_onnx.js: runs an ONNX model with ONNX Runtime (the npm package onnxruntime-node), for tests/test_interop.c.
//
//     node run_onnx.js MODULES MODEL.onnx INPUTS.f32 DIMS OUT.f32
//
// MODULES is the node_modules folder onnxruntime-node was installed into. INPUTS.f32 holds raw little-endian float32
// examples for the model's one input, each of shape DIMS ("1,28,28"); all of them go through in one batch, and the
// model's first output is written to OUT.f32 the same way.
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
    const [modules, modelPath, inputsPath, dimsArg, outPath] = process.argv.slice(2);
    const ort = require(path.join(modules, 'onnxruntime-node'));
    const session = await ort.InferenceSession.create(modelPath, {intraOpNumThreads: 1});
    const raw = fs.readFileSync(inputsPath);
    const data = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
    const dims = dimsArg.split(',').map(Number);
    const per = dims.reduce((a, b) => a * b, 1);
    const feeds = {};
    feeds[session.inputNames[0]] = new ort.Tensor('float32', data, [data.length / per, ...dims]);
    const results = await session.run(feeds);
    const out = results[session.outputNames[0]].data;
    fs.writeFileSync(outPath, Buffer.from(out.buffer, out.byteOffset, out.length * 4));
    console.log(`${session.inputNames[0]} -> ${session.outputNames[0]}: ${data.length / per} examples`);
}

main().catch((e) => {
    console.error(`run_onnx.js: ${e.message || e}`);
    process.exit(1);
});
