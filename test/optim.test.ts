// Optimizers (SGD, Adam, AdamW) and gradient clipping against PyTorch's update formulas written out here in
// float64, step by step (the implementation stores float32, so values agree within 1e-6 relative); variants
// (momentum, dampening, Nesterov, weight decay, AMSGrad, maximize, parameter groups); zeroGrad; state dict
// round trips and their validation; option errors with PyTorch's texts; clipGradNorm / clipGradValue.
import { strict as assert } from 'node:assert';
import { Tensor, cuda, tensor } from '../lib/index';
import { Adam, AdamW, Optimizer, SGD } from '../lib/optim/index';
import { clipGradNorm, clipGradValue } from '../lib/nn/clip';
import { ErrorClass, throwsExactly } from './helpers/assertions';

const escape = (s: string): RegExp => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Every element within `rtol` relative of the float64 expectation. */
function assertClose(actual: ArrayLike<number>, expected: readonly number[], what: string, rtol = 1e-6): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= rtol * Math.abs(expected[i]), `${what}[${i}]: ${actual[i]} vs expected ${expected[i]} (relative error ${err / Math.abs(expected[i])})`);
  }
}

/** A leaf parameter (float32, requires grad) with these values; all test values are exact in float32. */
function param(values: number[]): Tensor {
  return tensor(values).requiresGrad_();
}

function setGrad(p: Tensor, values: number[]): void {
  p.grad = tensor(values);
}

const values = (t: Tensor): number[] => Array.from(t.data);

// float64 vector helpers for the hand-written references
const add = (a: number[], b: number[]): number[] => a.map((x, i) => x + b[i]);
const scale = (s: number, a: number[]): number[] => a.map((x) => s * x);

// the test's data: parameters and three gradients, all exact in float32 and chosen so nothing cancels to 0
const P0 = [1.5, -2.25, 0.75];
const G = [
  [0.5, -1.25, 2],
  [-0.75, 0.25, 1.5],
  [1, 0.5, -0.5],
];
// a large first gradient, then small ones, so Adam's second moment falls below its first value (AMSGrad differs)
const GA = [
  [4, -3, 2],
  [0.0625, 0.03125, -0.0625],
  [0.03125, -0.0625, 0.03125],
];

/** Runs `steps` steps of `make(p)` on P0 with the gradients `grads`, returning the parameter values after each step. */
function run(make: (params: Tensor[]) => Optimizer<object>, steps = 3, grads = G): number[][] {
  const p = param(P0);
  const opt = make([p]);
  const out: number[][] = [];
  for (let t = 0; t < steps; t++) {
    setGrad(p, grads[t]);
    opt.step();
    out.push(values(p));
  }
  return out;
}

