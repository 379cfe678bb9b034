// CUDA tensors and modules on a GPU: copies between host and device, factories, views, dispose, device checks,
// Module.to, and every PyTorch reference case run on CUDA (float32 within 1e-5, TF32 within 2e-3).
// Without a CUDA build and device the whole file is skipped, saying why.
import { strict as assert } from 'node:assert';
import {
  GRU, GRUCell, LSTM, LSTMCell, Module, PackedSequence, RNN, RNNCell, Tensor, cuda, full, getFloat32MatmulPrecision,
  manualSeed, noGrad, ones, packPaddedSequence, packSequence, padPackedSequence, padSequence, rand, randn, setFloat32MatmulPrecision, tensor,
  unpackSequence, zeros,
} from '../lib/index';
import { copyInto } from '../lib/cuda';
import { NativeForwardCall, native } from '../lib/binding';
import { fixtureNames, loadFixture, relativeError, buildModule } from './helpers/fixtures';
import { compareForward, forwardCase } from './helpers/forward';
import { throwsExactly, rejectsExactly, escapeRegExp } from './helpers/assertions';
import { whyUnavailable } from './helpers/cuda';

const escape = escapeRegExp;

/** PyTorch's message for tensors on two devices. */
function mixed(first: string, second: string, name: string, ref: string): RegExp {
  return new RegExp(
    `^${escape(`Expected all tensors to be on the same device, but found at least two devices, ${first} and ${second}! (${name} is on ${second}, ${ref} is on ${first})`)}$`,
  );
}

/** Writes `values` into a CUDA tensor's device memory (tests only: there is no public in-place write on CUDA). */
function writeDevice(t: Tensor, values: number[]): void {
  copyInto(t.storage() as never, Float32Array.from(values));
}

