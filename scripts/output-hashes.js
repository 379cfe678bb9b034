#!/usr/bin/env node
// One hash of the results per configuration, to compare two builds bit for bit (a refactor of the kernels that
// must not change any bit): LSTM and GRU, H 32 / 200 / 256 (a tail group at 200), batch 1 / 3 (bidirectional) / 8,
// 2 layers, 1 and 2 threads; forward under noGrad in float32, float32 packed once, bfloat16 and int8, and a float32
// training forward + backward (the output and every parameter's gradient).
//   NODE_RNN_ADDON=/tmp/a.node node scripts/output-hashes.js > a.txt; ... > b.txt; diff a.txt b.txt
// NODE_RNN_SIMD=avx512|avx2|base runs a lower level. Needs dist/ (npm run build:ts).
const crypto = require('node:crypto');
const path = require('node:path');
const lib = require(path.join(__dirname, '..', 'dist', 'lib', 'index.js'));

const hash = (arrays) => {
  const h = crypto.createHash('sha1');
  for (const a of arrays) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex').slice(0, 12);
};
const resultsOf = (out) => [out[0].data].concat(Array.isArray(out[1]) ? out[1].map((t) => t.data) : [out[1].data]);

for (const cell of ['LSTM', 'GRU']) {
  for (const H of [32, 200, 256]) {
    for (const B of [1, 3, 8]) {
      for (const threads of [1, 2]) {
        lib.setNumThreads(threads);
        const make = () => {
          lib.manualSeed(H * 7 + B);
          const m = new lib[cell]({ inputSize: 48, hiddenSize: H, numLayers: 2, bidirectional: B === 3 });
          return [m, lib.randn([12, B, 48])];
        };
        const name = `${cell} H${H} B${B} threads ${threads}`;
        for (const mode of ['float32', 'packed once', 'bfloat16', 'int8']) {
          const [m, x] = make();
          let module = m;
          let input = x;
          if (mode === 'packed once') module = lib.optimizeForInference(m);
          if (mode === 'bfloat16') [module, input] = [m.bfloat16(), x.bfloat16()];
          if (mode === 'int8') module = lib.quantizeDynamic(m);
          console.log(`${name} ${mode} ${hash(resultsOf(lib.noGrad(() => module.forward(input))))}`);
        }
        const [m, x] = make();
        const [y] = m.forward(x.requiresGrad_(true));
        y.sum().backward();
        console.log(`${name} training ${hash([y.data, x.grad.data, ...m.parameters().map((p) => p.grad.data)])}`);
      }
    }
  }
}
