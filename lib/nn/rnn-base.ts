// Shared machinery of RNN, LSTM and GRU: options, parameters, argument checks and the native call.
// Subclasses only fix the cell kind and the public, exactly typed forward signatures.
import { ForwardArgs, RecordedArgs, native, NativeForwardSpec, NativeStorage } from '../binding';
import { isGradEnabled } from '../autograd/grad-mode';
import { needsGrad } from '../autograd/node';
import { recordRnn, recordZeroGradients } from './rnn-node';
import { checkBoolean, checkInteger, checkNumberInRange, checkOptions, describe, shapeText, sameShape } from '../checks';
import { Device, allocStorage, copyInto, copyStorage, downloadRaw, freeStorage, isDeviceBuffer } from '../cuda';
import { FloatDType } from '../half';
import { nextSeed, nextUniform } from '../random';
import { Tensor, checkFloatTensor } from '../tensor';
import { Module } from './module';
import { checkAllocation, checkRecurrenceAllocation } from '../limits';
import { PackedSequence } from './packing';

export type CellMode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';
export const NATIVE_KIND: Record<CellMode, number> = { RNN_TANH: 0, RNN_RELU: 1, LSTM: 2, GRU: 3 };
export const GATES: Record<CellMode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

export interface RNNBaseOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers?: number;
  bias?: boolean;
  batchFirst?: boolean;
  dropout?: number;
  bidirectional?: boolean;
}

const BASE_KEYS = ['inputSize', 'hiddenSize', 'numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional'] as const;

/**
 * A size of a layer module (RNN, LSTM, GRU), with PyTorch's "<size> must be greater than zero" for zero or
 * negative integers (the cells accept hiddenSize 0, as PyTorch's do).
 */
export function checkLayerSize(name: string, torchName: string, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value <= 0) {
    throw new RangeError(`${torchName} must be greater than zero: expected integer >= 1 for ${name} but received ${value}`);
  }
  return checkInteger(name, value);
}

/**
 * RNN's and RNNCell's nonlinearity (default 'tanh') with PyTorch's message for others (RangeError for an unknown
 * name, TypeError for a value that is not a string). PyTorch's RNNCell only fails at forward; here both check here.
 */
export function checkNonlinearity(value: unknown): 'tanh' | 'relu' {
  if (value === undefined || value === 'tanh' || value === 'relu') return value ?? 'tanh';
  const text = typeof value === 'string' ? `'${value}'` : describe(value);
  throw new (typeof value === 'string' ? RangeError : TypeError)(`Unknown nonlinearity ${text}. Select from 'tanh' or 'relu'.`);
}

/**
 * Fills every parameter uniform(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)) from the seeded generator, like PyTorch
 * (drawn on the host and uploaded for parameters on CUDA, so the values do not depend on the device).
 */
export function initUniform(params: Tensor<'float32'>[], hiddenSize: number): void {
  const k = 1 / Math.sqrt(hiddenSize);
  for (const p of params) {
    const d = p.device === 'cpu' ? p.data : new Float32Array(p.numel);
    for (let i = 0; i < d.length; i++) d[i] = (2 * nextUniform() - 1) * k;
    if (p.device !== 'cpu') copyInto(p.storage(), d);
  }
}

/** What one native forward call needs, and how to wrap its results. */
export interface PreparedCall<R> {
  /** null: nothing to compute (every result is empty), native code is not called. */
  args: Parameters<typeof native.rnnForward> | null;
  finish(): R;
  /** Memory only the call itself uses (permuted h0/c0, the cells' scratch output): freed when it settles. */
  temps: NativeStorage[];
  /** The results' memory: freed if the call fails. */
  results: NativeStorage[];
}

/** Frees the device memory among `storages` now (host memory is left to the GC). */
function release(storages: readonly (NativeStorage | null)[]): void {
  for (const s of storages) freeStorage(s);
}

/**
 * The call of a batch of 0 sequences (or a cell of hiddenSize 0): every result has no elements, so the native
 * forward, whose kernels assume B, H >= 1, is not called (on CUDA too: only the empty results are allocated).
 * When `record` is given the results get a node whose backward gives zero gradients (dX is zero, and so are the
 * parameters' gradients, as PyTorch's composite ops give for an empty batch).
 */
