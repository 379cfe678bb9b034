// The tensor ops and torch.nn.functional on CUDA tensors, through the native kernels: every case of
// test/helpers/device-cases.ts compared with the CPU ops (outputs and gradients, which must stay on the GPU), the
// native argument checks, and an LSTM + Linear + crossEntropy model trained with Adam on CUDA against the same model
// on the CPU, reading nothing back but the loss. Skipped, saying why, without a GPU.
import { strict as assert } from 'node:assert';
import { LSTM, Linear, Tensor, cuda, manualSeed, randn, tensor } from '../lib/index';
import { native } from '../lib/binding';
import { crossEntropy } from '../lib/nn/functional/index';
import { Adam } from '../lib/optim/index';
import { functionalCases, opCases } from './helpers/device-cases';
import { compareWithCpu } from './helpers/device-compare';
import { whyUnavailable } from './helpers/cuda';
import { relativeError } from './helpers/fixtures';
import { throwsExactly } from './helpers/assertions';

// float32 kernels against the CPU's float64 accumulation; cuBLAS sums in another order
const TOLERANCE = 1e-5;

describe('cuda ops', function () {
  before(function () {
    if (!cuda.isAvailable()) {
      console.log(`    CUDA op tests skipped: ${whyUnavailable()}`);
      this.skip();
    }
  });

  describe('cuda ops: against the CPU', () => {
    for (const c of opCases) it(c.name, () => compareWithCpu(c, 'cuda', TOLERANCE));
  });

  describe('cuda functional: against the CPU', () => {
    for (const c of functionalCases) it(c.name, () => compareWithCpu(c, 'cuda', TOLERANCE));
  });

  describe('cuda ops: native argument checks', () => {
    it('refuse views past a buffer, bad indices and mixed devices before any kernel runs', () => {
      const a = randn([6], { device: 'cuda' }).storage() as never;
      const b = randn([4], { device: 'cuda' }).storage() as never;
      throwsExactly(() => native.cudaStridedCopy(a, 0, [1], b, 1, [1], [4]), RangeError, /^cudaStridedCopy: src is too small/);
      throwsExactly(() => native.cudaStridedCopy(a, 0, [1, 1, 1, 1, 1, 1, 1, 1, 1], b, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1]),
        RangeError, /more than 8 dimensions/);
      throwsExactly(() => native.cudaBinary(7, a, a, [1], b, [1], [6], 1), RangeError, /^cudaBinary: unknown op code 7/);
      throwsExactly(() => native.cudaIndexSelect(b, a, 1, 6, 1, BigInt64Array.of(0n, 6n, 1n, 2n)), RangeError, /index\[1\] = 6 is not in \[0, 6\)/);
      throwsExactly(() => native.cudaSumMiddle(b, a, 2, 3, 1, 1), RangeError, /^cudaSumMiddle: out has 4 elements, expected 2/);
      throwsExactly(() => native.cudaGemmBatched(false, false, 2, 2, 2, 1, b, 2, 4, b, 2, 0, 0, a, 2, 4, 2), RangeError, /^cudaGemmBatched: A is too small/);
      throwsExactly(() => native.cudaUnary(0, a, tensor([1, 2]) as never), TypeError, /must be a DeviceBuffer/);
    });
  });

  describe('cuda ops: training on the GPU', () => {
    it('LSTM + Linear + crossEntropy with Adam on CUDA follows the CPU within 1e-4, reading back only the loss', () => {
      const build = () => {
        manualSeed(11);
        return { lstm: new LSTM({ inputSize: 5, hiddenSize: 8, batchFirst: true }), head: new Linear({ inFeatures: 8, outFeatures: 4 }) };
      };
      manualSeed(3);
      const x = randn([3, 6, 5]);
      const target = tensor(BigInt64Array.from({ length: 18 }, (_, i) => BigInt((i * 7) % 4)), [18]);
      const cpu = build();
      const gpu = build();
      gpu.lstm.to('cuda');
      gpu.head.to('cuda');
      const params = (m: typeof cpu) => [...m.lstm.parameters(), ...m.head.parameters()];
      const optCpu = new Adam(params(cpu), { lr: 0.01 });
      const optGpu = new Adam(params(gpu), { lr: 0.01 });
      const xd = x.cuda();
      const step = (m: typeof cpu, input: Tensor, opt: Adam): Tensor => {
        opt.zeroGrad();
        const [out] = m.lstm.forward(input);
        const loss = crossEntropy(m.head.forward(out).reshape([18, 4]), target);
        loss.backward();
        opt.step();
        return loss;
      };
      const download = native.cudaDownload;
      let downloads = 0;
      native.cudaDownload = (dst, src) => {
        downloads++;
        download(dst, src);
      };
      try {
        for (let s = 0; s < 5; s++) {
          const lc = step(cpu, x, optCpu).data[0];
          const before = downloads;
          const lossGpu = step(gpu, xd, optGpu);
          assert.equal(lossGpu.device, 'cuda:0');
          assert.equal(downloads, before, 'a training step downloads nothing');
          const lg = lossGpu.cpu().data[0];
          assert.ok(Math.abs(lg - lc) <= 1e-4 * Math.max(1, Math.abs(lc)), `step ${s}: loss ${lg} on CUDA, ${lc} on the CPU`);
        }
      } finally {
        native.cudaDownload = download;
      }
      params(gpu).forEach((p, i) => {
        assert.equal(p.device, 'cuda:0');
        const err = relativeError(p.cpu(), params(cpu)[i]);
        assert.ok(err <= 1e-4, `param ${i}: relative error ${err.toExponential(2)} after 5 Adam steps`);
      });
    });
  });
});
