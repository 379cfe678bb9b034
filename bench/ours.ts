// node-rnn's side of a case: the module with seeded weights, the input, and the Runner for the pass (forward under
// noGrad; backward alone after an untimed forward; train = forward + backward + SGD step + zeroGrad), on the CPU
// or a CUDA device, at the case's precision: float32 and TF32 run the module as built; bfloat16 and float16
// convert the module and the input (module.bfloat16() / .half()); int8 runs quantizeDynamic(module, { dtype:
// 'int8' }) where this build of node-rnn exports it, prepacked optimizeForInference(module). Also what the peers and the accuracy columns compare with:
// node-rnn float32's output on the same weights and input (and the float32 gradients).

import type { Module, Tensor } from '../lib/index';
import type { BenchDevice } from './args';
import { outputSize, type BenchCase } from './cases';
import { firstLine } from './peers';
import type { Runner } from './timing';

export type NodeRnn = typeof import('../lib/index');

/** Learning rate of every SGD step the bench times (ours and the peers'). */
export const TRAIN_LR = 0.01;

/** Why an int8 row of ours shows "-" when the library has no quantizeDynamic (it lands separately). */
export const NO_QUANTIZE_DYNAMIC = 'this build of node-rnn has no quantizeDynamic';

/** The part of a recurrent module the bench calls: PyTorch's forward, `[output, state]`. */
interface Forwardable {
  forward(x: Tensor): [Tensor, unknown];
}

/** node-rnn's dynamic quantization, when the build has it: a module with the same forward. */
type OptimizeForInference = (module: Module, options?: { dtype: 'bfloat16' }) => Forwardable;
type QuantizeDynamic = (module: Module, options: { dtype: 'int8' }) => Forwardable & Partial<Pick<Module, 'eval'>>;

/** node-rnn at the case's precision. */
export interface OursTimed {
  runner: Runner;
  /** A forward's output (no graph) on the host, widened to float32. */
  output(): Float32Array;
}

export interface OursCase {
  /** The parameters under PyTorch's names, float32 host copies taken before any update or conversion. */
  weights: Record<string, Float32Array>;
  /** Input [T, B, I] and output gradient [T, B, D*(P or H)], seq-first, float32, on the host. */
  input: Float32Array;
  g: Float32Array;
  /** node-rnn float32's forward output on these weights and input (forward cases; null otherwise). */
  reference: Float32Array | null;
  /** What times node-rnn at the case's precision, or why nothing does (the peers still run on the data above). */
  timed: OursTimed | { skipped: string } | { failed: string };
  /** float32 gradients of sum(output * g) with respect to the parameters, under PyTorch's names; no .grad left. */
  gradients(): Record<string, Float32Array>;
  dispose(): void;
}

/** Disposes every tensor in a forward result (`[out, h]`, `[out, [h, c]]`). */
function disposeAll(value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) disposeAll(v);
  } else if (value !== null && typeof value === 'object' && typeof (value as Tensor).dispose === 'function') {
    (value as Tensor).dispose();
  }
}

function buildModule(lib: NodeRnn, c: BenchCase): { module: Module; forward(x: Tensor): [Tensor, unknown] } {
  const s = c.shape;
  const options = { inputSize: s.I, hiddenSize: s.H, numLayers: s.L, bidirectional: s.D === 2 };
  if (c.mode === 'LSTM') {
    const m = new lib.LSTM({ ...options, projSize: s.P });
    return { module: m, forward: (x) => m.forward(x) };
  }
  if (c.mode === 'GRU') {
    const m = new lib.GRU(options);
    return { module: m, forward: (x) => m.forward(x) };
  }
  const m = new lib.RNN({ ...options, nonlinearity: c.mode === 'RNN_RELU' ? 'relu' : 'tanh' });
  return { module: m, forward: (x) => m.forward(x) };
}

/** A host float32 copy of a result (half results widened first). */
function hostFloat(t: Tensor): Float32Array {
  const wide = t.dtype === 'float32' ? t : t.float();
  const host = wide.device === 'cpu' ? Float32Array.from(wide.data as Float32Array) : (wide.cpu().data as Float32Array);
  if (wide !== t && wide.device !== 'cpu') wide.dispose();
  return host;
}