export function emptyResultCall<R>(
  device: Device, dtype: FloatDType, shapes: readonly (readonly number[] | null)[],
  record: { name: string; inputs: (Tensor<'float32'> | null)[] } | null, wrap: (results: (Tensor<'float32'> | null)[]) => R,
): PreparedCall<R> {
  return {
    args: null,
    temps: [],
    results: [],
    finish: () => {
      const results = shapes.map((shape) => (shape ? new Tensor(allocStorage(device, 0, dtype) as NativeStorage, shape, dtype as 'float32') : null));
      if (record) recordZeroGradients(record.name, device, record.inputs, results);
      return wrap(results);
    },
  };
}

/** Runs a prepared call synchronously. */
export function runPrepared<R>(call: PreparedCall<R>): R {
  try {
    if (call.args) native.rnnForward(...call.args);
  } catch (e) {
    release(call.results);
    throw e;
  } finally {
    release(call.temps);
  }
  return call.finish();
}

/** Runs a prepared call on the libuv thread pool. */
export async function runPreparedAsync<R>(call: PreparedCall<R>): Promise<R> {
  try {
    if (call.args) await native.rnnForwardAsync(...call.args);
  } catch (e) {
    release(call.results);
    throw e;
  } finally {
    release(call.temps);
  }
  return call.finish();
}

/**
 * Throws PyTorch's error when `tensor` (called `name`) is not on `refDevice`, the device of the module's first
 * parameter `refName`.
 */
export function checkSameDevice(name: string, tensor: Tensor<'float32'>, refName: string, refDevice: Device): void {
  if (tensor.device !== refDevice) {
    throw new Error(
      `Expected all tensors to be on the same device, but found at least two devices, ${refDevice} and ${tensor.device}! ` +
        `(${name} is on ${tensor.device}, ${refName} is on ${refDevice})`,
    );
  }
}

/** The module's parameters' memory for native code, each checked to be usable and on the first one's device. */
export function nativeWeights(module: Module): NativeStorage[] {
  const named = module.namedParameters();
  const [refName, ref] = named[0];
  return named.map(([name, p]) => {
    if (p.disposed) throw new Error(`parameter ${name} of ${module.constructor.name} has been disposed`);
    checkSameDevice(name, p, refName, ref.device);
    return p.storage();
  });
}

/** PyTorch's names of the floating dtypes in its dtype errors. */
const TORCH_NAME: Record<FloatDType, string> = { float32: 'Float', float16: 'Half', bfloat16: 'BFloat16' };

/**
 * The element type of a recurrent call: the parameters' (all of one dtype), which the input and the states must
 * share, with PyTorch's messages for mixes. float16 runs on CUDA only; bfloat16 runs on CUDA and on the CPU, where
 * the input and states may instead all be float32 (rounded to bfloat16 for the products; the results are then
 * float32 too, as the modules' types say: results of the input's dtype). Half precision never records for
 * backward (not implemented).
 */
export function checkCallDType(module: Module, input: Tensor<'float32'>, states: readonly (Tensor<'float32'> | null)[], recording: boolean): FloatDType {
  const named = module.namedParameters();
  const dtype = (named.length > 0 ? named[0][1].dtype : 'float32') as FloatDType;
  for (const [name, p] of named) {
    if (p.dtype !== dtype) {
      throw new TypeError(`Expected every parameter of ${module.constructor.name} to be ${dtype} like ${named[0][0]}, but ${name} is ${p.dtype}; convert the module with .to('${dtype}')`);
    }
  }
  // a bfloat16 module on the CPU also takes float32 (the input and states together: the results take their dtype)
  const inputType = input.dtype as FloatDType;
  if (inputType !== dtype && !(dtype === 'bfloat16' && module.device === 'cpu' && inputType === 'float32')) {
    throw new TypeError(`Input and parameter tensors are not the same dtype, found input tensor with ${TORCH_NAME[inputType]} and parameter tensor with ${TORCH_NAME[dtype]}`);
  }
  for (const state of states) {
    if (state && state.dtype !== inputType) {
      throw new TypeError(`Input and hidden tensors are not the same dtype, found input tensor with ${TORCH_NAME[inputType]} and hidden tensor with ${TORCH_NAME[state.dtype as FloatDType]}`);
    }
  }
  if (dtype === 'float16' && module.device === 'cpu') {
    throw new TypeError(
      `${module.constructor.name} in float16 runs on CUDA only: on the CPU convert the module to bfloat16 with .bfloat16() (inference) or to float32 with .float(), or move the module and its inputs to CUDA with .cuda()`,
    );
  }
  if (dtype !== 'float32' && recording) {
    throw new Error(
      `backward through ${dtype} recurrent modules is not implemented: run the forward under noGrad() for inference (or set requiresGrad = false on the parameters), or train in float32 (module.float())`,
    );
  }
  return dtype;
}

