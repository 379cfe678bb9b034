// Packed sequences: packPaddedSequence / padPackedSequence round trips and bookkeeping, and packed forwards of
// RNN / LSTM / GRU checked against running every sequence alone, unpadded, truncated to its own length.
import { strict as assert } from 'node:assert';
import {
  GRU, LSTM, PackedSequence, RNN, Tensor, cuda, manualSeed, ones, packPaddedSequence, packSequence, padPackedSequence, padSequence, randn, tensor,
  unpackSequence, unpadSequence, zeros,
} from '../lib/index';

/** Element [t, b, f] of a padded tensor laid out [T, B, F] (or [B, T, F] with batchFirst). */
function at(x: Tensor, batchFirst: boolean, t: number, b: number, f: number): number {
  const [d0, d1, F] = x.shape;
  const T = batchFirst ? d1 : d0;
  const B = batchFirst ? d0 : d1;
  return x.data[((batchFirst ? b * T + t : t * B + b) * F) + f];
}

/** Sequence b's first `len` steps as an unbatched [len, F] tensor. */
function sequence(x: Tensor, batchFirst: boolean, b: number, len: number): Tensor {
  const F = x.shape[2];
  const out = new Float32Array(len * F);
  for (let t = 0; t < len; t++) for (let f = 0; f < F; f++) out[t * F + f] = at(x, batchFirst, t, b, f);
  return new Tensor(out, [len, F]);
}

/** Column b of a [LD, B, S] state as an unbatched [LD, S] tensor. */
function stateOf(h: Tensor, b: number): Tensor {
  const [LD, B, S] = h.shape;
  const out = new Float32Array(LD * S);
  for (let l = 0; l < LD; l++) out.set(h.data.subarray((l * B + b) * S, (l * B + b + 1) * S), l * S);
  return new Tensor(out, [LD, S]);
}

/** Norm-relative error <= tol, and every element within tol * max(1, |expected|). */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let diff = 0, norm = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = actual[i] - expected[i];
    assert.ok(Math.abs(e) <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
    diff += e * e;
    norm += expected[i] * expected[i];
  }
  assert.ok(norm > 0, `${what}: expected values are all zero`);
  assert.ok(Math.sqrt(diff / norm) <= tol, `${what}: relative error ${Math.sqrt(diff / norm)}`);
}

