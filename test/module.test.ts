// Modules: PyTorch's parameter names, shapes and order; state dicts; train/eval; result shapes and layouts;
// the forward math against an independent float64 implementation of PyTorch's equations; cells; dropout.
import { strict as assert } from 'node:assert';
import { GRU, GRUCell, LSTM, LSTMCell, Module, RNN, RNNCell, Tensor, manualSeed, noGrad, randn, zeros } from '../lib/index';
import { Mat3, paramsOf, refLayers, refStep } from './helpers/reference';

function flat(x: unknown): number[] {
  return Array.isArray(x) ? x.flatMap(flat) : [x as number];
}

/** Float32 results against a float64 reference: norm-relative error <= tol and every element within tol * max(1, |ref|). */
function assertClose(actual: Tensor, expected: unknown, what: string, tol = 1e-5): void {
  const ref = flat(expected);
  assert.equal(actual.numel, ref.length, `${what}: element count`);
  let diff = 0, norm = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = actual.data[i] - ref[i];
    assert.ok(Math.abs(e) <= tol * Math.max(1, Math.abs(ref[i])), `${what}[${i}]: ${actual.data[i]} vs reference ${ref[i]}`);
    diff += e * e;
    norm += ref[i] * ref[i];
  }
  assert.ok(norm > 0, `${what}: reference is all zeros, the comparison would be meaningless`);
  assert.ok(Math.sqrt(diff / norm) <= tol, `${what}: relative error ${Math.sqrt(diff / norm)} > ${tol}`);
}

/** Loads `from`'s parameters into `to` (strictly), optionally only those whose name contains `only`, renamed. */
function copyWeights(from: Module, to: Module, rename: (k: string) => string = (k) => k, only = ''): void {
  const dict = Object.fromEntries(from.namedParameters().filter(([k]) => k.includes(only)).map(([k, t]) => [rename(k), t]));
  to.loadStateDict(dict);
}

function shapesOf(m: Module): [string, number[]][] {
  return m.namedParameters().map(([k, t]) => [k, [...t.shape]]);
}

// ---------------------------------------------------------------------------------------------------------

