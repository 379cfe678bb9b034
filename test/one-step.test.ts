// Calls of one step and one row (a decoder's loop, a streaming session fed a step at a time) run LSTM and GRU on
// the weights as they are, without the panels other calls pack (native/cpu/cpu_backend.cpp, oneStepRecurrence).
// Checked against the packed path: a sequence fed one step at a time gives one whole call's outputs and states
// (at batch 1, and at batch 2, which packs, for comparison), and one step's gradients at batch 2 (packed) are the
// sums of its rows' gradients in two calls at batch 1.
import { strict as assert } from 'node:assert';
import { GRU, LSTM, Tensor, cat, manualSeed, narrow, noGrad, randn, setNumThreads, getNumThreads } from '../lib/index';

type Kind = 'LSTM' | 'GRU';

interface Case {
  name: string;
  kind: Kind;
  I: number;
  H: number;
  proj?: number;
  bias?: boolean;
  layers?: number;
}

const CASES: Case[] = [
  { name: 'LSTM', kind: 'LSTM', I: 20, H: 48 },
  { name: 'LSTM with projections, no bias', kind: 'LSTM', I: 12, H: 40, proj: 24, bias: false },
  { name: 'LSTM, 2 layers, H not a multiple of 16', kind: 'LSTM', I: 7, H: 37, layers: 2 },
  { name: 'GRU', kind: 'GRU', I: 16, H: 64 },
  { name: 'GRU, no bias, H not a multiple of 16', kind: 'GRU', I: 5, H: 21, bias: false },
  // weights of 1 MB and more: back-to-back calls split the step over the thread team (team_plan.h oneStepTeamSize)
  { name: 'LSTM, 2 MB of weights', kind: 'LSTM', I: 256, H: 256 },
  { name: 'LSTM with projections, 1 MB', kind: 'LSTM', I: 128, H: 256, proj: 128 },
  { name: 'GRU, H = 520 (not a multiple of 16), 3.3 MB', kind: 'GRU', I: 36, H: 520 },
];

/** Weights' bytes as the one-step path reads them (W_ih and W_hh). */
function weightBytes(c: Case): number {
  return (c.kind === 'LSTM' ? 4 : 3) * c.H * (c.I + (c.proj || c.H)) * 4;
}

function build(c: Case): LSTM | GRU {
  const options = { inputSize: c.I, hiddenSize: c.H, numLayers: c.layers ?? 1, bias: c.bias ?? true };
  return c.kind === 'LSTM' ? new LSTM({ ...options, projSize: c.proj ?? 0 }) : new GRU(options);
}

type Forward = (x: Tensor, state?: unknown) => [Tensor, unknown];

/** The module's forward under one signature (LSTM's state is a pair, GRU's a tensor). */
function forwardOf(m: LSTM | GRU): Forward {
  const f = m as unknown as { forward: Forward };
  return (x, state) => (state === undefined ? f.forward(x) : f.forward(x, state));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function stateTensors(state: unknown): Tensor[] {
  return Array.isArray(state) ? (state as Tensor[]) : [state as Tensor];
}

describe('one-step calls (weights read as they are, no panels)', () => {
  const threads = getNumThreads();
  afterEach(() => setNumThreads(threads));

  for (const c of CASES) {
    for (const B of [1, 2]) {
      it(`${c.name}, batch ${B}: 12 one-step calls give one 12-step call's outputs and final state`, () => {
        setNumThreads(2);
        manualSeed(11);
        const m = build(c);
        m.eval();
        const forward = forwardOf(m);
        const T = 12;
        const x = randn([T, B, c.I]);
        noGrad(() => {
          const [whole, wholeState] = forward(x);
          let state: unknown;
          const outs: Tensor[] = [];
          for (let t = 0; t < T; t++) {
            const [y, s] = forward(narrow(x, 0, t, 1), state);
            outs.push(y);
            state = s;
          }
          const stepped = cat(outs, 0);
          assert.deepEqual(stepped.shape, whole.shape);
          const diff = maxAbsDiff(stepped.data as Float32Array, whole.data as Float32Array);
          assert.ok(diff <= 2e-6, `outputs differ by ${diff}`);
          // and not trivially: the steps' outputs change along the sequence
          assert.ok(maxAbsDiff(outs[0].data as Float32Array, outs[T - 1].data as Float32Array) > 1e-3);
          const a = stateTensors(state), b = stateTensors(wholeState);
          for (let i = 0; i < b.length; i++) {
            const d = maxAbsDiff(a[i].data as Float32Array, b[i].data as Float32Array);
            assert.ok(d <= 2e-6, `final state ${i} differs by ${d}`);
          }
        });
      });
    }

    if (weightBytes(c) >= 1 << 20) {
      it(`${c.name}: back-to-back one-step calls on 2 threads give 1 thread's outputs and states bit for bit`, () => {
        const run = (threads: number): Float32Array[] => {
          setNumThreads(threads);
          manualSeed(3);
          const m = build(c);
          const forward = forwardOf(m);
          const x = randn([20, 1, c.I]);
          const results: Float32Array[] = [];
          noGrad(() => {
            let state: unknown;
            for (let t = 0; t < 20; t++) {
              const [y, s] = forward(narrow(x, 0, t, 1), state);
              state = s;
              results.push(y.data as Float32Array, ...stateTensors(s).map((v) => v.data as Float32Array));
            }
          });
          return results;
        };
        const one = run(1), two = run(2);
        assert.equal(two.length, one.length);
        one.forEach((r, i) => assert.deepEqual(two[i], r, `result ${i}`));
      });
    }

    it(`${c.name}: one step's gradients at batch 2 equal the sums over its rows' calls at batch 1`, () => {
      manualSeed(5);
      const m = build(c);
      m.train();
      const forward = forwardOf(m);
      const x = randn([1, 2, c.I]);
      const P = c.proj || c.H;
      const g = randn([1, 2, P]);
      const gradsOf = (): Float32Array[] => m.parameters().map((p) => Float32Array.from(p.grad!.data as Float32Array));

      const xs = [x, narrow(x, 1, 0, 1), narrow(x, 1, 1, 1)].map((t) => t.clone().requiresGrad_());
      const [y2] = forward(xs[0]);
      y2.mul(g).sum().backward();
      const whole = gradsOf();
      m.zeroGrad();
      for (let half = 0; half < 2; half++) {
        const [y1] = forward(xs[1 + half]);
        y1.mul(narrow(g, 1, half, 1)).sum().backward();
      }
      const split = gradsOf();
      m.parameters().forEach((p, i) => {
        const scale = Math.max(1e-3, maxAbsDiff(whole[i], new Float32Array(whole[i].length)));
        const d = maxAbsDiff(split[i], whole[i]);
        assert.ok(d <= 1e-5 * scale, `parameter ${i} ${p.shape}: gradients differ by ${d} (largest ${scale})`);
      });
      assert.ok(whole.some((w) => w.some((v) => v !== 0)), 'gradients flowed');
      const dx = cat([xs[1].grad!, xs[2].grad!], 1).data as Float32Array;
      const d = maxAbsDiff(dx, xs[0].grad!.data as Float32Array);
      assert.ok(d <= 1e-6, `input gradients differ by ${d}`);
    });
  }
});