describe('packing: packPaddedSequence / padPackedSequence', () => {
  const T = 5, B = 4, F = 3;
  const lengths = [5, 3, 3, 1];

  it('batchSizes count the sequences active at each step', () => {
    const packed = packPaddedSequence(randn([T, B, F]), lengths);
    assert.ok(packed instanceof PackedSequence);
    assert.equal(packed.batchSizes.dtype, 'int64');
    assert.deepEqual(Array.from(packed.batchSizes.data), [4n, 3n, 3n, 1n, 1n]);
    assert.deepEqual(packed.batchSizeList(), [4, 3, 3, 1, 1]);
    assert.deepEqual(packed.data.shape, [12, F]);
    assert.equal(packed.sortedIndices, null);
    assert.equal(packed.unsortedIndices, null);
  });

  it('packed data is step-major over the active sequences', () => {
    const x = tensor(Float32Array.from({ length: T * B * F }, (_, i) => i), [T, B, F]);
    const packed = packPaddedSequence(x, lengths);
    const rows: [number, number][] = [];
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t < lengths[b]) rows.push([t, b]);
    rows.forEach(([t, b], r) => {
      for (let f = 0; f < F; f++) assert.equal(packed.data.data[r * F + f], at(x, false, t, b, f), `row ${r} (t=${t}, b=${b})`);
    });
  });

  it('lengths may be an int64 Tensor', () => {
    const packed = packPaddedSequence(randn([T, B, F]), tensor(BigInt64Array.from(lengths.map(BigInt))));
    assert.deepEqual(packed.batchSizeList(), [4, 3, 3, 1, 1]);
  });

  it('enforceSorted false sorts by length and records sortedIndices / unsortedIndices', () => {
    const x = randn([T, 3, F]);
    const packed = packPaddedSequence(x, [2, 5, 3], { enforceSorted: false });
    assert.deepEqual(Array.from(packed.sortedIndices!.data), [1n, 2n, 0n]);
    assert.deepEqual(Array.from(packed.unsortedIndices!.data), [2n, 0n, 1n]);
    assert.deepEqual(packed.batchSizeList(), [3, 3, 2, 1, 1]);
    // the first row of step 0 is the longest sequence (original index 1)
    for (let f = 0; f < F; f++) assert.equal(packed.data.data[f], at(x, false, 0, 1, f));
    // sortedIndices and unsortedIndices are inverse permutations
    const s = Array.from(packed.sortedIndices!.data, Number), u = Array.from(packed.unsortedIndices!.data, Number);
    s.forEach((orig, k) => assert.equal(u[orig], k));
  });

  for (const batchFirst of [false, true]) {
    for (const enforceSorted of [true, false]) {
      it(`round trip (batchFirst ${batchFirst}, enforceSorted ${enforceSorted}, paddingValue, totalLength)`, () => {
        manualSeed(71);
        const lens = enforceSorted ? [5, 4, 2, 2, 1] : [2, 5, 1, 4, 2];
        const Bn = lens.length;
        const x = randn(batchFirst ? [Bn, T, F] : [T, Bn, F]);
        const packed = packPaddedSequence(x, lens, { batchFirst, enforceSorted });
        for (const [options, Tout, pad] of [
          [{ batchFirst }, T, 0],
          [{ batchFirst, paddingValue: -7.5 }, T, -7.5],
          [{ batchFirst, paddingValue: 2, totalLength: 8 }, 8, 2],
        ] as const) {
          const [padded, outLens] = padPackedSequence(packed, options);
          assert.deepEqual(padded.shape, batchFirst ? [Bn, Tout, F] : [Tout, Bn, F]);
          assert.equal(outLens.dtype, 'int64');
          assert.deepEqual(Array.from(outLens.data, Number), lens, 'lengths come back in the original order');
          for (let b = 0; b < Bn; b++) {
            for (let t = 0; t < Tout; t++) {
              for (let f = 0; f < F; f++) {
                const expected = t < lens[b] ? at(x, batchFirst, t, b, f) : pad;
                assert.equal(at(padded, batchFirst, t, b, f), expected, `b=${b} t=${t} f=${f}`);
              }
            }
          }
        }
      });
    }
  }

  it('packing a [T, B] input without features, and a batchFirst pack padded back time-major', () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]]); // T=3, B=2
    const packed = packPaddedSequence(x, [3, 2]);
    assert.deepEqual(Array.from(packed.data.data), [1, 2, 3, 4, 5]);
    assert.deepEqual(packed.data.shape, [5]);
    const [back] = padPackedSequence(packed, { paddingValue: -1 });
    assert.deepEqual(back.toArray(), [[1, 2], [3, 4], [5, -1]]);
    const [bf] = padPackedSequence(packed, { batchFirst: true });
    assert.deepEqual(bf.toArray(), [[1, 3, 5], [2, 4, 0]]);
  });
});

type Layer = RNN | LSTM | GRU;
type State = Tensor | [Tensor, Tensor];
const statesOf = (s: State): Tensor[] => (Array.isArray(s) ? s : [s]);