/** The module's forward at the case's precision (converting it in place), or why there is none. */
function atPrecision(
  lib: NodeRnn, c: BenchCase, module: Module, forward: (x: Tensor) => [Tensor, unknown], input: Tensor,
): { forward: (x: Tensor) => [Tensor, unknown]; input: Tensor } | { skipped: string } | { failed: string } {
  switch (c.precision) {
    case 'float32':
    case 'tf32':
      return { forward, input };
    case 'bfloat16':
      module.bfloat16();
      return { forward, input: input.bfloat16() as unknown as Tensor };
    case 'float16':
      module.half();
      return { forward, input: input.half() as unknown as Tensor };
    case 'prepacked':
    case 'prepacked-bf16': {
      const optimize = (lib as unknown as { optimizeForInference?: OptimizeForInference }).optimizeForInference;
      if (typeof optimize !== 'function') return { skipped: 'this build of node-rnn has no optimizeForInference' };
      const bf16 = c.precision === 'prepacked-bf16';
      try {
        const p = bf16 ? optimize(module, { dtype: 'bfloat16' }) : optimize(module);
        return { forward: (x) => p.forward(x), input: bf16 ? input.bfloat16() as unknown as Tensor : input };
      } catch (error) {
        return { failed: `optimizeForInference: ${firstLine(error)}` };
      }
    }
    case 'int8': {
      // written against the API before it lands: feature-checked, so that a build without it still runs the peers
      const quantize = (lib as unknown as { quantizeDynamic?: QuantizeDynamic }).quantizeDynamic;
      if (typeof quantize !== 'function') return { skipped: NO_QUANTIZE_DYNAMIC };
      try {
        const q = quantize(module, { dtype: 'int8' });
        q.eval?.();
        return { forward: (x) => q.forward(x), input };
      } catch (error) {
        return { failed: `quantizeDynamic: ${firstLine(error)}` };
      }
    }
  }
}

export function prepareOurs(lib: NodeRnn, c: BenchCase, device: BenchDevice, seed: number): OursCase {
  const s = c.shape;
  lib.manualSeed(seed);
  const { module, forward: forward32 } = buildModule(lib, c);
  const hostInput = lib.randn([s.T, s.B, s.I]);
  const hostG = lib.randn([s.T, s.B, outputSize(s)]);
  const weights = Object.fromEntries(module.namedParameters().map(([k, v]) => [k, Float32Array.from(v.data as Float32Array)]));
  const onDevice = device !== 'cpu';
  if (onDevice) module.to(device);
  const input32 = onDevice ? hostInput.to(device) : hostInput;
  const g = onDevice ? hostG.to(device) : hostG;
  const sync = onDevice ? (): void => lib.cuda.synchronize(Number(device.slice(5))) : undefined;
  const optimizer = new lib.optim.SGD(module.parameters(), { lr: TRAIN_LR });
  const owned: Tensor[] = onDevice ? [input32, g] : [];

  // the reference first: converting or quantizing may change the module in place
  let reference: Float32Array | null = null;
  if (c.pass === 'forward') {
    module.eval();
    if (onDevice) lib.setFloat32MatmulPrecision('highest');
    const result = lib.noGrad(() => forward32(input32));
    reference = hostFloat(result[0]);
    if (onDevice) disposeAll(result);
  } else if (c.precision !== 'float32' && c.precision !== 'tf32') {
    throw new Error(`node-rnn bench: ${c.precision} times forward passes only`); // bench/args.ts leaves these out
  }
  if (onDevice) lib.setFloat32MatmulPrecision(c.precision === 'tf32' ? 'high' : 'highest');

  let timed: OursCase['timed'];
  const converted = atPrecision(lib, c, module, forward32, input32);
  if (!('forward' in converted)) {
    timed = converted;
  } else {
    const { forward, input } = converted;
    if (input !== input32 && onDevice) owned.push(input);
    const output = (): Float32Array => {
      const result = lib.noGrad(() => forward(input));
      const out = hostFloat(result[0]);
      if (onDevice) disposeAll(result);
      return out;
    };
    let runner: Runner;
    if (c.pass === 'forward') {
      let result: unknown = null;
      runner = {
        run: () => {
          result = lib.noGrad(() => forward(input));
        },
        sync,
        finish: () => {
          if (onDevice) disposeAll(result); // device memory is freed now rather than by the GC
          result = null;
        },
      };
    } else if (c.pass === 'backward') {
      module.train();
      let result: [Tensor, unknown] | null = null;
      runner = {
        prepare: () => {
          result = forward(input);
          sync?.();
        },
        run: () => lib.autograd.backward([result![0]], [g]),
        sync,
        finish: () => {
          if (onDevice) disposeAll(result);
          result = null;
          module.zeroGrad();
        },
      };
    } else {
      module.train();
      runner = {
        run: () => {
          const result = forward(input);
          lib.autograd.backward([result[0]], [g]);
          optimizer.step();
          optimizer.zeroGrad();
          if (onDevice) disposeAll(result);
        },
        sync,
      };
    }
    timed = { runner, output };
  }

  return {
    weights,
    input: hostInput.data as Float32Array,
    g: hostG.data as Float32Array,
    reference,
    timed,
    gradients(): Record<string, Float32Array> {
      const result = forward32(input32);
      lib.autograd.backward([result[0]], [g]);
      const grads = Object.fromEntries(module.namedParameters().map(([k, v]) => [k, hostFloat(v.grad!)]));
      module.zeroGrad();
      if (onDevice) disposeAll(result);
      return grads;
    },
    dispose(): void {
      if (!onDevice) return;
      for (const t of owned) t.dispose();
      for (const p of module.parameters()) p.dispose();
    },
  };
}