describe('cuda', function () {
  before(function () {
    if (!cuda.isAvailable()) {
      console.log(`    CUDA tests skipped: ${whyUnavailable()}`);
      this.skip();
    }
  });

  describe('cuda: queries', () => {
    it('deviceCount, deviceName and synchronize', () => {
      assert.ok(cuda.deviceCount() >= 1);
      const name = cuda.deviceName();
      assert.equal(typeof name, 'string');
      assert.ok(name.length > 0);
      assert.equal(cuda.deviceName(0), name);
      cuda.synchronize();
      cuda.synchronize(0);
    });
  });

  describe('cuda: tensors', () => {
    it('upload / download round trip', () => {
      manualSeed(1);
      const t = randn([3, 4, 5]);
      const g = t.to('cuda');
      assert.notEqual(g, t);
      assert.equal(g.device, 'cuda:0');
      assert.equal(g.dtype, 'float32');
      assert.deepEqual(g.shape, [3, 4, 5]);
      assert.equal(g.numel, 60);
      assert.equal(t.device, 'cpu', 'the source stays on the CPU');
      const back = g.cpu();
      assert.equal(back.device, 'cpu');
      assert.notEqual(back.data, t.data, 'the download is a new array');
      assert.deepEqual(back.data, t.data);
      assert.deepEqual(g.toArray(), t.toArray());
      // cuda(), to('cuda') and to('cuda:0') agree
      assert.deepEqual(t.cuda().cpu().data, t.data);
      assert.deepEqual(t.cuda(0).cpu().data, t.data);
      assert.deepEqual(t.to('cuda:0').cpu().data, t.data);
    });

    it('to the device a tensor is on returns the tensor itself', () => {
      const g = randn([4]).cuda();
      assert.equal(g.to('cuda'), g);
      assert.equal(g.to('cuda:0'), g);
      assert.equal(g.cuda(), g);
      assert.equal(g.cuda(0), g);
    });

    it('special values and the empty tensor survive the round trip', () => {
      const values = [0, -0, 1.5, -2.25, Infinity, -Infinity, 3.4028234663852886e38, 1e-45];
      const back = tensor(values).cuda().cpu().data;
      values.forEach((v, i) => assert.ok(Object.is(back[i], Math.fround(v)), `element ${i}: ${back[i]} != ${v}`));
      assert.ok(Number.isNaN(tensor([NaN]).cuda().cpu().data[0]));
      const empty = zeros([0, 3]).cuda();
      assert.equal(empty.device, 'cuda:0');
      assert.deepEqual(empty.shape, [0, 3]);
      assert.deepEqual(empty.cpu().shape, [0, 3]);
      assert.equal(empty.cpu().data.length, 0);
      assert.equal(empty.clone().numel, 0);
      const scalar = tensor(2.5).cuda();
      assert.deepEqual(scalar.shape, []);
      assert.equal(scalar.cpu().data[0], 2.5);
    });

    it('zeros / ones / full / tensor on the device', () => {
      const z = zeros([2, 3], { device: 'cuda' });
      assert.equal(z.device, 'cuda:0');
      assert.deepEqual(z.cpu().toArray(), [[0, 0, 0], [0, 0, 0]]);
      const o = ones([4], { device: 'cuda:0' });
      assert.equal(o.device, 'cuda:0');
      assert.deepEqual(Array.from(o.cpu().data), [1, 1, 1, 1]);
      const f = full([2, 2], -3.5, { device: 'cuda' });
      assert.deepEqual(f.cpu().toArray(), [[-3.5, -3.5], [-3.5, -3.5]]);
      assert.ok(Number.isNaN(full([3], NaN, { device: 'cuda' }).cpu().data[2]));
      assert.equal(full([1], Infinity, { device: 'cuda' }).cpu().data[0], Infinity);
      const big = zeros([1 << 20], { device: 'cuda' }).cpu().data;
      assert.ok(big.every((v) => v === 0), 'zeros fills all of a large tensor');
      const t = tensor([[1, 2], [3, 4]], undefined, { device: 'cuda' });
      assert.equal(t.device, 'cuda:0');
      assert.deepEqual(t.toArray(), [[1, 2], [3, 4]]);
      // a Float32Array is copied to the device, not shared
      const src = new Float32Array([5, 6]);
      const c = tensor(src, undefined, { device: 'cuda' });
      src[0] = 0;
      assert.deepEqual(Array.from(c.cpu().data), [5, 6]);
    });

    it('rand / randn on the device hold what the CPU draws would have (same generator)', () => {
      manualSeed(42);
      const cpu = [rand([3, 7]).data, randn([5]).data];
      manualSeed(42);
      const r = rand([3, 7], { device: 'cuda' });
      const n = randn([5], { device: 'cuda' });
      assert.equal(r.device, 'cuda:0');
      assert.equal(n.device, 'cuda:0');
      assert.deepEqual([r.cpu().data, n.cpu().data], cpu);
    });

    it('.data throws with the .cpu() hint; toString prints like PyTorch with the device', () => {
      const g = tensor([1, 2]).cuda();
      throwsExactly(() => g.data, Error, /^Tensor is on cuda:0; call \.cpu\(\) to read its data$/);
      assert.equal(g.toString(), "tensor([1., 2.], device='cuda:0')");
      assert.equal(tensor([[0.062, -0.1]]).cuda().toString(), "tensor([[ 0.0620, -0.1000]], device='cuda:0')");
      assert.equal(zeros([0, 3], { device: 'cuda' }).toString(), "tensor([], device='cuda:0', size=(0, 3))");
      assert.equal(zeros([0], { device: 'cuda' }).toString(), "tensor([], device='cuda:0')");
      // a last line too long for the suffix puts the device on a line of its own, like PyTorch
      const long = tensor(Array.from({ length: 12 }, (_, i) => 1000 + i + 0.25)).cuda();
      assert.equal(
        long.toString(),
        'tensor([1000.2500, 1001.2500, 1002.2500, 1003.2500, 1004.2500, 1005.2500,\n' +
          '        1006.2500, 1007.2500, 1008.2500, 1009.2500, 1010.2500, 1011.2500],\n' +
          "       device='cuda:0')",
      );
    });

    it('reshape / view share the device memory', () => {
      const a = tensor([1, 2, 3, 4, 5, 6]).cuda();
      const v = a.reshape(2, 3);
      const w = a.view([3, -1]);
      assert.equal(v.device, 'cuda:0');
      assert.deepEqual(v.shape, [2, 3]);
      assert.deepEqual(w.shape, [3, 2]);
      assert.equal(v.storage(), a.storage());
      writeDevice(a, [6, 5, 4, 3, 2, 1]);
      assert.deepEqual(v.cpu().toArray(), [[6, 5, 4], [3, 2, 1]]);
      writeDevice(w, [0, 0, 0, 0, 0, 7]);
      assert.deepEqual(Array.from(a.cpu().data), [0, 0, 0, 0, 0, 7]);
      assert.equal(a.contiguous(), a);
    });

    it('clone is independent of its source', () => {
      const a = tensor([1, 2, 3]).cuda();
      const c = a.clone();
      assert.equal(c.device, 'cuda:0');
      assert.notEqual(c.storage(), a.storage());
      writeDevice(a, [9, 9, 9]);
      assert.deepEqual(Array.from(c.cpu().data), [1, 2, 3]);
      writeDevice(c, [4, 5, 6]);
      assert.deepEqual(Array.from(a.cpu().data), [9, 9, 9]);
    });

    it('dispose frees the device memory; the tensor and its views then throw on use', () => {
      const lstm = new LSTM({ inputSize: 3, hiddenSize: 4 }).to('cuda');
      const a = randn([2, 1, 3]).cuda();
      const v = a.reshape(6);
      const storage = a.storage() as unknown as { freed: boolean };
      a.dispose();
      assert.equal(storage.freed, true, 'the DeviceBuffer is freed');
      assert.equal(a.disposed, true);
      assert.equal(v.disposed, true, 'a view over freed memory is disposed too');
      for (const t of [a, v]) {
        throwsExactly(() => t.cpu(), Error, /^Tensor has been disposed; its data can no longer be used$/);
        throwsExactly(() => t.data, Error, /^Tensor has been disposed/);
        throwsExactly(() => t.toArray(), Error, /^Tensor has been disposed/);
        throwsExactly(() => t.clone(), Error, /^Tensor has been disposed/);
        throwsExactly(() => t.reshape(-1), Error, /^Tensor has been disposed/);
        throwsExactly(() => t.to('cuda'), Error, /^Tensor has been disposed/);
        assert.equal(t.toString(), 'tensor(<disposed>)');
      }
      throwsExactly(() => lstm.forward(a), Error, /^input is a disposed Tensor; it can no longer be used$/);
      throwsExactly(() => lstm.forward(v.reshape(2, 1, 3)), Error, /^Tensor has been disposed/);
      a.dispose(); // idempotent
      v.dispose();
      // disposing a view frees the memory it shares with its base
      const b = ones([4], { device: 'cuda' });
      b.reshape(2, 2).dispose();
      assert.equal(b.disposed, true);
      throwsExactly(() => b.cpu(), Error, /^Tensor has been disposed/);
      // the module still works
      const [out] = lstm.forward(randn([2, 1, 3]).cuda());
      assert.equal(out.device, 'cuda:0');
    });

    it('many allocations and disposals do not leak (memory is returned on dispose)', () => {
      // 64 MiB at a time, 200 times: 12.5 GiB in all, more than a leak could hide on most cards' spare memory
      for (let i = 0; i < 200; i++) zeros([16 << 20], { device: 'cuda' }).dispose();
    });

    it('out of memory is an Error and the process survives', () => {
      // 2^40 floats = 4 TiB
      assert.throws(() => zeros([1 << 20, 1 << 20], { device: 'cuda' }), (e: unknown) => e instanceof Error);
      assert.equal(ones([2], { device: 'cuda' }).cpu().data[1], 1);
    });

    it('int64 tensors stay on the CPU', () => {
      const i = tensor(BigInt64Array.from([1n]));
      throwsExactly(() => i.cuda(), TypeError, /^int64 tensors are CPU-only/);
    });
  });

  describe('cuda: modules', () => {
    it("module.to('cuda') moves every parameter in place: same Tensor objects, same values", () => {
      manualSeed(7);
      const m = new LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, projSize: 2 });
      const named = m.namedParameters();
      const dict = m.stateDict();
      const values = named.map(([, p]) => p.data.slice());
      assert.equal(m.to('cuda'), m);
      assert.equal(m.device, 'cuda:0');
      m.namedParameters().forEach(([k, p], i) => {
        assert.equal(p, named[i][1], `${k} is not the same Tensor`);
        assert.equal(dict[k], p);
        assert.equal(p.device, 'cuda:0');
        assert.deepEqual(p.cpu().data, values[i], `${k} changed value`);
      });
      assert.equal(m.to('cuda:0'), m, 'a no-op');
      const view = m.stateDict().weight_hh_l0.reshape(-1);
      assert.equal(m.cpu(), m);
      assert.equal(m.device, 'cpu');
      m.namedParameters().forEach(([k, p], i) => {
        assert.equal(p, named[i][1]);
        assert.equal(p.device, 'cpu');
        assert.deepEqual(p.data, values[i], `${k} changed value on the way back`);
      });
      assert.equal(view.disposed, true, 'the old device memory was freed');
    });

    it('forward on CUDA gives results on CUDA equal to the CPU ones', async () => {
      manualSeed(8);
      const m = new GRU({ inputSize: 6, hiddenSize: 10, numLayers: 2, batchFirst: true });
      const x = randn([3, 9, 6]);
      const h0 = randn([2, 3, 10]);
      const [out, h] = m.forward(x, h0);
      m.to('cuda');
      const [gOut, gH] = m.forward(x.cuda(), h0.cuda());
      assert.equal(gOut.device, 'cuda:0');
      assert.equal(gH.device, 'cuda:0');
      assert.deepEqual(gOut.shape, out.shape);
      assert.ok(relativeError(gOut.cpu(), out) <= 1e-5);
      assert.ok(relativeError(gH.cpu(), h) <= 1e-5);
      const [aOut, aH] = await m.forwardAsync(x.cuda(), h0.cuda());
      assert.equal(aOut.device, 'cuda:0');
      assert.ok(relativeError(aOut.cpu(), out) <= 1e-5);
      assert.ok(relativeError(aH.cpu(), h) <= 1e-5);
      // the results can be fed back in
      const [, h2] = m.forward(x.cuda(), gH);
      assert.equal(h2.device, 'cuda:0');
    });

    it('cells on CUDA', async () => {
      manualSeed(9);
      const cell = new LSTMCell({ inputSize: 4, hiddenSize: 6 });
      const x = randn([3, 4]);
      const hx: [Tensor, Tensor] = [randn([3, 6]), randn([3, 6])];
      const [h, c] = cell.forward(x, hx);
      cell.to('cuda');
      const [gh, gc] = cell.forward(x.cuda(), [hx[0].cuda(), hx[1].cuda()]);
      assert.equal(gh.device, 'cuda:0');
      assert.equal(gc.device, 'cuda:0');
      assert.ok(relativeError(gh.cpu(), h) <= 1e-5);
      assert.ok(relativeError(gc.cpu(), c) <= 1e-5);
      const [ah] = await cell.forwardAsync(x.cuda());
      assert.equal(ah.device, 'cuda:0');
      const rnnCell = new RNNCell({ inputSize: 4, hiddenSize: 6 }).to('cuda');
      assert.equal(rnnCell.forward(x.cuda()).device, 'cuda:0');
    });

    it('mixing devices in forward throws PyTorch\'s message, before any native work', async () => {
      const lstm = new LSTM({ inputSize: 3, hiddenSize: 4 }).to('cuda');
      const x = randn([2, 1, 3]);
      const h = zeros([1, 1, 4]);
      throwsExactly(() => lstm.forward(x), Error, mixed('cuda:0', 'cpu', 'input', 'weight_ih_l0'));
      await rejectsExactly(() => lstm.forwardAsync(x), Error, mixed('cuda:0', 'cpu', 'input', 'weight_ih_l0'));
      throwsExactly(() => lstm.forward(x.cuda(), [h, h.cuda()]), Error, mixed('cuda:0', 'cpu', 'hx[0]', 'weight_ih_l0'));
      throwsExactly(() => lstm.forward(x.cuda(), [h.cuda(), h]), Error, mixed('cuda:0', 'cpu', 'hx[1]', 'weight_ih_l0'));
      const packed = packPaddedSequence(x, [2]);
      throwsExactly(() => lstm.forward(packed), Error, mixed('cuda:0', 'cpu', 'input.data', 'weight_ih_l0'));

      const cpuGru = new GRU({ inputSize: 3, hiddenSize: 4 });
      throwsExactly(() => cpuGru.forward(x.cuda()), Error, mixed('cpu', 'cuda:0', 'input', 'weight_ih_l0'));
      throwsExactly(() => cpuGru.forward(x, h.cuda()), Error, mixed('cpu', 'cuda:0', 'hx', 'weight_ih_l0'));

      const cell = new GRUCell({ inputSize: 3, hiddenSize: 4 }).to('cuda');
      throwsExactly(() => cell.forward(randn([2, 3])), Error, mixed('cuda:0', 'cpu', 'input', 'weight_ih'));
      throwsExactly(() => cell.forward(randn([2, 3]).cuda(), zeros([2, 4])), Error, mixed('cuda:0', 'cpu', 'hx', 'weight_ih'));
      await rejectsExactly(() => cell.forwardAsync(randn([2, 3])), Error, mixed('cuda:0', 'cpu', 'input', 'weight_ih'));
      // and the modules still work
      lstm.forward(x.cuda());
      cell.forward(randn([2, 3]).cuda());

      // the addon's own backstop, for direct calls lib/ never makes: a host array in a CUDA call (its pointer would
      // be used as a device pointer), a freed buffer, a buffer of another element type
      const seen: NativeForwardCall[] = [];
      const realForward = native.rnnForward;
      native.rnnForward = (call) => (seen.push(call), realForward(call));
      try {
        noGrad(() => lstm.forward(x.cuda()));
      } finally {
        native.rnnForward = realForward;
      }
      const call = seen[0];
      throwsExactly(() => native.rnnForward({ ...call, hN: new Float32Array(4) }), RangeError, 'native forward: all tensors must be on one device');
      const gone = zeros([2, 1, 3], { device: 'cuda' });
      const goneStorage = gone.storage();
      gone.dispose();
      throwsExactly(() => native.rnnForward({ ...call, input: goneStorage }), Error, 'native forward: input is a disposed CUDA tensor');
      throwsExactly(() => native.rnnForward({ ...call, hN: zeros([1, 1, 4], { device: 'cuda' }).half().storage() }), TypeError,
        'native forward: hN holds float16, expected float32 in this call');
      native.rnnForward(call);
    });

    it('loadStateDict copies into CUDA parameters from CPU or CUDA tensors, and into CPU ones from CUDA', () => {
      manualSeed(10);
      const src = new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
      const values = src.namedParameters().map(([, p]) => p.data.slice());
      const m = new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2 }).to('cuda');
      const params = m.parameters();
      m.loadStateDict(src.stateDict());
      m.parameters().forEach((p, i) => {
        assert.equal(p, params[i]);
        assert.equal(p.device, 'cuda:0');
        assert.deepEqual(p.cpu().data, values[i]);
      });
      const onDevice = Object.fromEntries(src.namedParameters().map(([k, p]) => [k, new Tensor(p.data.map((v) => v * 2), p.shape).cuda()]));
      m.loadStateDict(onDevice);
      m.parameters().forEach((p, i) => assert.deepEqual(p.cpu().data, values[i].map((v) => v * 2)));
      // the source tensors are copied, not adopted
      writeDevice(onDevice.weight_ih_l0, new Array(12).fill(0));
      assert.deepEqual(m.stateDict().weight_ih_l0.cpu().data, values[0].map((v) => v * 2));
      const cpuModule = new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
      cpuModule.loadStateDict(m.stateDict());
      cpuModule.parameters().forEach((p, i) => {
        assert.equal(p.device, 'cpu');
        assert.deepEqual(p.data, values[i].map((v) => v * 2));
      });
      // a module's own state dict loads into itself
      m.loadStateDict(m.stateDict());
      m.parameters().forEach((p, i) => assert.deepEqual(p.cpu().data, values[i].map((v) => v * 2)));
    });

    it('resetParameters on CUDA draws what it would on the CPU', () => {
      const a = new GRU({ inputSize: 3, hiddenSize: 5 });
      const b = new GRU({ inputSize: 3, hiddenSize: 5 }).to('cuda');
      manualSeed(12);
      a.resetParameters();
      manualSeed(12);
      b.resetParameters();
      b.parameters().forEach((p, i) => {
        assert.equal(p.device, 'cuda:0');
        assert.deepEqual(p.cpu().data, a.parameters()[i].data);
      });
    });

    it('module.to is refused while forwardAsync calls run', async () => {
      const m = new LSTM({ inputSize: 8, hiddenSize: 16 }).to('cuda');
      const pending = m.forwardAsync(randn([50, 4, 8]).cuda());
      throwsExactly(() => m.to('cpu'), Error, /^Cannot move LSTM while 1 forwardAsync call\(s\) are running; await them first$/);
      await pending;
      assert.equal(m.to('cpu').device, 'cpu');
    });

    it('disposing an input while forwardAsync runs is safe: the call finishes with the values it was given', async () => {
      manualSeed(13);
      const m = new GRU({ inputSize: 8, hiddenSize: 32, numLayers: 2 }).to('cuda');
      const x = randn([64, 4, 8]);
      // noGrad: the same (non-recording) kernels as forwardAsync, so the results are bitwise equal
      const [expected] = noGrad(() => m.forward(x.cuda()));
      const gx = x.cuda();
      const pending = m.forwardAsync(gx);
      gx.dispose();
      assert.equal(gx.disposed, true);
      const [out] = await pending;
      assert.deepEqual(out.cpu().data, expected.cpu().data);
    });

    it('packed sequences on CUDA, sorted and unsorted, with h0', async () => {
      manualSeed(14);
      const m = new LSTM({ inputSize: 3, hiddenSize: 5, bidirectional: true, batchFirst: true });
      const x = randn([4, 6, 3]);
      const h0: [Tensor, Tensor] = [randn([2, 4, 5]), randn([2, 4, 5])];
      const lengths = [2, 6, 3, 5];
      const cpuOut = m.forward(packPaddedSequence(x, lengths, { batchFirst: true, enforceSorted: false }), h0);
      m.to('cuda');
      const packed = packPaddedSequence(x.cuda(), lengths, { batchFirst: true, enforceSorted: false });
      assert.equal(packed.data.device, 'cuda:0');
      assert.equal(packed.batchSizes.device, 'cpu');
      for (const run of [() => m.forward(packed, [h0[0].cuda(), h0[1].cuda()]), () => m.forwardAsync(packed, [h0[0].cuda(), h0[1].cuda()])]) {
        const [out, [h, c]] = await run();
        assert.ok(out instanceof PackedSequence);
        assert.equal(out.data.device, 'cuda:0');
        assert.equal(h.device, 'cuda:0');
        const [padded, lens] = padPackedSequence(out, { batchFirst: true });
        assert.equal(padded.device, 'cuda:0');
        assert.equal(lens.device, 'cpu');
        assert.deepEqual(Array.from(lens.data, Number), lengths);
        const [cpuPadded] = padPackedSequence(cpuOut[0], { batchFirst: true });
        assert.ok(relativeError(padded.cpu(), cpuPadded) <= 1e-5);
        assert.ok(relativeError(h.cpu(), cpuOut[1][0]) <= 1e-5);
        assert.ok(relativeError(c.cpu(), cpuOut[1][1]) <= 1e-5);
      }
    });

    it('a second device, when there is one', function () {
      if (cuda.deviceCount() < 2) this.skip();
      const t = randn([3, 3]);
      const g1 = t.cuda(1);
      assert.equal(g1.device, 'cuda:1');
      assert.deepEqual(g1.to('cuda:0').cpu().data, t.data);
      assert.deepEqual(t.cuda(0).to('cuda:1').cpu().data, t.data);
      assert.equal(g1.toString().endsWith("device='cuda:1')"), true);
      const m = new GRU({ inputSize: 3, hiddenSize: 4 }).to('cuda:1');
      assert.equal(m.device, 'cuda:1');
      const [out] = m.forward(t.reshape(3, 1, 3).cuda(1));
      assert.equal(out.device, 'cuda:1');
      throwsExactly(() => m.forward(t.reshape(3, 1, 3).cuda(0)), Error, mixed('cuda:1', 'cuda:0', 'input', 'weight_ih_l0'));
      m.to('cuda:0');
      assert.equal(m.device, 'cuda:0');
      assert.equal(m.forward(t.reshape(3, 1, 3).cuda(0))[0].device, 'cuda:0');
    });
  });

  describe('cuda: every PyTorch reference case', () => {
    const names = fixtureNames();
    it('finds the whole reference set (138 cases)', () => {
      assert.equal(names.length, 138);
    });

    describe("in float32 (precision 'highest'): relative error <= 1e-5", () => {
      before(() => assert.equal(getFloat32MatmulPrecision(), 'highest'));
      for (const file of names) {
        it(file.replace(/\.safetensors$/, ''), async () => runFixture(file, 1e-5));
      }
    });

    describe("in TF32 (precision 'high'): relative error <= 2e-3", () => {
      before(() => setFloat32MatmulPrecision('high'));
      after(() => setFloat32MatmulPrecision('highest'));
      for (const file of names) {
        it(file.replace(/\.safetensors$/, ''), async () => runFixture(file, 2e-3));
      }
    });
  });
});

