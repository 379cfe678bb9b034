// TensorFlow.js peer for the training-step benchmark: a one-layer LSTM / GRU as a tf.layers RNN layer on the
// WebAssembly backend (@tensorflow/tfjs-backend-wasm), given the same weights as a PyTorch-layout module, so that
// its forward computes what nn.LSTM / nn.GRU compute and its training step (forward, backward, SGD update) is
// the same work as node-rnn's.
//
// Weights. Keras keeps kernel [I, G*H] and recurrent_kernel [H, G*H] (x W, not W x as PyTorch) and one bias:
//   LSTM: gate order i, f, c, o = PyTorch's i, f, g, o: kernel = weight_ih^T, recurrent_kernel = weight_hh^T,
//         bias = bias_ih + bias_hh (the two only ever appear summed).
//   GRU:  gate order z, r, h (PyTorch r, z, n), and PyTorch's formulation is Keras' reset_after=True, whose
//         bias is [2, 3H] (input bias, recurrent bias): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
//
// tfjs-layers 4.22's GRUCell throws on resetAfter: true (it has only the reset-before formulation, r applied to
// h before the recurrent matmul, which computes a different function). The GRU here is therefore a GRUCell
// subclass whose call() is the reset_after step, run by the same generic tf.layers.rnn loop as tf.layers.gru;
// per step it does the same two matmuls as the stock cell's reset-before path ([B, I] x [I, 3H] and [B, H] x
// [H, 3H], the stock cell splitting the latter in two) plus elementwise ops.
//
// Threads: in Node, tfjs-backend-wasm 4.22 reports WASM_HAS_MULTITHREAD_SUPPORT = false unconditionally
// (tensorflow/tfjs#3830), so it loads the single-threaded SIMD binary and setThreadsCount has no effect;
// loadTfjs() reports the count the backend actually uses (getThreadsCount()).

import type * as Tf from './tfjs-types';
import { requirePeer } from './peer-require';

export type TfjsCell = 'LSTM' | 'GRU';

export interface TfjsSpec {
  cell: TfjsCell;
  seqLen: number;
  batch: number;
  inputSize: number;
  hiddenSize: number;
}

export interface TfjsRuntime {
  tf: typeof Tf;
  /** @tensorflow/tfjs version, e.g. "4.22.0". */
  version: string;
  /** tf.getBackend() after setup: "wasm". */
  backend: string;
  /** Threads the wasm backend uses (XNNPACK thread pool), from getThreadsCount(). */
  threads: number;
  simd: boolean;
  multithreadSupported: boolean;
}

export interface TfjsPeer {
  /** Input [T, B, I] seq-first; output [T, B, H] seq-first, as PyTorch returns it (no graph recorded). */
  forward(input: Float32Array): Float32Array;
  /**
   * One training step on the input and output gradient given to setBatch: loss = sum(output * g), backward,
   * SGD update of the layer's weights; returns the loss (read with dataSync, which forces completion).
   */
  trainStep(): number;
  /** Input [T, B, I] and g [T, B, H], seq-first (transposed once here to the layer's batch-first layout). */
  setBatch(input: Float32Array, g: Float32Array): void;
  /** Gradients of sum(output * g) w.r.t. the weights, in PyTorch's names and layouts (no update). */
  gradients(): Record<string, Float32Array>;
  dispose(): void;
}