describe('packing: a packed forward equals each sequence run alone', () => {
  const I = 3, H = 4, T = 6;

  const configs: [string, () => Layer][] = [
    ['LSTM', () => new LSTM({ inputSize: I, hiddenSize: H })],
    ['GRU', () => new GRU({ inputSize: I, hiddenSize: H })],
    ['RNN', () => new RNN({ inputSize: I, hiddenSize: H })],
    ['LSTM bidirectional 2 layers', () => new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true })],
    ['LSTM bidirectional 2 layers projSize 2', () => new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, projSize: 2 })],
    ['GRU bidirectional 2 layers', () => new GRU({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true })],
    ['RNN relu bidirectional 2 layers', () => new RNN({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, nonlinearity: 'relu' })],
    ['GRU batchFirst bidirectional', () => new GRU({ inputSize: I, hiddenSize: H, bidirectional: true, batchFirst: true })],
  ];

  for (const [name, make] of configs) {
    for (const enforceSorted of [true, false]) {
      for (const withH0 of [false, true]) {
        it(`${name}, enforceSorted ${enforceSorted}, ${withH0 ? 'with' : 'without'} h0`, () => {
          manualSeed(81);
          const m = make();
          const batchFirst = m.batchFirst;
          const lens = enforceSorted ? [6, 5, 3, 3, 1] : [3, 6, 1, 5, 3];
          const B = lens.length;
          const L = m.numLayers, D = m.bidirectional ? 2 : 1, P = m.projSize > 0 ? m.projSize : H;
          const x = randn(batchFirst ? [B, T, I] : [T, B, I]);
          const lstm = m instanceof LSTM;
          // h0 in the original batch order
          const h0: State | undefined = withH0 ? (lstm ? [randn([L * D, B, P]), randn([L * D, B, H])] : randn([L * D, B, P])) : undefined;

          const packed = packPaddedSequence(x, lens, { batchFirst, enforceSorted });
          const [packedOut, state] = (m as GRU).forward(packed as never, h0 as never) as unknown as [PackedSequence, State];
          assert.ok(packedOut instanceof PackedSequence);
          assert.deepEqual(packedOut.batchSizeList(), packed.batchSizeList());
          assert.equal(packedOut.sortedIndices, packed.sortedIndices);
          assert.deepEqual(packedOut.data.shape, [lens.reduce((a, b) => a + b), D * P]);
          const pad = -3;
          const [padded, outLens] = padPackedSequence(packedOut, { batchFirst, paddingValue: pad });
          assert.deepEqual(Array.from(outLens.data, Number), lens);
          const states = statesOf(state);
          assert.deepEqual(states[0].shape, [L * D, B, P]);

          for (let b = 0; b < B; b++) {
            const alone = sequence(x, batchFirst, b, lens[b]);
            const h0b = h0 === undefined ? undefined : Array.isArray(h0) ? [stateOf(h0[0], b), stateOf(h0[1], b)] : stateOf(h0, b);
            const [refOut, refState] = (m as GRU).forward(alone, h0b as never) as unknown as [Tensor, State];
            // output up to the sequence's length
            const mine = sequence(padded, batchFirst, b, lens[b]);
            assertClose(mine.data, refOut.data, `sequence ${b} output`);
            // padded positions hold paddingValue
            for (let t = lens[b]; t < T; t++) for (let j = 0; j < D * P; j++) assert.equal(at(padded, batchFirst, t, b, j), pad, `sequence ${b} step ${t} should be padding`);
            // final states: forward direction at the sequence's last step, reverse direction at its first
            statesOf(refState).forEach((r, i) => assertClose(stateOf(states[i], b).data, r.data, `sequence ${b} ${i === 0 ? 'h_n' : 'c_n'}`));
          }
        });
      }
    }
  }

  it('forwardAsync on a packed sequence equals forward', async () => {
    manualSeed(82);
    const m = new LSTM({ inputSize: I, hiddenSize: H, bidirectional: true, numLayers: 2 });
    const packed = packPaddedSequence(randn([T, 4, I]), [2, 6, 4, 1], { enforceSorted: false });
    const h0: [Tensor, Tensor] = [randn([4, 4, H]), randn([4, 4, H])];
    const [o1, [h1, c1]] = m.forward(packed, h0);
    const [o2, [h2, c2]] = await m.forwardAsync(packed, h0);
    assert.deepEqual(o2.data.data, o1.data.data);
    assert.deepEqual(h2.data, h1.data);
    assert.deepEqual(c2.data, c1.data);
  });

  it('all sequences at full length give the same result as the unpacked batch', () => {
    manualSeed(83);
    const m = new GRU({ inputSize: I, hiddenSize: H, bidirectional: true });
    const x = randn([T, 3, I]);
    const [out, h] = m.forward(x);
    const [pOut, ph] = m.forward(packPaddedSequence(x, [T, T, T]));
    assertClose(padPackedSequence(pOut)[0].data, out.data, 'output');
    assertClose(ph.data, h.data, 'h_n');
  });
});