describe('module: parameter names, shapes and order', () => {
  it('LSTM(10, 20, numLayers 2, bidirectional, projSize 5) matches PyTorch exactly', () => {
    const m = new LSTM({ inputSize: 10, hiddenSize: 20, numLayers: 2, bidirectional: true, projSize: 5 });
    assert.deepEqual(shapesOf(m), [
      ['weight_ih_l0', [80, 10]], ['weight_hh_l0', [80, 5]], ['bias_ih_l0', [80]], ['bias_hh_l0', [80]], ['weight_hr_l0', [5, 20]],
      ['weight_ih_l0_reverse', [80, 10]], ['weight_hh_l0_reverse', [80, 5]], ['bias_ih_l0_reverse', [80]], ['bias_hh_l0_reverse', [80]], ['weight_hr_l0_reverse', [5, 20]],
      ['weight_ih_l1', [80, 10]], ['weight_hh_l1', [80, 5]], ['bias_ih_l1', [80]], ['bias_hh_l1', [80]], ['weight_hr_l1', [5, 20]],
      ['weight_ih_l1_reverse', [80, 10]], ['weight_hh_l1_reverse', [80, 5]], ['bias_ih_l1_reverse', [80]], ['bias_hh_l1_reverse', [80]], ['weight_hr_l1_reverse', [5, 20]],
    ]);
    assert.equal(m.projSize, 5);
  });

  it('plain LSTM / GRU / RNN with two layers', () => {
    assert.deepEqual(shapesOf(new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2 })), [
      ['weight_ih_l0', [16, 3]], ['weight_hh_l0', [16, 4]], ['bias_ih_l0', [16]], ['bias_hh_l0', [16]],
      ['weight_ih_l1', [16, 4]], ['weight_hh_l1', [16, 4]], ['bias_ih_l1', [16]], ['bias_hh_l1', [16]],
    ]);
    assert.deepEqual(shapesOf(new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true })), [
      ['weight_ih_l0', [12, 3]], ['weight_hh_l0', [12, 4]], ['bias_ih_l0', [12]], ['bias_hh_l0', [12]],
      ['weight_ih_l0_reverse', [12, 3]], ['weight_hh_l0_reverse', [12, 4]], ['bias_ih_l0_reverse', [12]], ['bias_hh_l0_reverse', [12]],
      ['weight_ih_l1', [12, 8]], ['weight_hh_l1', [12, 4]], ['bias_ih_l1', [12]], ['bias_hh_l1', [12]],
      ['weight_ih_l1_reverse', [12, 8]], ['weight_hh_l1_reverse', [12, 4]], ['bias_ih_l1_reverse', [12]], ['bias_hh_l1_reverse', [12]],
    ]);
    assert.deepEqual(shapesOf(new RNN({ inputSize: 3, hiddenSize: 4, nonlinearity: 'relu' })), [
      ['weight_ih_l0', [4, 3]], ['weight_hh_l0', [4, 4]], ['bias_ih_l0', [4]], ['bias_hh_l0', [4]],
    ]);
  });

  it('GRU / RNN / LSTM without bias have no bias_* keys', () => {
    assert.deepEqual(shapesOf(new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, bias: false })), [
      ['weight_ih_l0', [12, 3]], ['weight_hh_l0', [12, 4]], ['weight_ih_l1', [12, 4]], ['weight_hh_l1', [12, 4]],
    ]);
    assert.deepEqual(shapesOf(new RNN({ inputSize: 3, hiddenSize: 4, bidirectional: true, bias: false })), [
      ['weight_ih_l0', [4, 3]], ['weight_hh_l0', [4, 4]], ['weight_ih_l0_reverse', [4, 3]], ['weight_hh_l0_reverse', [4, 4]],
    ]);
    assert.deepEqual(shapesOf(new LSTM({ inputSize: 3, hiddenSize: 4, projSize: 2, bias: false })), [
      ['weight_ih_l0', [16, 3]], ['weight_hh_l0', [16, 2]], ['weight_hr_l0', [2, 4]],
    ]);
  });

  it('cells have weight_ih, weight_hh, bias_ih, bias_hh', () => {
    assert.deepEqual(shapesOf(new RNNCell({ inputSize: 3, hiddenSize: 4 })), [['weight_ih', [4, 3]], ['weight_hh', [4, 4]], ['bias_ih', [4]], ['bias_hh', [4]]]);
    assert.deepEqual(shapesOf(new LSTMCell({ inputSize: 3, hiddenSize: 4 })), [['weight_ih', [16, 3]], ['weight_hh', [16, 4]], ['bias_ih', [16]], ['bias_hh', [16]]]);
    assert.deepEqual(shapesOf(new GRUCell({ inputSize: 3, hiddenSize: 4 })), [['weight_ih', [12, 3]], ['weight_hh', [12, 4]], ['bias_ih', [12]], ['bias_hh', [12]]]);
    assert.deepEqual(shapesOf(new GRUCell({ inputSize: 3, hiddenSize: 4, bias: false })), [['weight_ih', [12, 3]], ['weight_hh', [12, 4]]]);
  });

  it('namedParameters, parameters and stateDict agree on order and tensors', () => {
    const m = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true });
    const named = m.namedParameters();
    assert.deepEqual(Object.keys(m.stateDict()), named.map(([k]) => k));
    m.parameters().forEach((p, i) => assert.equal(p, named[i][1]));
    Object.values(m.stateDict()).forEach((p, i) => assert.equal(p, named[i][1]));
  });

  it('stateDict shares memory with the parameters (and forward sees changes)', () => {
    manualSeed(21);
    const m = new GRU({ inputSize: 3, hiddenSize: 4 });
    const x = randn([5, 2, 3]);
    const [before] = m.forward(x);
    const sd = m.stateDict();
    assert.equal(sd.weight_ih_l0.data, m.namedParameters()[0][1].data);
    sd.bias_ih_l0.data[0] += 1;
    assert.equal(m.namedParameters()[2][1].data[0], sd.bias_ih_l0.data[0]);
    const [after] = m.forward(x);
    assert.notDeepEqual(after.data, before.data);
    sd.bias_ih_l0.data[0] -= 1;
    assert.deepEqual(m.forward(x)[0].data, before.data);
  });

  it('train() / eval() flip training and return the module', () => {
    const m = new RNN({ inputSize: 2, hiddenSize: 3 });
    assert.equal(m.training, true);
    assert.equal(m.eval(), m);
    assert.equal(m.training, false);
    assert.equal(m.train(), m);
    assert.equal(m.training, true);
    assert.equal(m.train(false), m);
    assert.equal(m.training, false);
    const c = new LSTMCell({ inputSize: 2, hiddenSize: 3 });
    assert.equal(c.eval().training, false);
  });
});

