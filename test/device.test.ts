// Devices everywhere (no GPU needed): device strings, CPU no-ops, the errors a missing CUDA build, driver or
// device gives, and the matmul precision setting. The CUDA computations themselves are in cuda.test.ts.
import { strict as assert } from 'node:assert';
import {
  GRU, GRUCell, LSTM, RNN, Tensor, cuda, fromBuffer, full, getFloat32MatmulPrecision, manualSeed, ones, rand, randn,
  setFloat32MatmulPrecision, tensor, zeros,
} from '../lib/index';
import { cudaBuildInfo } from '../lib/cuda';
import { native } from '../lib/binding';
import { throwsExactly, escapeRegExp } from './helpers/assertions';

const escape = escapeRegExp;

const BAD_STRINGS = ['gpu', 'cuda:x', 'cuda:-1', 'cuda:', 'CUDA', 'cuda:1.5', 'cpu:0', ' cuda', ''];
const NOT_STRINGS: unknown[] = [0, null, {}, ['cuda'], true];

describe('device: CPU tensors and modules', () => {
  it('tensors and modules start on the CPU', () => {
    assert.equal(zeros([2]).device, 'cpu');
    assert.equal(randn([2, 3]).device, 'cpu');
    assert.equal(tensor([1, 2]).device, 'cpu');
    assert.equal(tensor(BigInt64Array.from([1n])).device, 'cpu');
    assert.equal(new LSTM({ inputSize: 2, hiddenSize: 3 }).device, 'cpu');
    assert.equal(new GRUCell({ inputSize: 2, hiddenSize: 3 }).device, 'cpu');
  });

  it("to('cpu') and cpu() on a CPU tensor return the tensor itself (like PyTorch)", () => {
    const t = randn([2, 3]);
    assert.equal(t.to('cpu'), t);
    assert.equal(t.cpu(), t);
    const i = tensor(BigInt64Array.from([3n, 1n]));
    assert.equal(i.to('cpu'), i);
    assert.equal(i.cpu(), i);
  });

  it("to('cpu') on a disposed tensor throws like any other use", () => {
    const t = ones([2]);
    t.dispose();
    throwsExactly(() => t.to('cpu'), Error, /^Tensor has been disposed/);
  });

  it("module.to('cpu') on a CPU module returns it and keeps every parameter (same objects, same values)", () => {
    manualSeed(3);
    const m = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
    const before = m.namedParameters();
    const values = before.map(([, p]) => p.data.slice());
    assert.equal(m.to('cpu'), m);
    assert.equal(m.cpu(), m);
    assert.equal(m.device, 'cpu');
    m.namedParameters().forEach(([k, p], i) => {
      assert.equal(p, before[i][1], `${k} is not the same Tensor`);
      assert.deepEqual(p.data, values[i]);
    });
  });

  it('factories take { device: "cpu" }', () => {
    assert.deepEqual(zeros([2], { device: 'cpu' }).toArray(), [0, 0]);
    assert.deepEqual(ones([2], { device: 'cpu', dtype: 'int64' }).toArray(), [1n, 1n]);
    assert.deepEqual(full([1], 2.5, { device: 'cpu' }).toArray(), [2.5]);
    assert.deepEqual(tensor([[1, 2]], undefined, { device: 'cpu' }).toArray(), [[1, 2]]);
    assert.equal(rand([3], { device: 'cpu' }).device, 'cpu');
    assert.equal(randn([3], { device: 'cpu' }).device, 'cpu');
    const shared = new Float32Array([1, 2]);
    const t = tensor(shared, undefined, { device: 'cpu' });
    shared[0] = 9;
    assert.equal(t.data[0], 9, 'a Float32Array is still shared on the CPU');
    const buf = Buffer.alloc(8);
    assert.equal(fromBuffer(buf, [2], { device: 'cpu' }).device, 'cpu');
  });

  it('rand / randn with { device: "cpu" } draw the same values as without options', () => {
    manualSeed(5);
    const a = [rand([4]).data, randn([4]).data];
    manualSeed(5);
    const b = [rand([4], { device: 'cpu' }).data, randn([4], { device: 'cpu' }).data];
    assert.deepEqual(a, b);
  });

  it('rand / randn reject unknown options', () => {
    throwsExactly(() => rand([2], { dtype: 'int64' } as never), RangeError, /^Expected one of 'float32', 'float16', 'bfloat16' for dtype but received "int64"$/);
    throwsExactly(() => rand([2], { dtpye: 'float32' } as never), TypeError, /^Unknown option "dtpye" for rand options; expected one of dtype, device$/);
    throwsExactly(() => randn([2], { devcie: 'cpu' } as never), TypeError, /^Unknown option "devcie" for randn options/);
  });
});