/** A [len, F] tensor of the values base, base + 1, ... (distinct, so a misplaced row shows). */
const ramp = (len: number, F: number, base: number): Tensor => tensor(Float32Array.from({ length: len * F }, (_, i) => base + i), F === 0 ? [len] : [len, F]);

describe('packing: padSequence', () => {
  const F = 2;
  const lens = [4, 2, 3];
  const seqs = () => lens.map((len, b) => ramp(len, F, 100 * (b + 1)));

  for (const batchFirst of [false, true]) {
    for (const paddingSide of ['right', 'left'] as const) {
      for (const paddingValue of [undefined, -1.5]) {
        it(`equals the padded batch built by hand (batchFirst ${batchFirst}, paddingSide ${paddingSide}, paddingValue ${paddingValue ?? 'default'})`, () => {
          const list = seqs();
          const padded = padSequence(list, { batchFirst, paddingSide, ...(paddingValue === undefined ? {} : { paddingValue }) });
          const T = Math.max(...lens), B = lens.length;
          assert.deepEqual(padded.shape, batchFirst ? [B, T, F] : [T, B, F]);
          for (let b = 0; b < B; b++) {
            const start = paddingSide === 'left' ? T - lens[b] : 0;
            for (let t = 0; t < T; t++) {
              for (let f = 0; f < F; f++) {
                const inside = t >= start && t < start + lens[b];
                const expected = inside ? list[b].data[(t - start) * F + f] : paddingValue ?? 0;
                assert.equal(at(padded, batchFirst, t, b, f), expected, `b=${b} t=${t} f=${f}`);
              }
            }
          }
        });
      }
    }
  }

  it('PyTorch\'s examples: sizes of pad_sequence([25 x 300, 22 x 300, 15 x 300]); 1-D sequences', () => {
    assert.deepEqual(padSequence([ones([25, 300]), ones([22, 300]), ones([15, 300])]).shape, [25, 3, 300]);
    assert.deepEqual(padSequence([tensor([1, 2, 3]), tensor([4, 5]), tensor([6])]).toArray(), [[1, 4, 6], [2, 5, 0], [3, 0, 0]]);
    assert.deepEqual(padSequence([tensor([1, 2, 3]), tensor([4, 5])], { batchFirst: true, paddingSide: 'left' }).toArray(), [[1, 2, 3], [0, 4, 5]]);
    // a sequence of length 0 is all padding; trailing dimensions of any rank are kept
    assert.deepEqual(padSequence([zeros([0, 2]), ones([1, 2])], { paddingValue: 7 }).toArray(), [[[7, 7], [1, 1]]]);
    assert.deepEqual(padSequence([ones([2, 2, 1]), ones([1, 2, 1])]).shape, [2, 2, 2, 1]);
  });

  it('int64 sequences stay int64 (paddingValue truncated toward zero); float16 values are kept exactly', () => {
    const ids = padSequence([tensor([5, 6, 7], undefined, { dtype: 'int64' }), tensor([8], undefined, { dtype: 'int64' })], { paddingValue: -2.7 });
    assert.equal(ids.dtype, 'int64');
    assert.deepEqual(ids.toArray(), [[5n, 8n], [6n, -2n], [7n, -2n]]);
    const half = padSequence([tensor([0.1, 1 / 3]).to('float16'), tensor([2049]).to('float16')], { paddingValue: 0.1 });
    assert.equal(half.dtype, 'float16');
    // float16 nearest values: 0.1 -> 0.0999755859375, 1/3 -> 0.333251953125, 2049 -> 2048 (spacing 2 above 2048)
    assert.deepEqual(half.toArray(), [[0.0999755859375, 2048], [0.333251953125, 0.0999755859375]]);
  });

  it('is differentiable: each sequence gets the gradient at its padded positions (both sides)', () => {
    manualSeed(91);
    for (const paddingSide of ['right', 'left'] as const) {
      const list = lens.map((len) => randn([len, F]).requiresGrad_());
      const padded = padSequence(list, { paddingSide, paddingValue: 3 });
      const W = randn(padded.shape.slice());
      padded.mul(W).sum().backward();
      const T = Math.max(...lens);
      list.forEach((s, b) => {
        const start = paddingSide === 'left' ? T - lens[b] : 0;
        const expected = new Float32Array(lens[b] * F);
        for (let t = 0; t < lens[b]; t++) for (let f = 0; f < F; f++) expected[t * F + f] = at(W, false, start + t, b, f);
        assert.deepEqual(Array.from(s.grad!.data), Array.from(expected), `${paddingSide}: sequence ${b}`);
      });
    }
  });
});

