// ONNX Runtime as an in-process peer: forward passes on the CPU, with node-rnn's weights (bench/onnx-rnn-model.ts
// builds the model); its output must match node-rnn's before either is timed.

import type { InProcessPeer, PeerRun } from './peers';
import { createOnnxPeer, loadOnnxRuntime } from './onnx-rnn-model';
import { relativeError } from './timing';

const TOLERANCE = 1e-4;

/** The peer, or the reason onnxruntime-node cannot be loaded. */
export function loadOnnxPeer(threads: number): InProcessPeer | string {
  let version: string;
  try {
    version = loadOnnxRuntime().env.versions.common ?? 'unknown';
  } catch (error) {
    return `onnxruntime-node could not be loaded (${(error as Error).message.split('\n')[0]})`;
  }
  return {
    name: 'onnxruntime',
    version,
    describe: `onnxruntime-node ${version}: CPU execution provider, ${threads} intra-op thread${threads === 1 ? '' : 's'}, graph optimisation all`,
    unsupported(c, device) {
      if (device !== 'cpu') return 'onnxruntime-node runs on the CPU here (no CUDA execution provider installed)';
      if (c.pass !== 'forward') return 'ONNX Runtime is compared on forward passes only';
      if (c.shape.P > 0) return "ONNX's LSTM has no projection (proj_size)";
      return null;
    },
    async create(c, ours, settings): Promise<PeerRun> {
      const s = c.shape;
      const peer = await createOnnxPeer(
        { cell: c.mode, seqLen: s.T, batch: s.B, inputSize: s.I, hiddenSize: s.H, numLayers: s.L, bidirectional: s.D === 2, threads: settings.threads },
        ours.weights,
      );
      const relErr = relativeError(ours.output(), await peer.run(ours.input));
      return {
        runner: { run: async () => void (await peer.run(ours.input)) },
        warmup: settings.warmup,
        repeats: settings.repeats,
        check: { what: 'output', relErr, agrees: relErr <= TOLERANCE },
        dispose: () => peer.release(),
      };
    },
  };
}