describe('optim.SGD', () => {
  it('plain SGD: p = p - lr * g, per step', () => {
    const lr = 0.1;
    const got = run((ps) => new SGD(ps, { lr }), 2);
    const p1 = P0.map((p, i) => p - lr * G[0][i]);
    const p2 = p1.map((p, i) => p - lr * G[1][i]);
    assertClose(got[0], p1, 'step 1');
    assertClose(got[1], p2, 'step 2');
  });

  it('momentum with dampening: buf = g at the first step, then buf = m * buf + (1 - dampening) * g; p -= lr * buf', () => {
    const lr = 0.1;
    const m = 0.9;
    const damp = 0.25;
    const got = run((ps) => new SGD(ps, { lr, momentum: m, dampening: damp }));
    const buf1 = G[0]; // the first buffer is a copy of the gradient (no dampening applied)
    const p1 = add(P0, scale(-lr, buf1));
    const buf2 = add(scale(m, buf1), scale(1 - damp, G[1]));
    const p2 = add(p1, scale(-lr, buf2));
    const buf3 = add(scale(m, buf2), scale(1 - damp, G[2]));
    const p3 = add(p2, scale(-lr, buf3));
    assertClose(got[0], p1, 'step 1');
    assertClose(got[1], p2, 'step 2');
    assertClose(got[2], p3, 'step 3');
  });

  it('Nesterov with L2 weight decay: d = g + wd * p; buf as above; p -= lr * (d + m * buf)', () => {
    const lr = 0.05;
    const m = 0.8;
    const wd = 0.1;
    const got = run((ps) => new SGD(ps, { lr, momentum: m, weightDecay: wd, nesterov: true }));
    let p = P0;
    let buf: number[] | null = null;
    for (let t = 0; t < 3; t++) {
      const d = add(G[t], scale(wd, p));
      buf = buf === null ? d : add(scale(m, buf), d);
      p = add(p, scale(-lr, add(d, scale(m, buf))));
      assertClose(got[t], p, `step ${t + 1}`);
    }
  });

  it('maximize ascends: p = p + lr * g', () => {
    const lr = 0.1;
    const got = run((ps) => new SGD(ps, { lr, maximize: true }), 1);
    assertClose(got[0], P0.map((p, i) => p + lr * G[0][i]), 'step 1');
  });

  it('skips parameters without a gradient, leaves gradients unchanged, keeps state only with momentum', () => {
    const a = param(P0);
    const b = param([4, 5, 6]);
    const opt = new SGD([a, b], { lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
    setGrad(a, G[0]);
    opt.step();
    assert.deepEqual(values(b), [4, 5, 6]);
    assert.equal(b.grad, null);
    assert.deepEqual(values(a.grad!), G[0], 'weight decay is not added into .grad');
    assert.ok(opt.state.has(a) && !opt.state.has(b));
    assert.deepEqual(Object.keys(opt.state.get(a)!), ['momentum_buffer']);
    const plain = new SGD([b], { lr: 0.1 });
    setGrad(b, [1, 1, 1]);
    plain.step();
    assert.equal(plain.state.size, 0, 'no state without momentum');
  });

  it('step(closure) calls the closure first and returns its value', () => {
    const p = param(P0);
    const opt = new SGD([p], { lr: 0.1 });
    const loss = opt.step(() => {
      setGrad(p, G[0]);
      return 42;
    });
    assert.equal(loss, 42);
    assertClose(values(p), P0.map((x, i) => x - 0.1 * G[0][i]), 'after closure step');
    assert.equal(opt.step(), undefined);
  });
});

/** float64 Adam/AdamW reference, written from PyTorch's single-tensor algorithm. */
function adamReference(
  steps: number,
  { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, amsgrad = false, decoupled = false },
  grads = G,
): number[][] {
  let p = P0.slice();
  let m = [0, 0, 0];
  let v = [0, 0, 0];
  let vMax = [0, 0, 0];
  const out: number[][] = [];
  for (let t = 1; t <= steps; t++) {
    let g = grads[t - 1];
    if (decoupled) p = scale(1 - lr * weightDecay, p); // AdamW: p *= 1 - lr * wd, before the update
    else if (weightDecay !== 0) g = add(g, scale(weightDecay, p)); // Adam: L2 penalty into the gradient
    m = add(scale(beta1, m), scale(1 - beta1, g));
    v = add(scale(beta2, v), g.map((x) => (1 - beta2) * x * x));
    // AMSGrad keeps the max of the raw (uncorrected) second moments, corrected by this step's bias correction
    vMax = vMax.map((x, i) => Math.max(x, v[i]));
    const second = amsgrad ? vMax : v;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    const mHat = m.map((x) => x / bc1);
    // eps is added to sqrt(v) / sqrt(bc2), not inside the square root
    const denom = second.map((x) => Math.sqrt(x) / Math.sqrt(bc2) + eps);
    p = p.map((x, i) => x - (lr * mHat[i]) / denom[i]);
    out.push(p);
  }
  return out;
}

describe('optim.Adam', () => {
  it("has PyTorch's defaults (lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0, amsgrad false)", () => {
    const opt = new Adam([param(P0)]);
    assert.deepEqual(opt.defaults, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false });
    const { params, ...group } = opt.paramGroups[0];
    assert.equal(params.length, 1);
    assert.deepEqual(group, opt.defaults);
  });

  it('three default steps match the formula (bias corrections, eps outside the square root)', () => {
    const got = run((ps) => new Adam(ps));
    const want = adamReference(3, {});
    for (let t = 0; t < 3; t++) assertClose(got[t], want[t], `step ${t + 1}`);
  });

  it('lr, betas, eps and L2 weight decay', () => {
    const opts = { lr: 0.05, betas: [0.8, 0.99] as [number, number], eps: 1e-3, weightDecay: 0.2 };
    const got = run((ps) => new Adam(ps, opts));
    const want = adamReference(3, { lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0.2 });
    for (let t = 0; t < 3; t++) assertClose(got[t], want[t], `step ${t + 1}`);
  });

  it('AMSGrad uses the running max of the second moment (which differs here: gradients shrink)', () => {
    const opts = { lr: 0.01, betas: [0.9, 0.5] as [number, number], amsgrad: true, weightDecay: 0.01 };
    const got = run((ps) => new Adam(ps, opts), 3, GA);
    const want = adamReference(3, { lr: 0.01, beta2: 0.5, amsgrad: true, weightDecay: 0.01 }, GA);
    const plain = adamReference(3, { lr: 0.01, beta2: 0.5, weightDecay: 0.01 }, GA);
    for (let t = 0; t < 3; t++) assertClose(got[t], want[t], `step ${t + 1}`);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(want[2][i] - plain[2][i]) > 1e-3, 'the test data must make AMSGrad differ');
  });

  it('maximize ascends', () => {
    const p = param(P0);
    const opt = new Adam([p], { lr: 0.1, maximize: true });
    setGrad(p, G[0]);
    opt.step();
    // first step: m^ = g, v^ = g², so p += lr * g / (|g| + eps)
    assertClose(values(p), P0.map((x, i) => x + (0.1 * G[0][i]) / (Math.abs(G[0][i]) + 1e-8)), 'step 1');
  });

  it("keeps state under PyTorch's names, step as a number", () => {
    const p = param(P0);
    const opt = new Adam([p], { amsgrad: true });
    setGrad(p, G[0]);
    opt.step();
    opt.step();
    const s = opt.state.get(p)!;
    assert.deepEqual(Object.keys(s).sort(), ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    assert.equal(s.step, 2);
    assert.deepEqual((s.exp_avg as Tensor).shape, [3]);
  });
});

describe('optim.AdamW', () => {
  it("has PyTorch's defaults (weightDecay 1e-2)", () => {
    const opt = new AdamW([param(P0)]);
    assert.deepEqual(opt.defaults, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false });
  });

  it('three steps with decoupled weight decay (p *= 1 - lr * wd, gradient untouched)', () => {
    const got = run((ps) => new AdamW(ps, { lr: 0.1 }));
    const want = adamReference(3, { lr: 0.1, weightDecay: 1e-2, decoupled: true });
    for (let t = 0; t < 3; t++) assertClose(got[t], want[t], `step ${t + 1}`);
    // and it is not Adam's L2 decay
    const l2 = adamReference(3, { lr: 0.1, weightDecay: 1e-2 });
    assert.ok(Math.abs(l2[2][0] - want[2][0]) > 1e-6);
  });

  it('with AMSGrad, betas and a large weight decay', () => {
    const opts = { lr: 0.02, betas: [0.5, 0.9] as [number, number], weightDecay: 0.5, amsgrad: true };
    const got = run((ps) => new AdamW(ps, opts));
    const want = adamReference(3, { lr: 0.02, beta1: 0.5, beta2: 0.9, weightDecay: 0.5, amsgrad: true, decoupled: true });
    for (let t = 0; t < 3; t++) assertClose(got[t], want[t], `step ${t + 1}`);
  });
});