describe('packing: packSequence / unpadSequence / unpackSequence', () => {
  const F = 3;

  it('PyTorch\'s example: pack_sequence([[1, 2, 3], [4, 5], [6]]) and unpack_sequence back', () => {
    const packed = packSequence([tensor([1, 2, 3]), tensor([4, 5]), tensor([6])]);
    assert.deepEqual(packed.data.toArray(), [1, 4, 6, 2, 5, 3]);
    assert.deepEqual(packed.batchSizeList(), [3, 2, 1]);
    assert.equal(packed.sortedIndices, null);
    assert.deepEqual(unpackSequence(packed).map((t) => t.toArray()), [[1, 2, 3], [4, 5], [6]]);
    // int64 token ids too
    const ids = packSequence([tensor([1, 2, 3], undefined, { dtype: 'int64' }), tensor([4], undefined, { dtype: 'int64' })]);
    assert.equal(ids.data.dtype, 'int64');
    assert.deepEqual(ids.data.toArray(), [1n, 4n, 2n, 3n]);
    // the dtype is in the static types too (this compiles only if it is)
    const back: Tensor<'int64'>[] = unpackSequence(ids);
    assert.deepEqual(back.map((t) => t.tolist()), [[1n, 2n, 3n], [4n]]);
  });

  for (const enforceSorted of [true, false]) {
    it(`packSequence equals packPaddedSequence(padSequence(...)) (enforceSorted ${enforceSorted})`, () => {
      const lens = enforceSorted ? [5, 3, 3, 1] : [2, 5, 1, 3];
      const list = lens.map((len, b) => ramp(len, F, 1000 * b));
      const packed = packSequence(list, { enforceSorted });
      const reference = packPaddedSequence(padSequence(list), lens, { enforceSorted });
      assert.deepEqual(Array.from(packed.data.data), Array.from(reference.data.data));
      assert.deepEqual(packed.data.shape, [lens.reduce((a, b) => a + b), F]);
      assert.deepEqual(packed.batchSizeList(), reference.batchSizeList());
      assert.deepEqual(packed.sortedIndices?.toArray() ?? null, reference.sortedIndices?.toArray() ?? null);
      assert.deepEqual(packed.unsortedIndices?.toArray() ?? null, reference.unsortedIndices?.toArray() ?? null);
      // and unpacking gives the sequences back, in the order given
      unpackSequence(packed).forEach((s, b) => assert.deepEqual(s.toArray(), list[b].toArray(), `sequence ${b}`));
    });
  }

  for (const batchFirst of [false, true]) {
    it(`unpadSequence inverts padSequence (batchFirst ${batchFirst}; lengths as an array or an int64 tensor)`, () => {
      const lens = [3, 0, 4, 1];
      const list = lens.map((len, b) => ramp(len, F, 10 * b));
      const padded = padSequence(list, { batchFirst, paddingValue: -9 });
      for (const lengths of [lens, tensor(BigInt64Array.from(lens.map(BigInt)))]) {
        const back = unpadSequence(padded, lengths, { batchFirst });
        assert.equal(back.length, lens.length);
        back.forEach((s, b) => {
          assert.deepEqual(s.shape, [lens[b], F]);
          assert.deepEqual(s.toArray(), list[b].toArray());
        });
      }
    });
  }

  it('unpadSequence is differentiable: the padded tensor gets each sequence\'s gradient, zero where padding was', () => {
    manualSeed(92);
    const lens = [2, 4, 1];
    const padded = randn([4, 3, F]).requiresGrad_();
    const parts = unpadSequence(padded, lens);
    const weights = parts.map((p) => randn(p.shape.slice()));
    parts.map((p, b) => p.mul(weights[b]).sum()).reduce((a, b) => a.add(b)).backward();
    for (let t = 0; t < 4; t++) {
      for (let b = 0; b < 3; b++) {
        for (let f = 0; f < F; f++) {
          const expected = t < lens[b] ? weights[b].data[t * F + f] : 0;
          assert.equal(at(padded.grad!, false, t, b, f), expected, `t=${t} b=${b} f=${f}`);
        }
      }
    }
  });

  it('gradients through packSequence -> LSTM -> unpackSequence equal those of each sequence run alone', () => {
    manualSeed(93);
    const H = 4;
    const m = new LSTM({ inputSize: F, hiddenSize: H, numLayers: 2, bidirectional: true });
    const lens = [3, 5, 1, 4];
    const B = lens.length;
    const list = lens.map((len) => randn([len, F]).requiresGrad_());
    const outWeights = lens.map((len) => randn([len, 2 * H]));
    const hWeights = randn([4, B, H]);
    const [out, [hN]] = m.forward(packSequence(list, { enforceSorted: false }));
    const outs = unpackSequence(out);
    outs.map((o, b) => o.mul(outWeights[b]).sum()).reduce((a, b) => a.add(b)).add(hN.mul(hWeights).sum()).backward();
    for (let b = 0; b < B; b++) {
      const alone = list[b].detach().requiresGrad_();
      const [o, [h]] = m.forward(alone);
      o.mul(outWeights[b]).sum().add(h.mul(stateOf(hWeights, b)).sum()).backward();
      assertClose(list[b].grad!.data, alone.grad!.data, `sequence ${b} gradient`);
    }
  });
});

