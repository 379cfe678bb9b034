// ONNX Runtime as an in-process peer: forward passes on the CPU, with node-rnn's weights (bench/onnx-rnn-model.ts
// builds the model): its float32 LSTM/GRU/RNN on float32 rows, its own int8 model of an LSTM (bench/onnx-int8.ts)
// on int8 rows. Its output is checked against node-rnn float32's before either is timed: the float32 model must
// agree to 1e-4, the int8 one within what int8 costs (a model built wrongly is off by about 1).

import { weightType } from './onnx-int8';
import type { InProcessPeer, PeerRun } from './peers';
import { accuracy } from './accuracy';
import { createOnnxPeer, int8Unsupported, loadOnnxRuntime } from './onnx-rnn-model';

const TOLERANCE = 1e-4;
/** Relative error allowed to the int8 model against float32 (measured: about 1e-2 on the bench's shapes). */
export const INT8_TOLERANCE = 0.1;

/** The header line that says what the int8 rows of ONNX Runtime run. */
export const ORT_INT8_DESCRIPTION =
  'onnxruntime int8 rows: its own quantize_dynamic model of the LSTM (com.microsoft DynamicQuantizeLSTM: int8 weights, ' +
  'a symmetric scale per gate row; uint8 activations quantized per GEMM at run time); GRU/RNN have none' +
  (weightType() === 'uint8' ? '; the weights stored as uint8 + 128 (no VNNI here: its int8 x uint8 product saturates)' : '');

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
      if (c.precision === 'bfloat16' || c.precision === 'prepacked-bf16') return "ONNX Runtime's CPU execution provider has no bfloat16 LSTM/GRU/RNN kernels";
      if (c.precision === 'int8') return int8Unsupported(c.mode);
      return null;
    },
    async create(c, ours, settings): Promise<PeerRun> {
      const s = c.shape;
      const int8 = c.precision === 'int8';
      const peer = await createOnnxPeer(
        {
          cell: c.mode, seqLen: s.T, batch: s.B, inputSize: s.I, hiddenSize: s.H, numLayers: s.L, bidirectional: s.D === 2,
          threads: settings.threads, ...(int8 ? { int8: 'per-row' as const } : {}),
        },
        ours.weights,
      );
      if (ours.reference === null) throw new Error('onnxruntime: no float32 reference output for a forward case');
      const err = accuracy(await peer.run(ours.input), ours.reference);
      return {
        runner: { run: async () => void (await peer.run(ours.input)) },
        warmup: settings.warmup,
        repeats: settings.repeats,
        check: { what: 'output', ...err, agrees: err.relErr <= (int8 ? INT8_TOLERANCE : TOLERANCE) },
        dispose: () => peer.release(),
      };
    },
  };
}