describe('optim: bit for bit as PyTorch (torch 2.11.0, CPU, foreach=False)', () => {
  // Parameter values after each of three steps from P0, printed by torch.optim.SGD / Adam / AdamW with
  // foreach=False on float32 CPU tensors (p.detach().tolist() after each step). The implementation takes
  // PyTorch's scalars as float32 and rounds where PyTorch's kernels do, so these match exactly.
  const cases: [string, 'SGD' | 'Adam' | 'AdamW', object, number[][], number[][]][] = [
    ['sgd', 'SGD', { lr: 0.1 }, G,
      [
        [1.4500000476837158, -2.125, 0.550000011920929],
        [1.5250000953674316, -2.1500000953674316, 0.4000000059604645],
        [1.4250000715255737, -2.200000047683716, 0.45000001788139343],
      ]],
    ['sgd-mom-damp', 'SGD', { lr: 0.1, momentum: 0.9, dampening: 0.25 }, G,
      [
        [1.4500000476837158, -2.125, 0.550000011920929],
        [1.4612500667572021, -2.03125, 0.257500022649765],
        [1.396375060081482, -1.984375, 0.03175002709031105],
      ]],
    ['sgd-nesterov-wd', 'SGD', { lr: 0.05, momentum: 0.8, weightDecay: 0.1, nesterov: true }, G,
      [
        [1.441499948501587, -2.1172499656677246, 0.5632500052452087],
        [1.4752264022827148, -2.0734946727752686, 0.3567807376384735],
        [1.3746966123580933, -2.063297986984253, 0.2956472933292389],
      ]],
    ['sgd-max', 'SGD', { lr: 0.1, maximize: true }, G,
      [
        [1.5499999523162842, -2.375, 0.949999988079071],
        [1.4749999046325684, -2.3499999046325684, 1.100000023841858],
        [1.5749999284744263, -2.299999952316284, 1.0500000715255737],
      ]],
    ['adam', 'Adam', {}, G,
      [
        [1.4989999532699585, -2.249000072479248, 0.7490000128746033],
        [1.499247670173645, -2.2484891414642334, 0.748017430305481],
        [1.498901128768921, -2.248354911804199, 0.7473980784416199],
      ]],
    ['adam-wd', 'Adam', { lr: 0.05, betas: [0.8, 0.99], eps: 0.001, weightDecay: 0.2 }, G,
      [
        [1.4500623941421509, -2.2000293731689453, 0.7000232338905334],
        [1.44240140914917, -2.1643753051757812, 0.6512038707733154],
        [1.4104211330413818, -2.1399617195129395, 0.6209836006164551],
      ]],
    ['adamw', 'AdamW', { lr: 0.1 }, G,
      [
        [1.3984999656677246, -2.14775013923645, 0.6492500305175781],
        [1.4218716621398926, -2.0944998264312744, 0.5503432750701904],
        [1.3858013153076172, -2.078981399536133, 0.4878549575805664],
      ]],
    ['adamw-ams', 'AdamW', { lr: 0.02, betas: [0.5, 0.9], weightDecay: 0.5, amsgrad: true }, G,
      [
        [1.465000033378601, -2.2074999809265137, 0.7225000262260437],
        [1.460705280303955, -2.1799113750457764, 0.6962783932685852],
        [1.435303807258606, -2.162801742553711, 0.6834816932678223],
      ]],
    ['adam-max', 'Adam', { lr: 0.1, maximize: true }, G,
      [
        [1.600000023841858, -2.3499999046325684, 0.8499999642372131],
        [1.5752298831939697, -2.4011025428771973, 0.9482575058937073],
        [1.609878420829773, -2.4145264625549316, 1.0101954936981201],
      ]],
    ['adam-ams', 'Adam', { lr: 0.01, betas: [0.9, 0.5], amsgrad: true, weightDecay: 0.01 }, GA,
      [
        [1.4900000095367432, -2.240000009536743, 0.7400000095367432],
        [1.484074354171753, -2.234217405319214, 0.734375536441803],
        [1.4799796342849731, -2.2301392555236816, 0.730448305606842],
      ]],
  ];
  for (const [name, kind, options, grads, steps] of cases) {
    it(name, () => {
      const make = (ps: Tensor[]): Optimizer<object> =>
        kind === 'SGD' ? new SGD(ps, options as { lr: number }) : kind === 'Adam' ? new Adam(ps, options) : new AdamW(ps, options);
      assert.deepEqual(run(make, 3, grads), steps);
    });
  }
});