/** Loads @tensorflow/tfjs and selects the wasm backend; throws when either is unavailable. */
export async function loadTfjs(): Promise<TfjsRuntime> {
  const tf = requirePeer<typeof Tf>('@tensorflow/tfjs');
  const wasm = requirePeer<{ getThreadsCount(): number }>('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  const backend = tf.getBackend();
  if (backend !== 'wasm') throw new Error(`tfjs backend is ${backend}, not wasm`);
  return {
    tf,
    version: tf.version.tfjs,
    backend,
    threads: wasm.getThreadsCount(),
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    multithreadSupported: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
  };
}

// ---------------------------------------------------------------------------
// PyTorch <-> Keras weight layouts
// ---------------------------------------------------------------------------

/** Keras gate block k holds PyTorch gate block KERAS_FROM_TORCH[cell][k]. */
const KERAS_FROM_TORCH: Record<TfjsCell, number[]> = {
  LSTM: [0, 1, 2, 3], // i, f, c, o  <-  i, f, g, o
  GRU: [1, 0, 2], // z, r, h  <-  r, z, n
};

export interface KerasWeights {
  /** [I, G*H] */
  kernel: Float32Array;
  /** [H, G*H] */
  recurrentKernel: Float32Array;
  /** LSTM [4H] (bias_ih + bias_hh); GRU [2, 3H] (bias_ih; bias_hh). */
  bias: Float32Array;
}

function weight(weights: Record<string, Float32Array>, name: string, length: number): Float32Array {
  const w = weights[name];
  if (w === undefined) throw new Error(`tfjs-rnn-layer: missing weight ${name}`);
  if (w.length !== length) throw new Error(`tfjs-rnn-layer: ${name} has ${w.length} elements, expected ${length}`);
  return w;
}

/** PyTorch W [G*H, cols] (gate blocks in PyTorch order) -> Keras [cols, G*H] (gate blocks in Keras order). */
function toKerasMatrix(w: Float32Array, cols: number, H: number, order: number[]): Float32Array {
  const G = order.length;
  const out = new Float32Array(cols * G * H);
  order.forEach((from, to) => {
    for (let j = 0; j < H; j++) {
      const src = (from * H + j) * cols;
      const dst = to * H + j;
      for (let c = 0; c < cols; c++) out[c * G * H + dst] = w[src + c];
    }
  });
  return out;
}

/** Inverse of toKerasMatrix. */
function fromKerasMatrix(k: Float32Array, cols: number, H: number, order: number[]): Float32Array {
  const G = order.length;
  const out = new Float32Array(G * H * cols);
  order.forEach((from, to) => {
    for (let j = 0; j < H; j++) {
      const dst = (from * H + j) * cols;
      const src = to * H + j;
      for (let c = 0; c < cols; c++) out[dst + c] = k[c * G * H + src];
    }
  });
  return out;
}

function permuteGates(b: Float32Array, H: number, order: number[], inverse = false): Float32Array {
  const out = new Float32Array(b.length);
  order.forEach((from, to) => {
    if (inverse) out.set(b.subarray(to * H, (to + 1) * H), from * H);
    else out.set(b.subarray(from * H, (from + 1) * H), to * H);
  });
  return out;
}

/** Layer-0 weights of a PyTorch state dict (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0) in Keras layout. */
export function toKerasWeights(spec: TfjsSpec, weights: Record<string, Float32Array>): KerasWeights {
  const { inputSize: I, hiddenSize: H } = spec;
  const order = KERAS_FROM_TORCH[spec.cell];
  const G = order.length;
  const kernel = toKerasMatrix(weight(weights, 'weight_ih_l0', G * H * I), I, H, order);
  const recurrentKernel = toKerasMatrix(weight(weights, 'weight_hh_l0', G * H * H), H, H, order);
  const bih = permuteGates(weight(weights, 'bias_ih_l0', G * H), H, order);
  const bhh = permuteGates(weight(weights, 'bias_hh_l0', G * H), H, order);
  let bias: Float32Array;
  if (spec.cell === 'LSTM') {
    bias = new Float32Array(G * H);
    for (let i = 0; i < bias.length; i++) bias[i] = bih[i] + bhh[i];
  } else {
    bias = new Float32Array(2 * G * H);
    bias.set(bih, 0);
    bias.set(bhh, G * H);
  }
  return { kernel, recurrentKernel, bias };
}

/**
 * Gradients w.r.t. the Keras weights, in PyTorch's names and layouts. For the LSTM the gradient of the single
 * Keras bias is the gradient of both bias_ih_l0 and bias_hh_l0 (they enter the cell only as their sum).
 */
export function fromKerasGradients(spec: TfjsSpec, grads: KerasWeights): Record<string, Float32Array> {
  const { inputSize: I, hiddenSize: H } = spec;
  const order = KERAS_FROM_TORCH[spec.cell];
  const G = order.length;
  const out: Record<string, Float32Array> = {
    weight_ih_l0: fromKerasMatrix(grads.kernel, I, H, order),
    weight_hh_l0: fromKerasMatrix(grads.recurrentKernel, H, H, order),
  };
  if (spec.cell === 'LSTM') {
    out.bias_ih_l0 = permuteGates(grads.bias, H, order, true);
    out.bias_hh_l0 = out.bias_ih_l0.slice();
  } else {
    out.bias_ih_l0 = permuteGates(grads.bias.subarray(0, G * H), H, order, true);
    out.bias_hh_l0 = permuteGates(grads.bias.subarray(G * H), H, order, true);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

/** What the reset_after cell uses of tfjs-layers' GRUCell (public or protected members there). */
interface GRUCellInternals {
  units: number;
  built: boolean;
  kernel: Tf.LayerVariable;
  recurrentKernel: Tf.LayerVariable;
  bias: Tf.LayerVariable | null;
  kernelInitializer: unknown;
  recurrentInitializer: unknown;
  biasInitializer: unknown;
  addWeight(name: string, shape: number[], dtype?: unknown, initializer?: unknown, regularizer?: unknown, trainable?: boolean): Tf.LayerVariable;
}

type GRUCellClass = new (args: Tf.GRUCellLayerArgs) => object;

/**
 * A GRU cell with Keras' reset_after=True formulation (PyTorch's), as a subclass of tfjs-layers' GRUCell (whose
 * class is not exported by name, hence taken from an instance). Weights: kernel [I, 3H], recurrent_kernel
 * [H, 3H], bias [2, 3H], gates z, r, h.
 */
function resetAfterGRUCell(tf: typeof Tf, units: number): object {
  const GRUCell = tf.layers.gruCell({ units: 1 }).constructor as GRUCellClass;
  class ResetAfterGRUCell extends GRUCell {
    build(inputShape: number[] | number[][]): void {
      const self = this as unknown as GRUCellInternals;
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as number[];
      const inputDim = shape[shape.length - 1];
      const H = self.units;
      self.kernel = self.addWeight('kernel', [inputDim, 3 * H], undefined, self.kernelInitializer, undefined, true);
      self.recurrentKernel = self.addWeight('recurrent_kernel', [H, 3 * H], undefined, self.recurrentInitializer, undefined, true);
      self.bias = self.addWeight('bias', [2, 3 * H], undefined, self.biasInitializer, undefined, true);
      self.built = true;
    }

    call(inputs: Tf.Tensor[], _kwargs: unknown): Tf.Tensor[] {
      const self = this as unknown as GRUCellInternals;
      return tf.tidy(() => {
        const [x, h] = inputs as [Tf.Tensor2D, Tf.Tensor2D];
        const [bx, bh] = tf.unstack(self.bias!.read()) as [Tf.Tensor1D, Tf.Tensor1D];
        const mx = tf.add(tf.matMul(x, self.kernel.read() as Tf.Tensor2D), bx);
        const mh = tf.add(tf.matMul(h, self.recurrentKernel.read() as Tf.Tensor2D), bh);
        const [xz, xr, xh] = tf.split(mx, 3, 1);
        const [hz, hr, hh] = tf.split(mh, 3, 1);
        const z = tf.sigmoid(tf.add(xz, hz));
        const r = tf.sigmoid(tf.add(xr, hr));
        const n = tf.tanh(tf.add(xh, tf.mul(r, hh)));
        const out = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), n));
        return [out, out];
      });
    }
  }
  return new ResetAfterGRUCell({
    units,
    recurrentActivation: 'sigmoid',
    kernelInitializer: 'zeros', // the weights are set right after build (the default orthogonal init is slow)
    recurrentInitializer: 'zeros',
  });
}

