// TensorFlow.js (wasm backend) as an in-process peer: training steps of a one-layer LSTM / GRU with node-rnn's
// weights (bench/tfjs-rnn-layer.ts); its gradients must match node-rnn's before either is timed. A tfjs step takes
// seconds (its wasm MatMul with a transposed operand, which backward uses throughout, is 10-40x slower than the
// plain one), so it has its own small repeat count, and the gradient check is its warm-up.

import type { InProcessPeer, PeerRun } from './peers';
import { TRAIN_LR } from './ours';
import { createTfjsPeer, loadTfjs, type TfjsCell } from './tfjs-rnn-layer';
import { accuracy } from './accuracy';

const TOLERANCE = 1e-4;

/** The peer, or the reason TensorFlow.js with the wasm backend cannot be loaded. */
export async function loadTfjsPeer(): Promise<InProcessPeer | string> {
  let rt: Awaited<ReturnType<typeof loadTfjs>>;
  try {
    rt = await loadTfjs();
  } catch (error) {
    return `TensorFlow.js with the wasm backend could not be loaded (${(error as Error).message.split('\n')[0]})`;
  }
  return {
    name: 'tfjs',
    version: rt.version,
    describe:
      `tfjs ${rt.version}, ${rt.backend} backend (${rt.simd ? 'SIMD' : 'no SIMD'}), ${rt.threads} thread${rt.threads === 1 ? '' : 's'}` +
      `${rt.multithreadSupported ? '' : ' (tfjs-backend-wasm has no multithreading under Node)'}; tf.layers LSTM / reset_after GRU, ` +
      'optimizer.minimize + dataSync; warm-up 1 (the gradient check)',
    unsupported(c, device) {
      if (device !== 'cpu') return 'tfjs runs on the CPU (wasm) here';
      if (c.pass !== 'train') return 'tfjs is compared on training steps only (--pass train)';
      if (c.mode !== 'LSTM' && c.mode !== 'GRU') return 'tfjs has no plain RNN peer here (LSTM and GRU only)';
      if (c.shape.L !== 1 || c.shape.D !== 1 || c.shape.P !== 0) return 'the tfjs peer is one unidirectional layer without projection';
      return null;
    },
    async create(c, ours, settings): Promise<PeerRun> {
      const s = c.shape;
      const spec = { cell: c.mode as TfjsCell, seqLen: s.T, batch: s.B, inputSize: s.I, hiddenSize: s.H };
      const peer = createTfjsPeer(rt, spec, ours.weights, TRAIN_LR);
      peer.setBatch(ours.input, ours.g);
      const mine = ours.gradients();
      const theirs = peer.gradients();
      const errs = Object.keys(mine).map((k) => accuracy(theirs[k] ?? [], mine[k]));
      const relErr = Math.max(...errs.map((e) => e.relErr));
      const maxAbsErr = Math.max(...errs.map((e) => e.maxAbsErr));
      return {
        runner: { run: () => void peer.trainStep() },
        warmup: 0,
        repeats: settings.tfjsRepeats,
        check: { what: 'gradients', relErr, maxAbsErr, agrees: relErr <= TOLERANCE },
        dispose: () => peer.dispose(),
      };
    },
  };
}