describe('optim parameter groups and zeroGrad', () => {
  it('groups take their own options, the rest from the defaults', () => {
    const a = param(P0);
    const b = param(P0);
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    assert.equal(opt.paramGroups[0].lr, 0.1);
    assert.equal(opt.paramGroups[1].lr, 0.5);
    assert.deepEqual(opt.params, [a, b]);
    setGrad(a, G[0]);
    setGrad(b, G[0]);
    opt.step();
    assertClose(values(a), P0.map((x, i) => x - 0.1 * G[0][i]), 'group 0');
    assertClose(values(b), P0.map((x, i) => x - 0.5 * G[0][i]), 'group 1');
    // lr can change between steps, as with PyTorch's param_groups
    opt.paramGroups[0].lr = 0.2;
    const before = values(a);
    opt.step();
    assertClose(values(a), before.map((x, i) => x - 0.2 * G[0][i]), 'after changing lr');
  });

  it('addParamGroup rejects a parameter already optimized', () => {
    const a = param(P0);
    const opt = new Adam([a]);
    throwsExactly(() => opt.addParamGroup({ params: [a] }), Error, /^some parameters appear in more than one parameter group$/);
    opt.addParamGroup({ params: param([1, 2]), lr: 0.5 });
    assert.equal(opt.paramGroups.length, 2);
    assert.equal(opt.paramGroups[1].lr, 0.5);
    assert.equal(opt.paramGroups[1].eps, 1e-8);
  });

  it('zeroGrad sets every grad to null (set_to_none), or to zeros with zeroGrad(false)', () => {
    const a = param(P0);
    const b = param([1, 2]);
    const opt = new SGD([a, b], { lr: 0.1 });
    setGrad(a, G[0]);
    setGrad(b, [3, 4]);
    opt.zeroGrad();
    assert.equal(a.grad, null);
    assert.equal(b.grad, null);
    setGrad(a, G[0]);
    const g = a.grad!;
    opt.zeroGrad(false);
    assert.equal(a.grad, g, 'same tensor, zeroed in place');
    assert.deepEqual(values(g), [0, 0, 0]);
    assert.equal(b.grad, null);
  });
});