function buildLayer(tf: typeof Tf, spec: TfjsSpec): Tf.layers.Layer {
  if (spec.cell === 'LSTM') {
    return tf.layers.lstm({
      units: spec.hiddenSize,
      returnSequences: true,
      recurrentActivation: 'sigmoid', // Keras' default in tfjs is hardSigmoid
      kernelInitializer: 'zeros',
      recurrentInitializer: 'zeros',
    });
  }
  return tf.layers.rnn({
    cell: resetAfterGRUCell(tf, spec.hiddenSize) as Parameters<typeof tf.layers.rnn>[0]["cell"],
    returnSequences: true,
  });
}

/** [T, B, F] <-> [B, T, F] on a flat Float32Array. */
function swapLeadingAxes(data: Float32Array, d0: number, d1: number, f: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < d0; a++) {
    for (let b = 0; b < d1; b++) out.set(data.subarray((a * d1 + b) * f, (a * d1 + b + 1) * f), (b * d0 + a) * f);
  }
  return out;
}

/** A tfjs layer with the given PyTorch-layout weights (layer 0 of weight_ih_l0 & co) on the current backend. */
export function createTfjsPeer(rt: TfjsRuntime, spec: TfjsSpec, weights: Record<string, Float32Array>, lr = 0.01): TfjsPeer {
  const { tf } = rt;
  const { seqLen: T, batch: B, inputSize: I, hiddenSize: H } = spec;
  const layer = buildLayer(tf, spec);
  const kw = toKerasWeights(spec, weights);
  const G = KERAS_FROM_TORCH[spec.cell].length;

  // Built by a first call on a [1, 1, I] input (weights are created then; the batch and sequence length stay free).
  tf.tidy(() => {
    layer.apply(tf.zeros([1, 1, I]));
  });
  const vars = layer.trainableWeights;
  if (vars.length !== 3) throw new Error(`tfjs-rnn-layer: expected 3 weights in the ${spec.cell} layer, got ${vars.length}`);
  const biasShape = spec.cell === 'LSTM' ? [G * H] : [2, G * H];
  tf.tidy(() =>
    layer.setWeights([tf.tensor2d(kw.kernel, [I, G * H]), tf.tensor2d(kw.recurrentKernel, [H, G * H]), tf.tensor(kw.bias, biasShape)]),
  );
  const variables = vars.map((v) => (v as unknown as { val: Tf.Variable }).val);
  const optimizer = tf.train.sgd(lr);

  let x: Tf.Tensor3D | null = null;
  let g: Tf.Tensor3D | null = null;
  const lossFn = (): Tf.Scalar => tf.sum(tf.mul(layer.apply(x!) as Tf.Tensor3D, g!));
  const needBatch = (): void => {
    if (x === null || g === null) throw new Error('tfjs-rnn-layer: setBatch first');
  };

  return {
    forward(input: Float32Array): Float32Array {
      if (input.length !== T * B * I) throw new Error(`tfjs-rnn-layer: input has ${input.length} elements, expected ${T * B * I}`);
      const y = tf.tidy(() => layer.apply(tf.tensor3d(swapLeadingAxes(input, T, B, I), [B, T, I])) as Tf.Tensor3D);
      const out = y.dataSync() as Float32Array;
      y.dispose();
      return swapLeadingAxes(out, B, T, H);
    },
    setBatch(input: Float32Array, grad: Float32Array): void {
      if (input.length !== T * B * I || grad.length !== T * B * H) throw new Error('tfjs-rnn-layer: setBatch sizes do not match the spec');
      x?.dispose();
      g?.dispose();
      x = tf.tensor3d(swapLeadingAxes(input, T, B, I), [B, T, I]);
      g = tf.tensor3d(swapLeadingAxes(grad, T, B, H), [B, T, H]);
    },
    trainStep(): number {
      needBatch();
      const loss = optimizer.minimize(lossFn, true, variables)!;
      const value = loss.dataSync()[0];
      loss.dispose();
      return value;
    },
    gradients(): Record<string, Float32Array> {
      needBatch();
      const { value, grads } = tf.variableGrads(lossFn, variables);
      const read = (v: Tf.Variable): Float32Array => grads[v.name].dataSync() as Float32Array;
      const out = fromKerasGradients(spec, { kernel: read(variables[0]), recurrentKernel: read(variables[1]), bias: read(variables[2]) });
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    },
    dispose(): void {
      x?.dispose();
      g?.dispose();
      x = g = null;
      optimizer.dispose();
      layer.dispose();
    },
  };
}