/** The fixture's case on CUDA: the module is loaded on the CPU then moved; inputs are moved; results come back. */
async function runFixture(file: string, tolerance: number): Promise<void> {
  const f = loadFixture(file);
  const module = buildModule(f);
  module.loadStateDict(Object.fromEntries(module.namedParameters().map(([name]) => [name, f.tensors[name]])));
  const params = module.parameters();
  assert.equal(module.to('cuda'), module);
  module.parameters().forEach((p, i) => {
    assert.equal(p, params[i]);
    assert.equal(p.device, 'cuda:0');
  });
  const c = forwardCase(f, module, {
    place: (t) => t.cuda(),
    toHost: (t, key) => {
      assert.equal(t.device, 'cuda:0', `${f.name}: ${key} is not on cuda:0`);
      return t.cpu();
    },
  });
  for (const results of [c.run(), await c.runAsync()]) compareForward(f, results, tolerance);
}

describe('cuda: empty batches, packing helpers, item', function () {
  before(function () {
    if (!cuda.isAvailable()) {
      console.log(`    CUDA tests skipped: ${whyUnavailable()}`);
      this.skip();
    }
  });

  it('an empty batch on CUDA gives empty CUDA results and zero CUDA gradients without a native forward', async () => {
    const realForward = native.rnnForward, realAsync = native.rnnForwardAsync;
    let calls = 0;
    native.rnnForward = (...args) => (calls++, realForward(...args));
    native.rnnForwardAsync = (...args) => (calls++, realAsync(...args));
    try {
      const m = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, projSize: 2 }).to('cuda');
      const x = zeros([5, 0, 3]).cuda().requiresGrad_();
      const [out, [h, c]] = m.forward(x);
      assert.deepEqual([out.shape, h.shape, c.shape], [[5, 0, 4], [4, 0, 2], [4, 0, 4]]);
      for (const t of [out, h, c]) assert.equal(t.device, 'cuda:0');
      const [aOut] = await m.forwardAsync(x);
      assert.deepEqual(aOut.shape, [5, 0, 4]);
      out.sum().add(h.sum()).add(c.sum()).backward();
      assert.equal(x.grad!.device, 'cuda:0');
      for (const p of m.parameters()) {
        assert.equal(p.grad!.device, 'cuda:0');
        assert.ok(p.grad!.cpu().data.every((v) => v === 0));
      }
      const cell = new GRUCell({ inputSize: 3, hiddenSize: 0 }).to('cuda');
      assert.deepEqual(cell.forward(randn([2, 3]).cuda()).shape, [2, 0]);
      assert.equal(calls, 0);
    } finally {
      native.rnnForward = realForward;
      native.rnnForwardAsync = realAsync;
    }
  });

  it('padSequence / packSequence / unpackSequence of CUDA tensors stay on CUDA and equal the CPU results; gradients go back', () => {
    manualSeed(94);
    const host = [randn([3, 2]), randn([1, 2]), randn([2, 2])];
    const dev = host.map((t) => t.cuda().requiresGrad_());
    const padded = padSequence(dev, { batchFirst: true, paddingValue: -1 });
    assert.equal(padded.device, 'cuda:0');
    assert.deepEqual(padded.cpu().data, padSequence(host, { batchFirst: true, paddingValue: -1 }).data);
    const packed = packSequence(dev, { enforceSorted: false });
    assert.equal(packed.data.device, 'cuda:0');
    assert.deepEqual(packed.data.cpu().data, packSequence(host, { enforceSorted: false }).data.data);
    const back = unpackSequence(packed);
    back.forEach((t, b) => assert.deepEqual(t.cpu().data, host[b].data));
    back.map((t) => t.sum()).reduce((a, b) => a.add(b)).backward();
    dev.forEach((t) => {
      assert.equal(t.grad!.device, 'cuda:0');
      assert.ok(t.grad!.cpu().data.every((v) => v === 1));
    });
    // lengths 3, 1, 2: unsorted, as PyTorch's pack_sequence refuses them with enforce_sorted=True
    const moved = packSequence(host, { enforceSorted: false }).cuda();
    assert.equal(moved.data.device, 'cuda:0');
    assert.equal(moved.cpu().data.device, 'cpu');
  });

  it('item() and tolist() read a CUDA tensor back', () => {
    assert.equal(tensor([[1.5]]).cuda().item(), 1.5);
    assert.equal(tensor([0.1]).to('cuda', 'float16').item(), 0.0999755859375);
    assert.deepEqual(tensor([[1, 2], [3, 4]]).cuda().tolist(), [[1, 2], [3, 4]]);
  });
});