describe('optim state dicts', () => {
  const cases: [string, (ps: Tensor[]) => Optimizer<object>][] = [
    ['SGD with momentum and Nesterov', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam with AMSGrad', (ps) => new Adam(ps, { lr: 0.05, amsgrad: true, weightDecay: 0.1 })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.05 })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: saved after 2 steps and loaded into a fresh optimizer, step 3 equals the uninterrupted run`, () => {
      const uninterrupted = run(make, 3);
      // two steps, then save parameter values and optimizer state
      const p = param(P0);
      const first = make([p]);
      for (let t = 0; t < 2; t++) {
        setGrad(p, G[t]);
        first.step();
      }
      const sd = first.stateDict();
      assert.deepEqual(Object.keys(sd.state), ['0']);
      assert.deepEqual(sd.paramGroups.map((g) => (g as { params: number[] }).params), [[0]]);
      // a fresh parameter with the saved values and a fresh optimizer (other hyperparameters: the dict's win)
      const q = param(values(p));
      const second = make([q]);
      const lrOf = (o: Optimizer<object>): { lr: number } => o.paramGroups[0] as unknown as { lr: number };
      lrOf(second).lr = 123;
      second.loadStateDict(sd);
      assert.equal(lrOf(second).lr, lrOf(first).lr);
      // the loaded state is a copy: stepping the first optimizer again does not change it
      setGrad(p, G[2]);
      first.step();
      setGrad(q, G[2]);
      second.step();
      assert.deepEqual(values(q), uninterrupted[2]);
      assert.deepEqual(values(p), uninterrupted[2]);
    });
  }

  it("Adam's state dict layout: state by position (only parameters with state), step as a number, groups with positions", () => {
    const a = param(P0);
    const b = param([1, 2]);
    const c = param([3]);
    const opt = new Adam([{ params: [a, b] }, { params: [c], lr: 0.5 }]);
    setGrad(a, G[0]);
    setGrad(c, [1]);
    opt.step();
    const sd = opt.stateDict();
    assert.deepEqual(Object.keys(sd.state).sort(), ['0', '2']);
    assert.equal(sd.state[2].step, 1);
    assert.ok(sd.state[0].exp_avg instanceof Tensor);
    assert.deepEqual((sd.state[0].exp_avg_sq as Tensor).shape, [3]);
    assert.deepEqual(sd.paramGroups, [
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [0, 1] },
      { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [2] },
    ]);
  });

  /** An Adam after one step, its state dict, and a snapshot to check it is unchanged after a rejected load. */
  function adamAfterOneStep(): { opt: Adam; p: Tensor; snapshot: () => string } {
    const p = param(P0);
    const opt = new Adam([p], { lr: 0.01 });
    setGrad(p, G[0]);
    opt.step();
    const snapshot = (): string =>
      JSON.stringify({
        groups: opt.paramGroups.map(({ params, ...o }) => ({ ...o, n: params.length })),
        state: [...opt.state.values()].map((s) => Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? v : values(v)])),
      });
    return { opt, p, snapshot };
  }

  it('loadStateDict validates everything first and leaves the optimizer unchanged on error', () => {
    const { opt, snapshot } = adamAfterOneStep();
    const good = opt.stateDict();
    const before = snapshot();
    const st = good.state[0];
    const attempts: [unknown, ErrorClass, RegExp][] = [
      [null, TypeError, /^Expected an optimizer state dict/],
      [{ state: {}, paramGroups: [] }, RangeError, /^loaded state dict has a different number of parameter groups/],
      [{ state: {}, paramGroups: [{ ...good.paramGroups[0], params: [0, 1] }] }, RangeError, /^loaded state dict contains a parameter group that doesn't match the size of optimizer's group/],
      [{ state: {}, paramGroups: [{ ...good.paramGroups[0], lr: -1 }] }, RangeError, escape('Invalid learning rate: -1')],
      [{ state: {}, paramGroups: [{ ...good.paramGroups[0], lrr: 1 }] }, TypeError, /^Unknown option "lrr"/],
      [{ state: { 0: { ...st, exp_avg: tensor([1, 2]) } }, paramGroups: good.paramGroups }, RangeError,
        /^size mismatch for state\[0\]\.exp_avg: copying a tensor with shape \[2\] from checkpoint, the shape of the parameter is \[3\]$/],
      [{ state: { 0: { ...st, step: undefined } }, paramGroups: good.paramGroups }, TypeError, /^Expected a non-negative number for state\[0\]\.step/],
      [{ state: { 0: { ...st, step: -1 } }, paramGroups: good.paramGroups }, RangeError, /^Expected a non-negative number for state\[0\]\.step but received -1$/],
      [{ state: { 0: { ...st, momentum_buffer: tensor(P0) } }, paramGroups: good.paramGroups }, RangeError, /^Unexpected key "momentum_buffer" in state\[0\] for Adam/],
      [{ state: { 5: st }, paramGroups: good.paramGroups }, RangeError, /^state\[5\] of the state dict belongs to no parameter/],
      // with amsgrad on, the max second moment is required
      [{ state: { 0: st }, paramGroups: [{ ...good.paramGroups[0], amsgrad: true }] }, TypeError, /^Expected a Tensor for state\[0\]\.max_exp_avg_sq but received undefined$/],
    ];
    for (const [sd, cls, message] of attempts) {
      throwsExactly(() => opt.loadStateDict(sd as never), cls, message);
      assert.equal(snapshot(), before, `unchanged after ${message}`);
    }
    // and a good one still loads
    opt.loadStateDict(good);
    assert.equal(snapshot(), before);
  });

  it('loading an empty state resets the state; a step count as a one-element tensor is accepted', () => {
    const { opt, p } = adamAfterOneStep();
    const sd = opt.stateDict();
    opt.loadStateDict({ state: {}, paramGroups: sd.paramGroups });
    assert.equal(opt.state.size, 0);
    opt.loadStateDict({ state: { 0: { ...sd.state[0], step: tensor([1]) } }, paramGroups: sd.paramGroups } as never);
    assert.equal(opt.state.get(p)!.step, 1);
  });
});