describe('module: result shapes and layouts', () => {
  it('projected bidirectional LSTM: output [T, B, 2P], h_n [2L, B, P], c_n [2L, B, H]', () => {
    const m = new LSTM({ inputSize: 10, hiddenSize: 20, numLayers: 2, bidirectional: true, projSize: 5 });
    const [out, [h, c]] = m.forward(randn([7, 3, 10]));
    assert.deepEqual(out.shape, [7, 3, 10]);
    assert.deepEqual(h.shape, [4, 3, 5]);
    assert.deepEqual(c.shape, [4, 3, 20]);
    const [uOut, [uh, uc]] = m.forward(randn([7, 10]));
    assert.deepEqual(uOut.shape, [7, 10]);
    assert.deepEqual(uh.shape, [4, 5]);
    assert.deepEqual(uc.shape, [4, 20]);
  });

  it('GRU and RNN, batched, unbatched and batchFirst', () => {
    const gru = new GRU({ inputSize: 4, hiddenSize: 6, numLayers: 3, bidirectional: true });
    let [out, h] = gru.forward(randn([5, 2, 4]));
    assert.deepEqual(out.shape, [5, 2, 12]);
    assert.deepEqual(h.shape, [6, 2, 6]);
    [out, h] = gru.forward(randn([5, 4]));
    assert.deepEqual(out.shape, [5, 12]);
    assert.deepEqual(h.shape, [6, 6]);
    const rnn = new RNN({ inputSize: 4, hiddenSize: 6, batchFirst: true });
    [out, h] = rnn.forward(randn([2, 5, 4]));
    assert.deepEqual(out.shape, [2, 5, 6]);
    assert.deepEqual(h.shape, [1, 2, 6]);
    // unbatched input ignores batchFirst
    [out, h] = rnn.forward(randn([5, 4]));
    assert.deepEqual(out.shape, [5, 6]);
    assert.deepEqual(h.shape, [1, 6]);
    const lstm = new LSTM({ inputSize: 4, hiddenSize: 6, batchFirst: true, bidirectional: true });
    const [lo, [lh, lc]] = lstm.forward(randn([3, 8, 4]));
    assert.deepEqual(lo.shape, [3, 8, 12]);
    assert.deepEqual(lh.shape, [2, 3, 6]);
    assert.deepEqual(lc.shape, [2, 3, 6]);
  });

  it('unbatched input gives the same values as a batch of one', () => {
    manualSeed(31);
    const m = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true });
    const x = randn([6, 3]);
    const h0 = randn([4, 4]), c0 = randn([4, 4]);
    const [uo, [uh, uc]] = m.forward(x, [h0, c0]);
    const [bo, [bh, bc]] = m.forward(x.reshape(6, 1, 3), [h0.reshape(4, 1, 4), c0.reshape(4, 1, 4)]);
    assert.deepEqual(uo.data, bo.data);
    assert.deepEqual(uh.data, bh.data);
    assert.deepEqual(uc.data, bc.data);
  });

  it('unbatched cells: [I] in, [H] out', () => {
    const rnn = new RNNCell({ inputSize: 3, hiddenSize: 5 });
    assert.deepEqual(rnn.forward(randn([3])).shape, [5]);
    assert.deepEqual(rnn.forward(randn([3]), randn([5])).shape, [5]);
    const [h, c] = new LSTMCell({ inputSize: 3, hiddenSize: 5 }).forward(randn([3]), [randn([5]), randn([5])]);
    assert.deepEqual(h.shape, [5]);
    assert.deepEqual(c.shape, [5]);
    assert.deepEqual(new GRUCell({ inputSize: 3, hiddenSize: 5 }).forward(randn([2, 3])).shape, [2, 5]);
    // the unbatched cell equals a batch of one
    manualSeed(32);
    const g = new GRUCell({ inputSize: 3, hiddenSize: 5 });
    const x = randn([3]), hx = randn([5]);
    assert.deepEqual(g.forward(x, hx).data, g.forward(x.reshape(1, 3), hx.reshape(1, 5)).data);
  });

  for (const kind of ['LSTM', 'GRU', 'RNN'] as const) {
    it(`${kind}: batchFirst changes the input / output layout but not h_n`, () => {
      manualSeed(33);
      const opts = { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true };
      const make = (batchFirst: boolean) =>
        kind === 'LSTM' ? new LSTM({ ...opts, batchFirst }) : kind === 'GRU' ? new GRU({ ...opts, batchFirst }) : new RNN({ ...opts, batchFirst });
      const seqFirst = make(false);
      const batchFirst = make(true);
      copyWeights(seqFirst, batchFirst);
      const T = 5, B = 3;
      const x = randn([T, B, 3]);
      const xt = zeros([B, T, 3]);
      for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let i = 0; i < 3; i++) xt.data[(b * T + t) * 3 + i] = x.data[(t * B + b) * 3 + i];
      const [o1, s1] = (seqFirst as GRU).forward(x) as [Tensor, Tensor | [Tensor, Tensor]];
      const [o2, s2] = (batchFirst as GRU).forward(xt) as [Tensor, Tensor | [Tensor, Tensor]];
      assert.deepEqual(o2.shape, [B, T, 8]);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < 8; j++) assert.equal(o2.data[(b * T + t) * 8 + j], o1.data[(t * B + b) * 8 + j], `output[t=${t}, b=${b}, ${j}]`);
        }
      }
      const states1 = Array.isArray(s1) ? s1 : [s1];
      const states2 = Array.isArray(s2) ? s2 : [s2];
      states1.forEach((s, i) => {
        assert.deepEqual(states2[i].shape, [4, B, 4], 'h_n stays [L*D, B, H] with batchFirst');
        assert.deepEqual(states2[i].data, s.data);
      });
    });
  }
});

