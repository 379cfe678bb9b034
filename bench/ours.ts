// node-rnn's side of a case: the module with seeded weights, the input, and the Runner for the pass (forward under
// noGrad; backward alone after an untimed forward; train = forward + backward + SGD step + zeroGrad), on the CPU
// or a CUDA device. Also what the in-process peers check against: the output and the gradients.

import type { Module, Tensor } from '../lib/index';
import type { BenchDevice } from './args';
import { outputSize, type BenchCase } from './cases';
import type { Runner } from './timing';

export type NodeRnn = typeof import('../lib/index');

/** Learning rate of every SGD step the bench times (ours and the peers'). */
export const TRAIN_LR = 0.01;

export interface OursCase {
  runner: Runner;
  /** The parameters under PyTorch's names, host copies taken before any update. */
  weights: Record<string, Float32Array>;
  /** Input [T, B, I] and output gradient [T, B, D*(P or H)], seq-first, on the host. */
  input: Float32Array;
  g: Float32Array;
  /** A forward's output (no graph) on the host. */
  output(): Float32Array;
  /** Gradients of sum(output * g) with respect to the parameters, under PyTorch's names; leaves no .grad behind. */
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

const hostCopy = (t: Tensor): Float32Array => (t.device === 'cpu' ? Float32Array.from(t.data) : (t.cpu().data as Float32Array));

export function prepareOurs(lib: NodeRnn, c: BenchCase, device: BenchDevice, seed: number): OursCase {
  const s = c.shape;
  lib.manualSeed(seed);
  const { module, forward } = buildModule(lib, c);
  const hostInput = lib.randn([s.T, s.B, s.I]);
  const hostG = lib.randn([s.T, s.B, outputSize(s)]);
  const weights = Object.fromEntries(module.namedParameters().map(([k, v]) => [k, Float32Array.from(v.data as Float32Array)]));
  const onDevice = device !== 'cpu';
  if (onDevice) module.to(device);
  const input = onDevice ? hostInput.to(device) : hostInput;
  const g = onDevice ? hostG.to(device) : hostG;
  const sync = onDevice ? (): void => lib.cuda.synchronize(Number(device.slice(5))) : undefined;
  const optimizer = new lib.optim.SGD(module.parameters(), { lr: TRAIN_LR });

  let runner: Runner;
  if (c.pass === 'forward') {
    module.eval();
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

  return {
    runner,
    weights,
    input: hostInput.data as Float32Array,
    g: hostG.data as Float32Array,
    output(): Float32Array {
      const result = lib.noGrad(() => forward(input));
      const out = hostCopy(result[0]);
      if (onDevice) disposeAll(result);
      return out;
    },
    gradients(): Record<string, Float32Array> {
      const result = forward(input);
      lib.autograd.backward([result[0]], [g]);
      const grads = Object.fromEntries(module.namedParameters().map(([k, v]) => [k, hostCopy(v.grad!)]));
      module.zeroGrad();
      if (onDevice) disposeAll(result);
      return grads;
    },
    dispose(): void {
      if (!onDevice) return;
      input.dispose();
      g.dispose();
      for (const p of module.parameters()) p.dispose();
    },
  };
}