type HiddenState = Tensor<'float32'> | [Tensor<'float32'>, Tensor<'float32'>];

export abstract class RNNBase extends Module {
  readonly mode: CellMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly projSize: number;

  protected constructor(mode: CellMode, name: string, options: RNNBaseOptions, extraKeys: readonly string[], projSize = 0) {
    super();
    if (options && typeof options === 'object' && 'projSize' in options && !extraKeys.includes('projSize')) {
      throw new RangeError('proj_size argument is only supported for LSTM, not RNN or GRU');
    }
    const o = checkOptions(`${name} options`, options, [...BASE_KEYS, ...extraKeys]);
    if (options === undefined) throw new TypeError(`Expected an options object with inputSize and hiddenSize for ${name} but received undefined`);
    this.mode = mode;
    this.inputSize = checkLayerSize('inputSize', 'input_size', o.inputSize);
    this.hiddenSize = checkLayerSize('hiddenSize', 'hidden_size', o.hiddenSize);
    this.numLayers = o.numLayers === undefined ? 1 : checkLayerSize('numLayers', 'num_layers', o.numLayers);
    this.bias = o.bias === undefined ? true : checkBoolean('bias', o.bias);
    this.batchFirst = o.batchFirst === undefined ? false : checkBoolean('batchFirst', o.batchFirst);
    this.dropout = o.dropout === undefined ? 0 : checkNumberInRange('dropout', o.dropout, 0, 1);
    this.bidirectional = o.bidirectional === undefined ? false : checkBoolean('bidirectional', o.bidirectional);
    this.projSize = projSize;
    if (this.dropout > 0 && this.numLayers === 1) {
      process.emitWarning(
        `dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects num_layers greater than 1, but got dropout=${this.dropout} and num_layers=1`,
        { code: 'NODE_RNN_DROPOUT' },
      );
    }
    const G = GATES[mode] * this.hiddenSize;
    const realOut = this.projSize > 0 ? this.projSize : this.hiddenSize;
    const D = this.bidirectional ? 2 : 1;
    const layerFloats = (layerIn: number): number => G * (layerIn + realOut) + (this.bias ? 2 * G : 0) + this.projSize * this.hiddenSize;
    checkAllocation(`${name} parameters`, [['parameters', 4 * D * (layerFloats(this.inputSize) + (this.numLayers - 1) * layerFloats(realOut * D))]]);
    for (let layer = 0; layer < this.numLayers; layer++) {
      for (let dir = 0; dir < D; dir++) {
        const suffix = `_l${layer}${dir === 1 ? '_reverse' : ''}`;
        const layerIn = layer === 0 ? this.inputSize : realOut * D;
        this.registerParameter(`weight_ih${suffix}`, new Tensor(new Float32Array(G * layerIn), [G, layerIn]));
        this.registerParameter(`weight_hh${suffix}`, new Tensor(new Float32Array(G * realOut), [G, realOut]));
        if (this.bias) {
          this.registerParameter(`bias_ih${suffix}`, new Tensor(new Float32Array(G), [G]));
          this.registerParameter(`bias_hh${suffix}`, new Tensor(new Float32Array(G), [G]));
        }
        if (this.projSize > 0) {
          this.registerParameter(`weight_hr${suffix}`, new Tensor(new Float32Array(this.projSize * this.hiddenSize), [this.projSize, this.hiddenSize]));
        }
      }
    }
    this.resetParameters();
  }