describe('module: forward against a float64 reference of PyTorch\'s equations', () => {
  const T = 6, B = 3, I = 4, H = 5;

  it('LSTM, 2 layers, bidirectional, with h0 / c0', () => {
    manualSeed(41);
    const m = new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true });
    const x = randn([T, B, I]), h0 = randn([4, B, H]), c0 = randn([4, B, H]);
    const [out, [hN, cN]] = m.forward(x, [h0, c0]);
    const ref = refLayers({ kind: 'LSTM', hiddenSize: H, numLayers: 2, bidirectional: true, projSize: 0 }, paramsOf(m), x.toArray() as Mat3, h0.toArray() as Mat3, c0.toArray() as Mat3);
    assertClose(out, ref.output, 'output');
    assertClose(hN, ref.hN, 'h_n');
    assertClose(cN, ref.cN, 'c_n');
  });

  it('LSTM with projSize, 2 layers, bidirectional, with h0 / c0', () => {
    manualSeed(42);
    const m = new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, projSize: 3 });
    const x = randn([T, B, I]), h0 = randn([4, B, 3]), c0 = randn([4, B, H]);
    const [out, [hN, cN]] = m.forward(x, [h0, c0]);
    const ref = refLayers({ kind: 'LSTM', hiddenSize: H, numLayers: 2, bidirectional: true, projSize: 3 }, paramsOf(m), x.toArray() as Mat3, h0.toArray() as Mat3, c0.toArray() as Mat3);
    assertClose(out, ref.output, 'output');
    assertClose(hN, ref.hN, 'h_n');
    assertClose(cN, ref.cN, 'c_n');
  });

  it('LSTM without bias and without h0', () => {
    manualSeed(43);
    const m = new LSTM({ inputSize: I, hiddenSize: H, bias: false });
    const x = randn([T, B, I]);
    const [out, [hN, cN]] = m.forward(x);
    const ref = refLayers({ kind: 'LSTM', hiddenSize: H, numLayers: 1, bidirectional: false, projSize: 0 }, paramsOf(m), x.toArray() as Mat3, null, null);
    assertClose(out, ref.output, 'output');
    assertClose(hN, ref.hN, 'h_n');
    assertClose(cN, ref.cN, 'c_n');
  });

  it('GRU, 2 layers, bidirectional, with h0 (b_hn inside r * (...))', () => {
    manualSeed(44);
    const m = new GRU({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true });
    // large recurrent biases make the placement of b_hn (inside or outside r * (...)) visible
    for (const [k, p] of m.namedParameters()) if (k.startsWith('bias_hh')) p.data.forEach((v, i) => (p.data[i] = v * 4));
    const x = randn([T, B, I]), h0 = randn([4, B, H]);
    const [out, hN] = m.forward(x, h0);
    const ref = refLayers({ kind: 'GRU', hiddenSize: H, numLayers: 2, bidirectional: true, projSize: 0 }, paramsOf(m), x.toArray() as Mat3, h0.toArray() as Mat3, null);
    assertClose(out, ref.output, 'output');
    assertClose(hN, ref.hN, 'h_n');
  });

  it('GRU without bias', () => {
    manualSeed(45);
    const m = new GRU({ inputSize: I, hiddenSize: H, numLayers: 2, bias: false });
    const x = randn([T, B, I]), h0 = randn([2, B, H]);
    const [out, hN] = m.forward(x, h0);
    const ref = refLayers({ kind: 'GRU', hiddenSize: H, numLayers: 2, bidirectional: false, projSize: 0 }, paramsOf(m), x.toArray() as Mat3, h0.toArray() as Mat3, null);
    assertClose(out, ref.output, 'output');
    assertClose(hN, ref.hN, 'h_n');
  });

  it('RNN relu, 2 layers, bidirectional, with h0', () => {
    manualSeed(46);
    const m = new RNN({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, nonlinearity: 'relu' });
    const x = randn([T, B, I]), h0 = randn([4, B, H]);
    const [out, hN] = m.forward(x, h0);
    const ref = refLayers({ kind: 'RNN_RELU', hiddenSize: H, numLayers: 2, bidirectional: true, projSize: 0 }, paramsOf(m), x.toArray() as Mat3, h0.toArray() as Mat3, null);
    const zerosInRef = flat(ref.output).filter((v) => v === 0).length;
    assert.ok(zerosInRef > 0, 'the case should exercise the relu cut-off');
    assertClose(out, ref.output, 'output');
    assertClose(hN, ref.hN, 'h_n');
  });

  it('RNN tanh, unbatched, batchFirst ignored', () => {
    manualSeed(47);
    const m = new RNN({ inputSize: I, hiddenSize: H, numLayers: 3, batchFirst: true });
    const x = randn([T, I]), h0 = randn([3, H]);
    const [out, hN] = m.forward(x, h0);
    const xs = (x.toArray() as number[][]).map((row) => [row]);
    const h0s = (h0.toArray() as number[][]).map((row) => [row]);
    const ref = refLayers({ kind: 'RNN_TANH', hiddenSize: H, numLayers: 3, bidirectional: false, projSize: 0 }, paramsOf(m), xs, h0s, null);
    assertClose(out, ref.output, 'output');
    assertClose(hN, ref.hN, 'h_n');
  });

  it('batchFirst LSTM against the reference', () => {
    manualSeed(48);
    const m = new LSTM({ inputSize: I, hiddenSize: H, batchFirst: true, bidirectional: true });
    const x = randn([B, T, I]);
    const [out, [hN, cN]] = m.forward(x);
    const bt = x.toArray() as Mat3;
    const tb: Mat3 = Array.from({ length: T }, (_, t) => Array.from({ length: B }, (_, b) => bt[b][t]));
    const ref = refLayers({ kind: 'LSTM', hiddenSize: H, numLayers: 1, bidirectional: true, projSize: 0 }, paramsOf(m), tb, null, null);
    const refBatchFirst = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => ref.output[t][b]));
    assertClose(out, refBatchFirst, 'output');
    assertClose(hN, ref.hN, 'h_n');
    assertClose(cN, ref.cN, 'c_n');
  });

  it('cells against the reference step', () => {
    manualSeed(49);
    const x = randn([B, I]), h = randn([B, H]), c = randn([B, H]);
    const xs = x.toArray() as number[][], hs = h.toArray() as number[][], cs = c.toArray() as number[][];
    const lstm = new LSTMCell({ inputSize: I, hiddenSize: H });
    const [h1, c1] = lstm.forward(x, [h, c]);
    const lref = xs.map((xb, b) => refStep('LSTM', paramsOf(lstm), '', H, xb, hs[b], cs[b]));
    assertClose(h1, lref.map((r) => r[0]), 'LSTMCell h');
    assertClose(c1, lref.map((r) => r[1]), 'LSTMCell c');
    const gru = new GRUCell({ inputSize: I, hiddenSize: H });
    assertClose(gru.forward(x, h), xs.map((xb, b) => refStep('GRU', paramsOf(gru), '', H, xb, hs[b], null)[0]), 'GRUCell h');
    const rnn = new RNNCell({ inputSize: I, hiddenSize: H, nonlinearity: 'relu' });
    assertClose(rnn.forward(x, h), xs.map((xb, b) => refStep('RNN_RELU', paramsOf(rnn), '', H, xb, hs[b], null)[0]), 'RNNCell relu h');
    const tanh = new RNNCell({ inputSize: I, hiddenSize: H });
    assertClose(tanh.forward(x), xs.map((xb) => refStep('RNN_TANH', paramsOf(tanh), '', H, xb, new Array(H).fill(0), null)[0]), 'RNNCell tanh h');
  });
});

