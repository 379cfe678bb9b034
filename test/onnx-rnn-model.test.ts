// Checks that the ONNX Runtime benchmark peer computes the same function as
// PyTorch's nn.LSTM / nn.GRU / nn.RNN, against an independent float64 reference
// written here from PyTorch's documented equations.

import { strict as assert } from 'node:assert';
import { createOnnxPeer, loadOnnxRuntime, type PeerCell, type PeerSpec } from '../bench/onnx-rnn-model';

type Weights = Record<string, Float32Array>;

/** Small deterministic PRNG (mulberry32), uniform in [lo, hi). */
function uniform(seed: number): (lo: number, hi: number) => number {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

function gateCount(cell: PeerCell): number {
  return cell === 'LSTM' ? 4 : cell === 'GRU' ? 3 : 1;
}

function directions(spec: PeerSpec): string[] {
  return spec.bidirectional ? ['', '_reverse'] : [''];
}

/** Random weights in PyTorch's state_dict layout, initialised like PyTorch: U(-1/sqrt(H), 1/sqrt(H)). */
function randomWeights(spec: PeerSpec, rand: (lo: number, hi: number) => number): Weights {
  const H = spec.hiddenSize;
  const G = gateCount(spec.cell);
  const D = directions(spec).length;
  const k = 1 / Math.sqrt(H);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rand(-k, k));
  const weights: Weights = {};
  for (let layer = 0; layer < spec.numLayers; layer++) {
    const inputSize = layer === 0 ? spec.inputSize : D * H;
    for (const dir of directions(spec)) {
      weights[`weight_ih_l${layer}${dir}`] = fill(G * H * inputSize);
      weights[`weight_hh_l${layer}${dir}`] = fill(G * H * H);
      weights[`bias_ih_l${layer}${dir}`] = fill(G * H);
      weights[`bias_hh_l${layer}${dir}`] = fill(G * H);
    }
  }
  return weights;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** y = W x + b for W [rows, cols] (row-major). */
function affine(W: Float32Array, b: Float32Array, x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = b[r]!;
    for (let c = 0; c < cols; c++) s += W[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

/**
 * PyTorch's multi-layer RNN in float64: input [T, B, I] (seq-first), zero initial
 * state, returns the last layer's output [T, B, D*H] (forward direction first).
 *   LSTM: i,f,o = sigmoid, g = tanh; c' = f*c + i*g; h' = o*tanh(c')
 *   GRU:  r,z = sigmoid; n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); h' = (1-z)*n + z*h
 *   RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu
 */
function referenceRnn(spec: PeerSpec, weights: Weights, input: Float32Array): Float64Array {
  const { seqLen: T, batch: B, hiddenSize: H, cell } = spec;
  const dirs = directions(spec);
  const D = dirs.length;
  const G = gateCount(cell);

  let x: ArrayLike<number> = input;
  let inputSize = spec.inputSize;
  for (let layer = 0; layer < spec.numLayers; layer++) {
    const out = new Float64Array(T * B * D * H);
    dirs.forEach((dir, d) => {
      const wih = weights[`weight_ih_l${layer}${dir}`]!;
      const whh = weights[`weight_hh_l${layer}${dir}`]!;
      const bih = weights[`bias_ih_l${layer}${dir}`]!;
      const bhh = weights[`bias_hh_l${layer}${dir}`]!;
      for (let b = 0; b < B; b++) {
        let h = new Float64Array(H);
        const c = new Float64Array(H);
        for (let step = 0; step < T; step++) {
          const t = d === 0 ? step : T - 1 - step;
          const xt = Array.from({ length: inputSize }, (_, i) => x[(t * B + b) * inputSize + i]!);
          const gi = affine(wih, bih, xt, G * H, inputSize);
          const gh = affine(whh, bhh, h, G * H, H);
          const next = new Float64Array(H);
          for (let j = 0; j < H; j++) {
            if (cell === 'LSTM') {
              const gate = (g: number) => gi[g * H + j]! + gh[g * H + j]!;
              const i = sigmoid(gate(0));
              const f = sigmoid(gate(1));
              const g = Math.tanh(gate(2));
              const o = sigmoid(gate(3));
              c[j] = f * c[j]! + i * g;
              next[j] = o * Math.tanh(c[j]!);
            } else if (cell === 'GRU') {
              const r = sigmoid(gi[j]! + gh[j]!);
              const z = sigmoid(gi[H + j]! + gh[H + j]!);
              const n = Math.tanh(gi[2 * H + j]! + r * gh[2 * H + j]!);
              next[j] = (1 - z) * n + z * h[j]!;
            } else {
              const a = gi[j]! + gh[j]!;
              next[j] = cell === 'RNN_TANH' ? Math.tanh(a) : Math.max(0, a);
            }
          }
          h = next;
          out.set(h, ((t * B + b) * D + d) * H);
        }
      }
    });
    x = out;
    inputSize = D * H;
  }
  return Float64Array.from(x);
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'output length');
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(norm);
}

describe('bench/onnx-rnn-model (ONNX Runtime peer)', function () {
  before(function () {
    try {
      loadOnnxRuntime();
    } catch (err) {
      console.log(`    onnxruntime-node cannot be loaded, skipping the ONNX peer tests: ${(err as Error).message}`);
      this.skip();
    }
  });

  const base = { seqLen: 5, batch: 3, inputSize: 4, hiddenSize: 6, threads: 1 };
  const cases: PeerSpec[] = [];
  for (const cell of ['LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'] as const) {
    cases.push({ ...base, cell, numLayers: 1, bidirectional: false });
    cases.push({ ...base, cell, numLayers: 2, bidirectional: false });
    cases.push({ ...base, cell, numLayers: 2, bidirectional: true });
  }
  cases.push({ cell: 'LSTM', seqLen: 1, batch: 1, inputSize: 3, hiddenSize: 5, numLayers: 1, bidirectional: true, threads: 2 });
  cases.push({ cell: 'GRU', seqLen: 7, batch: 2, inputSize: 8, hiddenSize: 3, numLayers: 3, bidirectional: true, threads: 2 });

  cases.forEach((spec, n) => {
    const name =
      `${spec.cell} T=${spec.seqLen} B=${spec.batch} I=${spec.inputSize} H=${spec.hiddenSize}` +
      ` layers=${spec.numLayers}${spec.bidirectional ? ' bidirectional' : ''}`;
    it(`matches PyTorch's ${name}`, async function () {
      const rand = uniform(1234 + n);
      const weights = randomWeights(spec, rand);
      const input = Float32Array.from({ length: spec.seqLen * spec.batch * spec.inputSize }, () => rand(-1, 1));

      const peer = await createOnnxPeer(spec, weights);
      try {
        const actual = await peer.run(input);
        const D = spec.bidirectional ? 2 : 1;
        assert.equal(actual.length, spec.seqLen * spec.batch * D * spec.hiddenSize);
        const err = relativeError(actual, referenceRnn(spec, weights, input));
        assert.ok(err <= 1e-5, `relative error ${err.toExponential(2)} > 1e-5`);
      } finally {
        await peer.release();
      }
    });
  });

  it('reports its onnxruntime version and rejects a wrongly sized input', async function () {
    const spec: PeerSpec = { ...base, cell: 'GRU', numLayers: 1, bidirectional: false };
    const peer = await createOnnxPeer(spec, randomWeights(spec, uniform(7)));
    try {
      assert.match(peer.version, /^\d+\.\d+\.\d+/);
      await assert.rejects(peer.run(new Float32Array(1)), /expected/);
    } finally {
      await peer.release();
    }
  });

  it('rejects weights of the wrong size', async function () {
    const spec: PeerSpec = { ...base, cell: 'LSTM', numLayers: 1, bidirectional: false };
    const weights = randomWeights(spec, uniform(8));
    weights['weight_hh_l0'] = new Float32Array(3);
    await assert.rejects(createOnnxPeer(spec, weights), /weight_hh_l0/);
  });
});