describe('packing: PackedSequence.to / cuda / cpu', () => {
  const packed = () => packSequence([tensor([[0.1, 2], [3, 4]]), tensor([[5, 1 / 3]])]);

  it('to(the same device or dtype) and cpu() on the CPU return the sequence itself, as PyTorch', () => {
    const p = packed();
    assert.equal(p.to('cpu'), p);
    assert.equal(p.to('float32'), p);
    assert.equal(p.to({ device: 'cpu', dtype: 'float32' }), p);
    assert.equal(p.cpu(), p);
  });

  it('to(dtype) converts the data only; batchSizes and indices are kept', () => {
    const p = packSequence([tensor([1, 2]), tensor([3, 4, 5])], { enforceSorted: false });
    const half = p.to('bfloat16');
    assert.notEqual(half, p);
    assert.equal(half.data.dtype, 'bfloat16');
    assert.deepEqual(half.data.toArray(), p.data.to('bfloat16').toArray());
    assert.equal(half.batchSizes, p.batchSizes);
    assert.equal(half.sortedIndices, p.sortedIndices);
    assert.equal(half.unsortedIndices, p.unsortedIndices);
    // the converted sequence pads back like the float32 one
    assert.deepEqual(padPackedSequence(half)[0].toArray(), [[1, 3], [2, 4], [0, 5]]);
  });

  it('cuda() moves the data like Tensor.cuda() (or fails with the same error without a GPU)', () => {
    const p = packed();
    if (!cuda.isAvailable()) {
      let expected = '';
      try {
        p.data.cuda();
      } catch (e) {
        expected = (e as Error).message;
      }
      assert.ok(expected.length > 0);
      assert.throws(() => p.cuda(), { message: expected });
      assert.throws(() => p.to('cuda'), { message: expected });
      return;
    }
    const g = p.cuda();
    assert.equal(g.data.device, 'cuda:0');
    assert.equal(g.batchSizes.device, 'cpu');
    assert.equal(g.cuda(), g);
    const back = g.cpu();
    assert.equal(back.data.device, 'cpu');
    assert.deepEqual(back.data.toArray(), p.data.toArray());
  });
});