describe('module: a cell step equals the layer with T = 1', () => {
  const toLayer = (k: string) => `${k}_l0`;
  const I = 4, H = 6, B = 3;

  it('LSTMCell = LSTM on one step', () => {
    manualSeed(51);
    const cell = new LSTMCell({ inputSize: I, hiddenSize: H });
    const layer = new LSTM({ inputSize: I, hiddenSize: H });
    copyWeights(cell, layer, toLayer);
    const x = randn([B, I]), h = randn([B, H]), c = randn([B, H]);
    const [h1, c1] = cell.forward(x, [h, c]);
    const [out, [hN, cN]] = layer.forward(x.reshape(1, B, I), [h.reshape(1, B, H), c.reshape(1, B, H)]);
    assert.deepEqual(h1.data, out.data);
    assert.deepEqual(h1.data, hN.data);
    assert.deepEqual(c1.data, cN.data);
  });

  it('GRUCell = GRU on one step', () => {
    manualSeed(52);
    const cell = new GRUCell({ inputSize: I, hiddenSize: H });
    const layer = new GRU({ inputSize: I, hiddenSize: H });
    copyWeights(cell, layer, toLayer);
    const x = randn([B, I]), h = randn([B, H]);
    const [out, hN] = layer.forward(x.reshape(1, B, I), h.reshape(1, B, H));
    assert.deepEqual(cell.forward(x, h).data, out.data);
    assert.deepEqual(cell.forward(x, h).data, hN.data);
  });

  it('RNNCell = RNN on one step (tanh and relu, without bias)', () => {
    manualSeed(53);
    for (const nonlinearity of ['tanh', 'relu'] as const) {
      const cell = new RNNCell({ inputSize: I, hiddenSize: H, nonlinearity, bias: false });
      const layer = new RNN({ inputSize: I, hiddenSize: H, nonlinearity, bias: false });
      copyWeights(cell, layer, toLayer);
      const x = randn([B, I]), h = randn([B, H]);
      const [out, hN] = layer.forward(x.reshape(1, B, I), h.reshape(1, B, H));
      assert.deepEqual(cell.forward(x, h).data, out.data);
      assert.deepEqual(cell.forward(x, h).data, hN.data);
    }
  });

  it('stepping a cell over a sequence equals the single-layer module', () => {
    manualSeed(54);
    const cell = new GRUCell({ inputSize: I, hiddenSize: H });
    const layer = new GRU({ inputSize: I, hiddenSize: H });
    copyWeights(cell, layer, toLayer);
    const T = 7;
    const x = randn([T, B, I]);
    const [out, hN] = layer.forward(x);
    let h = zeros([B, H]);
    for (let t = 0; t < T; t++) {
      h = cell.forward(new Tensor(x.data.slice(t * B * I, (t + 1) * B * I), [B, I]), h);
      const step = out.data.subarray(t * B * H, (t + 1) * B * H);
      for (let i = 0; i < B * H; i++) assert.ok(Math.abs(h.data[i] - step[i]) <= 1e-6, `t=${t}: ${h.data[i]} vs ${step[i]}`);
    }
    for (let i = 0; i < B * H; i++) assert.ok(Math.abs(h.data[i] - hN.data[i]) <= 1e-6);
  });
});