  /** Re-draws every parameter uniform(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)). */
  resetParameters(): void {
    initUniform(this.parameters(), this.hiddenSize);
  }

  protected get directions(): number {
    return this.bidirectional ? 2 : 1;
  }

  protected get outSize(): number {
    return this.projSize > 0 ? this.projSize : this.hiddenSize;
  }

  /** The first parameter's name, the reference in device errors. */
  private get referenceName(): string {
    return this.namedParameters()[0][0];
  }

  private checkHidden(name: string, value: unknown, expected: number[], batched: boolean, label: string): NativeStorage {
    const t = checkFloatTensor(name, value);
    if (t.ndim !== expected.length) {
      const rank = batched ? '3-D' : '2-D';
      throw new RangeError(`For ${batched ? 'batched' : 'unbatched'} ${rank} input, ${name} should also be ${rank} but got ${t.ndim}-D tensor`);
    }
    if (!sameShape(t.shape, expected)) throw new RangeError(`Expected ${label} size ${shapeText(expected)}, got ${shapeText(t.shape)}`);
    checkSameDevice(name, t, this.referenceName, this.device);
    return t.storage();
  }

  /** Validates (input, hx), allocates the results and returns the native arguments plus a result wrapper. */
  /** `record`: build a graph node when grad mode is on and something requires grad (sync forward only). */
  protected prepare(input: unknown, hx: unknown, record = false): PreparedCall<[Tensor<'float32'> | PackedSequence, HiddenState]> {
    const lstm = this.mode === 'LSTM';
    const name = this.constructor.name;
    const L = this.numLayers, D = this.directions, H = this.hiddenSize, P = this.outSize;
    let data: Tensor<'float32'>;
    let T: number, B: number;
    let batched = true;
    let batchSizes: Int32Array | null = null;
    let packed: PackedSequence | null = null;
    if (input instanceof PackedSequence) {
      packed = input;
      data = checkFloatTensor('input.data', input.data);
      checkSameDevice('input.data', data, this.referenceName, this.device);
      if (data.ndim !== 2) throw new RangeError(`${name}: Expected packed input data to be 2D, got ${data.ndim}D instead`);
      const sizes = input.batchSizeList();
      sizes.forEach((s, i) => checkInteger(`input.batchSizes[${i}]`, s, { min: 1, max: i === 0 ? Number.MAX_SAFE_INTEGER : sizes[i - 1] }));
      if (sizes.length === 0) throw new RangeError('Expected a non-empty PackedSequence for input');
      if (sizes.reduce((a, b) => a + b, 0) !== data.shape[0]) {
        throw new RangeError(`Expected input.data to have sum(batchSizes) = ${sizes.reduce((a, b) => a + b, 0)} rows but received ${data.shape[0]}`);
      }
      T = sizes.length;
      B = sizes[0];
      batchSizes = Int32Array.from(sizes);
      checkPermutation('input.sortedIndices', input.sortedIndices, B);
      checkPermutation('input.unsortedIndices', input.unsortedIndices, B);
    } else {
      data = checkFloatTensor('input', input);
      checkSameDevice('input', data, this.referenceName, this.device);
      if (data.ndim !== 2 && data.ndim !== 3) throw new RangeError(`${name}: Expected input to be 2D or 3D, got ${data.ndim}D instead`);
      batched = data.ndim === 3;
      T = batched && this.batchFirst ? data.shape[1] : data.shape[0];
      B = batched ? (this.batchFirst ? data.shape[0] : data.shape[1]) : 1;
    }
    const features = data.shape[data.ndim - 1];
    if (features !== this.inputSize) throw new RangeError(`input.size(-1) must be equal to input_size. Expected ${this.inputSize}, got ${features}`);
    if (T === 0) throw new RangeError(`${name}: Expected sequence length to be larger than 0 in RNN, got input of shape ${shapeText(data.shape)}`);

    const hShape = batched ? [L * D, B, P] : [L * D, P];
    const cShape = batched ? [L * D, B, H] : [L * D, H];
    let h0: NativeStorage | null = null;
    let c0: NativeStorage | null = null;
    let h0Tensor: Tensor<'float32'> | null = null;
    let c0Tensor: Tensor<'float32'> | null = null;
    const temps: NativeStorage[] = [];
    if (hx !== undefined && hx !== null) {
      h0Tensor = (lstm ? (hx as Tensor<'float32'>[])[0] : hx) as Tensor<'float32'>;
      c0Tensor = lstm ? (hx as Tensor<'float32'>[])[1] : null;
      if (lstm) {
        if (!Array.isArray(hx) || hx.length !== 2) throw new TypeError(`Expected hx to be a pair [h0, c0] of Tensors for LSTM but received ${describe(hx)}`);
        h0 = this.checkHidden('hx[0]', hx[0], hShape, batched, 'hidden[0]');
        c0 = this.checkHidden('hx[1]', hx[1], cShape, batched, 'hidden[1]');
      } else {
        h0 = this.checkHidden('hx', hx, hShape, batched, 'hidden');
      }
      if (packed?.sortedIndices) {
        h0 = permuteBatch(h0, packed.sortedIndices.data, L * D, P, h0Tensor.dtype as FloatDType);
        temps.push(h0);
        if (c0) {
          c0 = permuteBatch(c0, packed.sortedIndices.data, L * D, H, (c0Tensor as Tensor).dtype as FloatDType);
          temps.push(c0);
        }
      }
    }

    const rows = data.shape[0] * (data.ndim === 3 ? data.shape[1] : 1);
    const params = this.parameters();
    const recording = record && isGradEnabled() &&
      (params.some((p) => p.requiresGrad) || needsGrad(data) || needsGrad(h0Tensor) || needsGrad(c0Tensor));
    let dtype: FloatDType;
    try {
      dtype = checkCallDType(this, data, [h0Tensor, c0Tensor], recording);
      checkRecurrenceAllocation(`${name}.forward`, { mode: this.mode, rows, batch: B, layers: L, directions: D, hiddenSize: H, outSize: P, saving: recording });
    } catch (e) {
      release(temps);
      throw e;
    }
    // results take the input's dtype (float32 for a float32 input to a bfloat16 module on the CPU)
    const results = data.dtype as FloatDType;
    const outShape = packed ? [rows, D * P] : batched ? [...data.shape.slice(0, 2), D * P] : [T, D * P];
    if (B === 0) {
      nativeWeights(this); // the same parameter checks as a real call (disposed, devices)
      return emptyResultCall(this.device, results, [outShape, hShape, lstm ? cShape : null],
        recording ? { name, inputs: [data, h0Tensor, c0Tensor, ...params] } : null,
        ([out, hOut, cOut]) => (cOut ? [out!, [hOut!, cOut]] : [out!, hOut!]));
    }
    let weights: NativeStorage[], output: NativeStorage, hN: NativeStorage, cN: NativeStorage | null;
    const allocated: NativeStorage[] = [];
    const alloc = (n: number, type: FloatDType = 'float32'): NativeStorage => {
      const s = allocStorage(this.device, n, type) as NativeStorage;
      allocated.push(s);
      return s;
    };
    try {
      weights = nativeWeights(this);
      output = alloc(rows * D * P, results);
      hN = alloc(L * D * B * P, results);
      cN = lstm ? alloc(L * D * B * H, results) : null;
    } catch (e) {
      release([...temps, ...allocated]); // e.g. a disposed parameter, or out of device memory
      throw e;
    }
    const spec: NativeForwardSpec = {
      kind: NATIVE_KIND[this.mode], inputSize: this.inputSize, hiddenSize: H, projSize: this.projSize, numLayers: L,
      bidirectional: this.bidirectional, bias: this.bias, batchFirst: batched && this.batchFirst && !packed,
      seqLen: T, batch: B, dropout: this.dropout, training: this.training,
      seed: this.training && this.dropout > 0 && L > 1 ? nextSeed() : 0,
      ...(dtype !== 'float32' ? { dtype } : {}),
    };
    const unsorted = packed?.unsortedIndices?.data;
    /** Sorted states a recorded call's backward still reads (its arguments): freed with the graph node. */
    const keptSorted: NativeStorage[] = [];
    /** The state back in the caller's batch order (a new buffer; the sorted one is freed or kept for backward). */
    const unsort = (state: NativeStorage, size: number): NativeStorage => {
      if (!unsorted) return state;
      const out = permuteBatch(state, unsorted, L * D, size, results);
      if (saved) keptSorted.push(state);
      else freeStorage(state);
      return out;
    };
    const args: ForwardArgs = [spec, weights, data.storage(), h0, c0, output, hN, cN, batchSizes];
    const saved = recording ? alloc(native.rnnSavedSize(...args)) : null;
    if (saved) args.push(saved);
    const sorted = packed?.sortedIndices?.data;
    return {
      args,
      // a recorded call's backward reads its arguments again: the graph node frees them once it has run
      temps: saved ? [] : temps,
      results: cN ? [output, hN, cN] : [output, hN],
      finish: () => {
        // (host half results are Uint16Arrays, which need their dtype named)
        const hOut = new Tensor(unsort(hN, P) as NativeStorage, hShape, results as 'float32');
        const out = new Tensor(output, outShape, results as 'float32');
        const cOut = cN ? new Tensor(unsort(cN, H) as NativeStorage, cShape, results as 'float32') : null;
        if (saved) {
          recordRnn({
            name: this.constructor.name, args: args as RecordedArgs, owned: [saved, ...temps, ...keptSorted], input: data, h0: h0Tensor, c0: c0Tensor, params,
            outputs: [out, hOut, cOut],
            permute: sorted && unsorted ? {
              toSorted: (g) => permuteBatch(g, sorted, L * D, g.length / (L * D * B), 'float32'),
              toCaller: (g) => permuteBatch(g, unsorted, L * D, g.length / (L * D * B), 'float32'),
            } : undefined,
          });
        }
        const result = packed ? new PackedSequence(out, packed.batchSizes, packed.sortedIndices, packed.unsortedIndices) : out;
        return cOut ? [result, [hOut, cOut]] : [result, hOut];
      },
    };
  }