describe('device: bad device arguments', () => {
  const cpuTensor = () => randn([2]);
  const targets: [string, (d: unknown) => unknown][] = [
    ['tensor.to', (d) => cpuTensor().to(d as never)],
    ['zeros', (d) => zeros([2], { device: d as never })],
    ['ones', (d) => ones([2], { device: d as never })],
    ['full', (d) => full([2], 1, { device: d as never })],
    ['rand', (d) => rand([2], { device: d as never })],
    ['randn', (d) => randn([2], { device: d as never })],
    ['tensor', (d) => tensor([1, 2], undefined, { device: d as never })],
    ['tensor(Float32Array)', (d) => tensor(new Float32Array(2), undefined, { device: d as never })],
    ['fromBuffer', (d) => fromBuffer(Buffer.alloc(8), [2], { device: d as never })],
    ['module.to', (d) => new GRU({ inputSize: 2, hiddenSize: 2 }).to(d as never)],
  ];
  for (const [name, call] of targets) {
    it(`${name}: malformed device strings are RangeErrors, non-strings TypeErrors`, () => {
      for (const bad of BAD_STRINGS) {
        throwsExactly(() => call(bad), RangeError, new RegExp(`^Expected a device \\('cpu', 'cuda' or 'cuda:N' with N a non-negative integer\\) for device but received ${escape(JSON.stringify(bad))}$`));
      }
      // to() also takes an options object ({} changes nothing), tested in half.test.ts
      for (const bad of NOT_STRINGS.filter((v) => !(name.endsWith('.to') && v !== null && typeof v === 'object' && !Array.isArray(v)))) {
        throwsExactly(() => call(bad), TypeError, /^Expected a device \('cpu', 'cuda' or 'cuda:N'\) for device but received /);
      }
    });
  }

  it('tensor.cuda(index) wants a non-negative integer', () => {
    throwsExactly(() => randn([2]).cuda(-1), RangeError, /^Expected integer >= 0 for index but received -1$/);
    throwsExactly(() => randn([2]).cuda(1.5), TypeError, /^Expected integer for index but received 1\.5$/);
  });

  it('int64 tensors are CPU-only, whatever the build', () => {
    const i = tensor(BigInt64Array.from([1n, 2n]));
    throwsExactly(() => i.to('cuda'), TypeError, /^int64 tensors are CPU-only \(they hold lengths and indices\); cannot put one on cuda:0$/);
    throwsExactly(() => i.cuda(1), TypeError, /cannot put one on cuda:1$/);
    throwsExactly(() => zeros([2], { dtype: 'int64', device: 'cuda' }), TypeError, /^int64 tensors are CPU-only/);
    throwsExactly(() => tensor(BigInt64Array.from([1n]), undefined, { device: 'cuda:0' }), TypeError, /^int64 tensors are CPU-only/);
    throwsExactly(() => tensor([1], undefined, { dtype: 'int64', device: 'cuda' }), TypeError, /^int64 tensors are CPU-only/);
  });

  it('fromBuffer shares host memory, so a CUDA device is refused whatever the build', () => {
    throwsExactly(
      () => fromBuffer(Buffer.alloc(8), [2], { device: 'cuda' as never }),
      Error,
      /^fromBuffer makes CPU tensors only \(the tensor shares the buffer's host memory\), so device "cuda" is not supported; copy it to the GPU with fromBuffer\(buffer, shape\)\.to\("cuda"\)$/,
    );
  });

  it('a rejected module.to leaves the module on its device with its parameters', () => {
    const m = new RNN({ inputSize: 2, hiddenSize: 3 });
    const before = m.parameters();
    assert.throws(() => m.to('gpu' as never), RangeError);
    assert.equal(m.device, 'cpu');
    m.parameters().forEach((p, i) => {
      assert.equal(p, before[i]);
      assert.equal(p.device, 'cpu');
      assert.ok(p.data instanceof Float32Array);
    });
    m.forward(randn([2, 1, 2]));
  });

  it('module.to is refused while forwardAsync calls run, like loadStateDict', async () => {
    const m = new LSTM({ inputSize: 8, hiddenSize: 16 });
    const pending = m.forwardAsync(randn([20, 4, 8]));
    throwsExactly(() => m.to('cpu'), Error, /^Cannot move LSTM while 1 forwardAsync call\(s\) are running; await them first$/);
    await pending;
    assert.equal(m.to('cpu'), m);
  });
});

describe('device: cuda queries and errors by environment', () => {
  const info = cudaBuildInfo();
  const count = cuda.deviceCount();

  it('cuda.isAvailable() agrees with the build and the device count', () => {
    assert.equal(typeof cuda.isAvailable(), 'boolean');
    assert.ok(Number.isInteger(count) && count >= 0);
    assert.equal(cuda.isAvailable(), info.built && count > 0);
    if (!info.built) assert.equal(count, 0);
  });

  describe('a build without CUDA', function () {
    before(function () {
      if (info.built) this.skip();
    });
    const message = new RegExp(
      `^node-rnn was built without CUDA( \\(.+\\))?\\. Rebuild with CUDA: install the CUDA toolkit with cuBLAS and run \`npm run build:native -- --CDRNN_CUDA=ON\`$`,
    );

    it('reports no CUDA: isAvailable() false, deviceCount() 0', () => {
      assert.equal(cuda.isAvailable(), false);
      assert.equal(cuda.deviceCount(), 0);
      assert.equal(info.built, false);
      assert.ok(info.reason.length > 0, 'the build says why CUDA is missing');
    });

    it('the message carries the build\'s reason', () => {
      throwsExactly(() => zeros([2], { device: 'cuda' }), Error, new RegExp(`^node-rnn was built without CUDA \\(${escape(info.reason)}\\)\\. `));
    });

    it('every way of asking for a CUDA device throws the "built without CUDA" message', () => {
      const t = randn([2, 3]);
      const m = new LSTM({ inputSize: 3, hiddenSize: 4 });
      const before = m.parameters();
      const calls: (() => unknown)[] = [
        () => zeros([2], { device: 'cuda' }),
        () => ones([2], { device: 'cuda:0' }),
        () => full([2], 3, { device: 'cuda:1' }),
        () => rand([2], { device: 'cuda' }),
        () => randn([2], { device: 'cuda' }),
        () => tensor([1, 2], undefined, { device: 'cuda' }),
        () => tensor(new Float32Array(2), undefined, { device: 'cuda' }),
        () => t.to('cuda'),
        () => t.to('cuda:0'),
        () => t.cuda(),
        () => m.to('cuda'),
        () => m.cuda(),
        () => cuda.deviceName(),
        () => cuda.synchronize(),
      ];
      for (const call of calls) throwsExactly(call, Error, message);
      assert.equal(m.device, 'cpu');
      m.parameters().forEach((p, i) => assert.equal(p, before[i]));
      assert.equal(t.device, 'cpu');
    });

    it('the native tensor-op primitives exist and throw the "built without CUDA" error', () => {
      const names = ['cudaStridedCopy', 'cudaUnary', 'cudaUnaryBackward', 'cudaBinary', 'cudaSumMiddle', 'cudaSoftmax', 'cudaSoftmaxBackward',
        'cudaIndexSelect', 'cudaIndexAdd', 'cudaGemmBatched', 'cudaBceWithLogits', 'cudaBceWithLogitsBackward'] as const;
      for (const name of names) {
        const fn = native[name] as unknown as () => void;
        assert.equal(typeof fn, 'function', name);
        throwsExactly(() => fn(), Error, new RegExp(`^node-rnn was built without CUDA \\(${escape(info.reason)}\\)$`));
      }
    });
  });

  describe('a CUDA build without a usable driver or device', function () {
    before(function () {
      if (!info.built || count > 0) this.skip();
    });

    it('explains that CUDA is not available and points at the driver', () => {
      assert.equal(cuda.isAvailable(), false);
      const message = /^CUDA is not available: .+\. Check the NVIDIA driver \(nvidia-smi\)$/;
      throwsExactly(() => zeros([2], { device: 'cuda' }), Error, message);
      throwsExactly(() => randn([2]).to('cuda'), Error, message);
      throwsExactly(() => new GRU({ inputSize: 2, hiddenSize: 2 }).to('cuda'), Error, message);
    });
  });

  describe('a CUDA build with devices', function () {
    before(function () {
      if (!info.built || count === 0) this.skip();
    });

    it('asking for a device index past the last is a RangeError naming the count', () => {
      const message = new RegExp(`^CUDA device ${count} requested but only ${count} device\\(s\\) found$`);
      throwsExactly(() => zeros([2], { device: `cuda:${count}` }), RangeError, message);
      throwsExactly(() => randn([2]).cuda(count), RangeError, message);
      throwsExactly(() => new GRU({ inputSize: 2, hiddenSize: 2 }).to(`cuda:${count}`), RangeError, message);
      throwsExactly(() => cuda.deviceName(count), RangeError, message);
      throwsExactly(() => randn([2]).to('cuda:99'), RangeError, new RegExp(`^CUDA device 99 requested but only ${count} device\\(s\\) found$`));
    });
  });

  it('cuda.deviceName / synchronize validate the index', () => {
    throwsExactly(() => cuda.deviceName(-1), RangeError, /^Expected integer >= 0 for device index but received -1$/);
    throwsExactly(() => cuda.synchronize('0' as never), TypeError, /^Expected integer for device index but received "0"$/);
  });

  it('the cuda object is frozen', () => {
    assert.ok(Object.isFrozen(cuda));
  });
});

describe('device: float32 matmul precision', () => {
  afterEach(() => setFloat32MatmulPrecision('highest'));

  it("defaults to 'highest', can be set to 'high' and back", () => {
    assert.equal(getFloat32MatmulPrecision(), 'highest');
    setFloat32MatmulPrecision('high');
    assert.equal(getFloat32MatmulPrecision(), 'high');
    setFloat32MatmulPrecision('highest');
    assert.equal(getFloat32MatmulPrecision(), 'highest');
  });

  it('rejects other values', () => {
    throwsExactly(() => setFloat32MatmulPrecision('medium' as never), RangeError, /^Expected one of 'highest', 'high' for precision but received "medium"$/);
    throwsExactly(() => setFloat32MatmulPrecision(1 as never), RangeError, /^Expected one of 'highest', 'high' for precision but received 1$/);
    assert.equal(getFloat32MatmulPrecision(), 'highest');
  });

  it("CPU results do not depend on it", () => {
    manualSeed(9);
    const m = new LSTM({ inputSize: 5, hiddenSize: 7, numLayers: 2 });
    const x = randn([4, 3, 5]);
    const [a] = m.forward(x);
    setFloat32MatmulPrecision('high');
    const [b] = m.forward(x);
    assert.deepEqual(b.data, a.data);
  });
});

describe('device: tensor constructor', () => {
  it('still wraps typed arrays on the CPU and rejects other data', () => {
    assert.equal(new Tensor(new Float32Array(2), [2]).device, 'cpu');
    throwsExactly(() => new Tensor({ device: 0, length: 2 } as never, [2]), TypeError, /^Expected a Float32Array, Uint16Array or BigInt64Array for data but received an object$/);
  });
});