describe('module: dropout', () => {
  const opts = { inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true };

  it('in train() mode with dropout 0.5, two forwards differ, and manualSeed makes them repeatable', () => {
    manualSeed(61);
    const m = new LSTM({ ...opts, dropout: 0.5 });
    assert.equal(m.training, true);
    const x = randn([5, 3, 4]);
    const [a] = m.forward(x);
    const [b] = m.forward(x);
    assert.notDeepEqual(a.data, b.data, 'dropout masks should differ between calls');
    manualSeed(5);
    const [c] = m.forward(x);
    manualSeed(5);
    const [d] = m.forward(x);
    assert.deepEqual(c.data, d.data);
  });

  it('dropout only touches the input of layer 2: layer 1\'s h_n is the same with or without it', () => {
    manualSeed(62);
    const m = new GRU({ ...opts, dropout: 0.5 });
    const plain = new GRU({ ...opts, dropout: 0 });
    copyWeights(m, plain);
    const x = randn([5, 3, 4]);
    const [, h] = m.forward(x);
    const [, hp] = plain.forward(x);
    // h_n rows 0 and 1 (layer 0, both directions) come before any dropout
    assert.deepEqual(h.data.subarray(0, 2 * 3 * 6), hp.data.subarray(0, 2 * 3 * 6));
    assert.notDeepEqual(h.data.subarray(2 * 3 * 6), hp.data.subarray(2 * 3 * 6));
  });

  it('the mask between layers zeroes a fraction p and scales the rest by 1 / (1 - p)', () => {
    // Layer 1 outputs a known positive constant per unit (relu of its bias, all weights 0); layer 2 passes its input
    // through unchanged (weight_ih = identity, weight_hh = 0, no bias; relu of a non-negative value is the value),
    // so layer 2's output is exactly the dropped-out input it received.
    const H = 50, T = 40, B = 10;
    for (const p of [0.2, 0.5]) {
      manualSeed(65);
      const m = new RNN({ inputSize: 3, hiddenSize: H, numLayers: 2, nonlinearity: 'relu', dropout: p });
      const sd = m.stateDict();
      for (const t of Object.values(sd)) t.data.fill(0);
      sd.bias_ih_l0.data.forEach((_, j) => (sd.bias_ih_l0.data[j] = 1 + j / 10));
      for (let j = 0; j < H; j++) sd.weight_ih_l1.data[j * H + j] = 1;
      const [out, h] = m.forward(randn([T, B, 3]));
      let dropped = 0;
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) {
            const v = out.data[(t * B + b) * H + j];
            const kept = Math.fround(Math.fround(1 + j / 10) * Math.fround(1 / (1 - p)));
            if (v === 0) dropped++;
            else assert.ok(Math.abs(v - kept) <= 1e-6 * kept, `p=${p}: kept value ${v}, expected ${kept}`);
          }
        }
      }
      const n = T * B * H;
      assert.ok(Math.abs(dropped / n - p) <= 5 * Math.sqrt((p * (1 - p)) / n), `p=${p}: dropped fraction ${dropped / n}`);
      // layer 1's final state is the undropped constant
      for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) assert.equal(h.data[b * H + j], Math.fround(1 + j / 10));
    }
  });

  for (const kind of ['LSTM', 'GRU', 'RNN'] as const) {
    it(`${kind}: in eval() mode the output equals the dropout = 0 module with the same weights`, () => {
      manualSeed(63);
      const make = (dropout: number) =>
        kind === 'LSTM' ? new LSTM({ ...opts, dropout }) : kind === 'GRU' ? new GRU({ ...opts, dropout }) : new RNN({ ...opts, dropout });
      const m = make(0.5);
      const plain = make(0);
      copyWeights(m, plain);
      m.eval();
      const x = randn([5, 3, 4]);
      const r1 = (m as GRU).forward(x);
      const r2 = (plain as GRU).forward(x);
      assert.deepEqual(r1[0].data, r2[0].data);
      assert.deepEqual(flat([r1[1]].flat().map((t) => Array.from(t.data))), flat([r2[1]].flat().map((t) => Array.from(t.data))));
      // and two eval forwards are identical
      assert.deepEqual((m as GRU).forward(x)[0].data, r1[0].data);
    });
  }

  for (const kind of ['LSTM', 'GRU', 'RNN'] as const) {
    it(`${kind}: with dropout = 1 in train() mode, layer 2 sees zeros`, () => {
      manualSeed(64);
      const D = 2, H = 6;
      const make = (o: Record<string, unknown>) => (kind === 'LSTM' ? new LSTM(o as never) : kind === 'GRU' ? new GRU(o as never) : new RNN(o as never));
      const m = make({ ...opts, dropout: 1 });
      assert.equal(m.training, true);
      // layer 2 alone: a single-layer module with the l1 weights, fed zeros of width D*H
      const second = make({ inputSize: D * H, hiddenSize: H, bidirectional: true });
      copyWeights(m, second, (k) => k.replace('_l1', '_l0'), '_l1');
      // layer 1 alone, for the first half of h_n
      const first = make({ inputSize: 4, hiddenSize: H, bidirectional: true });
      copyWeights(m, first, (k) => k, '_l0');
      const x = randn([5, 3, 4]);
      const [out, state] = (m as GRU).forward(x) as [Tensor, Tensor | [Tensor, Tensor]];
      const [zOut, zState] = (second as GRU).forward(zeros([5, 3, D * H])) as [Tensor, Tensor | [Tensor, Tensor]];
      const [, fState] = (first as GRU).forward(x) as [Tensor, Tensor | [Tensor, Tensor]];
      assert.deepEqual(out.data, zOut.data);
      const s = Array.isArray(state) ? state : [state];
      const z = Array.isArray(zState) ? zState : [zState];
      const f = Array.isArray(fState) ? fState : [fState];
      const half = D * 3 * H;
      s.forEach((t, i) => {
        assert.deepEqual(t.data.subarray(0, half), f[i].data, 'layer 1 state is not affected by dropout');
        assert.deepEqual(t.data.subarray(half), z[i].data, 'layer 2 state equals a run on zeros');
      });
      // the result is not trivially zero: the biases drive layer 2 even on zero input
      assert.ok(out.data.some((v) => v !== 0));
    });
  }

  it('a single-layer module with dropout warns like PyTorch', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    return new Promise<void>((resolve, reject) => {
      new GRU({ inputSize: 2, hiddenSize: 3, dropout: 0.2 });
      setImmediate(() => {
        process.off('warning', onWarning);
        try {
          assert.ok(warnings.some((w) => /non-zero dropout expects num_layers greater than 1, but got dropout=0\.2 and num_layers=1/.test(w)), warnings.join('\n'));
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  });
});

describe('module: an empty batch, and cells of hiddenSize 0, give empty results and zero gradients (as PyTorch)', () => {
  const I = 3, H = 4, T = 5;
  type LayerOptions = { batchFirst: boolean };
  const layers: [string, (o: LayerOptions) => RNN | LSTM | GRU, { L: number; D: number; P: number }][] = [
    ['RNN tanh, 2 layers, bidirectional', (o) => new RNN({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, ...o }), { L: 2, D: 2, P: H }],
    ['RNN relu', (o) => new RNN({ inputSize: I, hiddenSize: H, nonlinearity: 'relu', ...o }), { L: 1, D: 1, P: H }],
    ['LSTM projSize 2, 2 layers, bidirectional', (o) => new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, projSize: 2, ...o }), { L: 2, D: 2, P: 2 }],
    ['GRU, 3 layers, bidirectional', (o) => new GRU({ inputSize: I, hiddenSize: H, numLayers: 3, bidirectional: true, ...o }), { L: 3, D: 2, P: H }],
  ];

  /** Asserts `t` has `shape` (and so no elements here). */
  const hasShape = (t: Tensor, shape: number[], what: string) => {
    assert.deepEqual(t.shape, shape, `${what} shape`);
    assert.equal(t.numel, 0, `${what} is empty`);
  };

  for (const [name, make, { L, D, P }] of layers) {
    for (const batchFirst of [false, true]) {
      it(`${name}${batchFirst ? ', batchFirst' : ''}: forward, forwardAsync, backward`, async () => {
        manualSeed(81);
        const m = make({ batchFirst });
        const lstm = m instanceof LSTM;
        const xShape = batchFirst ? [0, T, I] : [T, 0, I];
        const outShape = batchFirst ? [0, T, D * P] : [T, 0, D * P];
        const x = zeros(xShape).requiresGrad_();
        const h0 = zeros([L * D, 0, P]).requiresGrad_();
        const c0 = zeros([L * D, 0, H]).requiresGrad_();
        const check = (out: Tensor, state: Tensor | [Tensor, Tensor]) => {
          hasShape(out, outShape, 'output');
          const [h, c] = Array.isArray(state) ? state : [state, null];
          hasShape(h, [L * D, 0, P], 'h_n');
          if (lstm) hasShape(c!, [L * D, 0, H], 'c_n');
          return [out, h, c].filter((t): t is Tensor => t !== null);
        };
        for (const hx of [undefined, lstm ? [h0, c0] : h0]) {
          const [out, state] = (m as GRU).forward(x, hx as never) as [Tensor, Tensor | [Tensor, Tensor]];
          check(out, state);
          const [aOut, aState] = await ((m as GRU).forwardAsync(x, hx as never) as Promise<[Tensor, Tensor | [Tensor, Tensor]]>);
          check(aOut, aState);
        }
        // backward: every gradient has its tensor's shape; the parameters' are zero (nothing flowed through them)
        const [out, state] = (m as GRU).forward(x, (lstm ? [h0, c0] : h0) as never) as [Tensor, Tensor | [Tensor, Tensor]];
        const results = check(out, state);
        const loss = results.map((t) => t.sum()).reduce((a, b) => a.add(b));
        assert.equal(loss.item(), 0);
        loss.backward();
        assert.deepEqual(x.grad!.shape, xShape);
        assert.deepEqual(h0.grad!.shape, [L * D, 0, P]);
        if (lstm) assert.deepEqual(c0.grad!.shape, [L * D, 0, H]);
        for (const [pname, p] of m.namedParameters()) {
          assert.ok(p.grad, `${pname} has a gradient`);
          assert.deepEqual(p.grad.shape, p.shape, `${pname}.grad shape`);
          assert.ok(p.grad.data.every((v) => v === 0), `${pname}.grad is zero`);
        }
        // and the module still computes real batches afterwards, the same as a fresh copy with its weights
        const again = make({ batchFirst });
        copyWeights(m, again);
        const xr = randn(batchFirst ? [2, T, I] : [T, 2, I]);
        assert.deepEqual(((m as GRU).forward(xr)[0] as Tensor).data, ((again as GRU).forward(xr)[0] as Tensor).data);
      });
    }
  }

  it('an empty batch under noGrad records nothing', () => {
    const m = new LSTM({ inputSize: I, hiddenSize: H });
    const [out, [h]] = noGrad(() => m.forward(zeros([T, 0, I])));
    assert.equal(out.gradFn, null);
    assert.equal(h.gradFn, null);
  });

  const cells: [string, (hiddenSize: number) => RNNCell | GRUCell | LSTMCell][] = [
    ['RNNCell tanh', (h) => new RNNCell({ inputSize: I, hiddenSize: h })],
    ['RNNCell relu', (h) => new RNNCell({ inputSize: I, hiddenSize: h, nonlinearity: 'relu' })],
    ['GRUCell', (h) => new GRUCell({ inputSize: I, hiddenSize: h })],
    ['LSTMCell', (h) => new LSTMCell({ inputSize: I, hiddenSize: h })],
  ];
  for (const [name, make] of cells) {
    const gates = name.startsWith('LSTM') ? 4 : name.startsWith('GRU') ? 3 : 1;
    /** h' (and c') of one call. */
    const states = (r: Tensor | [Tensor, Tensor]): Tensor[] => (Array.isArray(r) ? r : [r]);

    it(`${name}: input [0, I] gives [0, H], sync and async, with zero gradients`, async () => {
      const cell = make(H);
      const x = zeros([0, I]).requiresGrad_();
      const hx = name.startsWith('LSTM') ? [zeros([0, H]), zeros([0, H])] : zeros([0, H]);
      for (const r of [cell.forward(x), cell.forward(x, hx as never), await cell.forwardAsync(x)]) {
        for (const s of states(r as Tensor | [Tensor, Tensor])) hasShape(s, [0, H], 'state');
      }
      const r = states(cell.forward(x) as Tensor | [Tensor, Tensor]);
      r.map((t) => t.sum()).reduce((a, b) => a.add(b)).backward();
      assert.deepEqual(x.grad!.shape, [0, I]);
      for (const [pname, p] of cell.namedParameters()) assert.ok(p.grad!.data.every((v) => v === 0), `${pname}.grad is zero`);
    });

    it(`${name}: hiddenSize 0 has PyTorch's empty parameters and returns [B, 0]; dL/dx is zero`, async () => {
      const cell = make(0);
      assert.equal(cell.hiddenSize, 0);
      assert.deepEqual(cell.namedParameters().map(([n, p]) => [n, p.shape]), [
        ['weight_ih', [0, I]], ['weight_hh', [gates * 0, 0]], ['bias_ih', [0]], ['bias_hh', [0]],
      ]);
      manualSeed(82);
      const x = randn([2, I]).requiresGrad_();
      for (const r of [cell.forward(x), await cell.forwardAsync(x)]) for (const s of states(r as Tensor | [Tensor, Tensor])) hasShape(s, [2, 0], 'state');
      for (const s of states(cell.forward(randn([I])) as Tensor | [Tensor, Tensor])) hasShape(s, [0], 'unbatched state');
      const hx = name.startsWith('LSTM') ? [zeros([2, 0]), zeros([2, 0])] : zeros([2, 0]);
      const r = states(cell.forward(x, hx as never) as Tensor | [Tensor, Tensor]);
      r.map((t) => t.sum()).reduce((a, b) => a.add(b)).backward();
      // h' does not depend on x through an empty weight_ih: the gradient is zero, of x's shape
      assert.deepEqual(x.grad!.shape, [2, I]);
      assert.deepEqual(Array.from(x.grad!.data), new Array(2 * I).fill(0));
    });
  }
});