describe('optim validation', () => {
  const p = (): Tensor => param(P0);

  it("SGD: PyTorch's messages", () => {
    throwsExactly(() => new SGD([p()], { lr: -1 }), RangeError, escape('Invalid learning rate: -1'));
    throwsExactly(() => new SGD([p()], { lr: 0.1, momentum: -0.5 }), RangeError, escape('Invalid momentum value: -0.5'));
    throwsExactly(() => new SGD([p()], { lr: 0.1, weightDecay: -1 }), RangeError, escape('Invalid weight_decay value: -1'));
    throwsExactly(() => new SGD([p()], { lr: 0.1, nesterov: true }), RangeError, escape('Nesterov momentum requires a momentum and zero dampening'));
    throwsExactly(() => new SGD([p()], { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }), RangeError, escape('Nesterov momentum requires a momentum and zero dampening'));
    throwsExactly(() => new SGD([p()], {} as never), TypeError, /^Expected number for lr \(SGD has no default learning rate\) but received undefined$/);
    throwsExactly(() => new SGD([p()], { lr: '0.1' } as never), TypeError, escape('Expected number for lr but received "0.1"'));
    throwsExactly(() => new SGD([p()], { lr: 0.1, nesterov: 1 } as never), TypeError, escape('Expected boolean for nesterov but received 1'));
    throwsExactly(() => new SGD([p()], { lr: 0.1, weight_decay: 0.1 } as never), TypeError, /^Unknown option "weight_decay" for SGD options; expected one of lr, momentum/);
    // lr = 0 is allowed, as in PyTorch
    assert.equal(new SGD([p()], { lr: 0 }).defaults.lr, 0);
  });

  it("Adam / AdamW: PyTorch's messages", () => {
    for (const Opt of [Adam, AdamW]) {
      throwsExactly(() => new Opt([p()], { lr: -1 }), RangeError, escape('Invalid learning rate: -1'));
      throwsExactly(() => new Opt([p()], { eps: -1e-8 }), RangeError, escape('Invalid epsilon value: -1e-8'));
      throwsExactly(() => new Opt([p()], { betas: [1.5, 0.999] }), RangeError, escape('Invalid beta parameter at index 0: 1.5'));
      throwsExactly(() => new Opt([p()], { betas: [0.9, 1] }), RangeError, escape('Invalid beta parameter at index 1: 1'));
      throwsExactly(() => new Opt([p()], { betas: [-0.1, 0.9] }), RangeError, escape('Invalid beta parameter at index 0: -0.1'));
      throwsExactly(() => new Opt([p()], { weightDecay: -0.1 }), RangeError, escape('Invalid weight_decay value: -0.1'));
      throwsExactly(() => new Opt([p()], { lr: NaN }), RangeError, escape('Invalid learning rate: NaN'));
      throwsExactly(() => new Opt([p()], { betas: [0.9] } as never), TypeError, /^Expected an array of two numbers for betas but received an array of length 1$/);
      throwsExactly(() => new Opt([p()], { amsgrad: 'yes' } as never), TypeError, escape('Expected boolean for amsgrad but received "yes"'));
    }
  });

  it('params: an iterable of leaf float32 Tensors or groups, not empty, without duplicates', () => {
    const a = p();
    throwsExactly(() => new SGD(a as never, { lr: 0.1 }), TypeError, escape('params argument given to the optimizer should be an iterable of Tensors or dicts, but got a Tensor'));
    throwsExactly(() => new Adam([]), RangeError, escape('optimizer got an empty parameter list'));
    throwsExactly(() => new Adam([a, a]), Error, escape('optimizer contains a parameter group with duplicate parameters'));
    throwsExactly(() => new Adam([a, 3] as never), TypeError, /^optimizer can only optimize Tensors, but one of the params is 3/);
    throwsExactly(() => new Adam([{ params: [a] }, { params: [a] }]), Error, escape('some parameters appear in more than one parameter group'));
    throwsExactly(() => new Adam([{ params: [a], lrr: 1 }] as never), TypeError, /^Unknown option "lrr" for Adam parameter group/);
    // any iterable works, such as a Set or a generator
    assert.equal(new Adam(new Set([a])).params.length, 1);
  });

  it('step checks every gradient before changing any parameter', () => {
    const a = param(P0);
    const b = param([1, 2]);
    const opt = new SGD([a, b], { lr: 0.1, momentum: 0.9 });
    setGrad(a, G[0]);
    setGrad(b, [1, 2, 3]);
    throwsExactly(() => opt.step(), RangeError, escape('Expected a grad of shape [2] for params[1] but received shape [3]'));
    assert.deepEqual(values(a), P0);
    assert.equal(opt.state.size, 0);
  });
});