  protected run<R>(call: PreparedCall<R>): R {
    return runPrepared(call);
  }

  protected runAsync<R>(call: PreparedCall<R>): Promise<R> {
    return this.track(() => runPreparedAsync(call));
  }
}

function checkPermutation(name: string, index: Tensor<'int64'> | null, size: number): void {
  if (index === null) return;
  const seen = new Uint8Array(size);
  const values = index.disposed ? [] : Array.from(index.data, Number);
  if (values.length !== size || values.some((v) => !Number.isInteger(v) || v < 0 || v >= size || seen[v]++)) {
    throw new RangeError(`Expected ${name} to be a permutation of 0..${size - 1}`);
  }
}

/**
 * out[:, k] = state[:, index[k]] for a [layers, B, size] state of `dtype` (PyTorch's permute_hidden), in new
 * memory on the state's device (a CUDA state is downloaded, permuted on the host and uploaded).
 */
function permuteBatch(state: NativeStorage, index: BigInt64Array, layers: number, size: number, dtype: FloatDType): NativeStorage {
  const host = isDeviceBuffer(state) ? downloadRaw(state) : state;
  const B = index.length;
  const out = host instanceof Uint16Array ? new Uint16Array(host.length) : new Float32Array(host.length);
  for (let l = 0; l < layers; l++) {
    for (let k = 0; k < B; k++) {
      const from = (l * B + Number(index[k])) * size;
      (out as Float32Array).set((host as Float32Array).subarray(from, from + size), (l * B + k) * size);
    }
  }
  return (isDeviceBuffer(state) ? copyStorage(out, `cuda:${state.device}`, dtype) : out) as NativeStorage;
}

export const RNN_BASE_KEYS = BASE_KEYS;