describe('nn.clipGradNorm / clipGradValue', () => {
  /** Parameters with gradients [3, 4], [12] and one without a gradient. */
  function grads(): Tensor[] {
    const a = param([1, 1]);
    const b = param([1]);
    const c = param([1, 1, 1]);
    setGrad(a, [3, 4]);
    setGrad(b, [12]);
    return [a, b, c];
  }

  it('returns the total 2-norm of all gradients together and scales them by maxNorm / (total + 1e-6)', () => {
    const ps = grads();
    const total = clipGradNorm(ps, 6.5);
    assert.equal(total, 13); // sqrt(9 + 16 + 144)
    const coef = 6.5 / (13 + 1e-6);
    assertClose(values(ps[0].grad!), [3 * coef, 4 * coef], 'a.grad');
    assertClose(values(ps[1].grad!), [12 * coef], 'b.grad');
    assert.equal(ps[2].grad, null);
  });

  it('does nothing when maxNorm >= total + 1e-6 (the coefficient is clamped to 1)', () => {
    const ps = grads();
    assert.equal(clipGradNorm(ps, 13.5), 13);
    assert.deepEqual(values(ps[0].grad!), [3, 4]);
    assert.deepEqual(values(ps[1].grad!), [12]);
    assert.equal(clipGradNorm(ps, 100), 13);
    assert.deepEqual(values(ps[0].grad!), [3, 4]);
    // maxNorm equal to the norm still scales, by 13 / (13 + 1e-6), as in PyTorch
    clipGradNorm(ps, 13);
    assert.ok(ps[0].grad!.data[0] < 3);
  });

  it('other norms: Infinity (largest absolute value), 1, 3; a single Tensor; no gradients gives 0', () => {
    let ps = grads();
    assert.equal(clipGradNorm(ps, 6, Infinity), 12);
    assertClose(values(ps[1].grad!), [12 * (6 / (12 + 1e-6))], 'inf-norm clipped');
    ps = grads();
    assert.equal(clipGradNorm(ps, 100, 1), 19);
    ps = grads();
    assertClose([clipGradNorm(ps, 100, 3)], [Math.cbrt(27 + 64 + 1728)], '3-norm');
    const single = param([1, 1]);
    setGrad(single, [-6, 8]);
    assert.equal(clipGradNorm(single, 5), 10);
    assertClose(values(single.grad!), [-6 * (5 / (10 + 1e-6)), 8 * (5 / (10 + 1e-6))], 'single tensor');
    assert.equal(clipGradNorm([param([1])], 1), 0);
  });

  it('validates its arguments; errorIfNonfinite', () => {
    const ps = grads();
    throwsExactly(() => clipGradNorm(ps, 1, 0), RangeError, /^Expected a positive number or Infinity for normType but received 0$/);
    throwsExactly(() => clipGradNorm(ps, -1), RangeError, /^Expected a non-negative number for maxNorm but received -1$/);
    throwsExactly(() => clipGradNorm(3 as never, 1), TypeError, /^Expected a Tensor or an iterable of Tensors for params/);
    assert.deepEqual(values(ps[0].grad!), [3, 4]);
    setGrad(ps[0], [NaN, 1]);
    throwsExactly(() => clipGradNorm(ps, 1, 2, { errorIfNonfinite: true }), Error, /^The total norm of order 2 for gradients from `parameters` is non-finite/);
    assert.ok(Number.isNaN(clipGradNorm(ps, 1)));
  });

  it('clipGradValue clamps every gradient to [-clipValue, clipValue]', () => {
    const ps = grads();
    setGrad(ps[0], [-3, 0.5]);
    clipGradValue(ps, 1);
    assert.deepEqual(values(ps[0].grad!), [-1, 0.5]);
    assert.deepEqual(values(ps[1].grad!), [1]);
    assert.equal(ps[2].grad, null);
  });
});

describe('optim on CUDA', function () {
  before(function () {
    if (!cuda.isAvailable()) this.skip();
  });

  it('Adam and SGD update CUDA parameters (and their state) as on the CPU', () => {
    for (const make of [(ps: Tensor[]) => new Adam(ps, { lr: 0.05, amsgrad: true }), (ps: Tensor[]) => new SGD(ps, { lr: 0.1, momentum: 0.9 })]) {
      const cpu = run(make);
      const p = tensor(P0).to('cuda').requiresGrad_();
      const opt = make([p]);
      for (let t = 0; t < 3; t++) {
        p.grad = tensor(G[t]).to('cuda');
        opt.step();
      }
      assert.deepEqual(Array.from(p.cpu().data), cpu[2]);
      for (const v of Object.values(opt.state.get(p)!)) if (v instanceof Tensor) assert.equal(v.device, 'cuda:0');
      const g = p.grad!;
      clipGradNorm([p], 0.5);
      assert.equal(g.device, 'cuda:0');
    }
  });
});
