// Shared machinery of RNN, LSTM and GRU: options, parameters and their own argument checks (input layout, packed
// sequences, hx); the native call is lib/nn/recurrent-call.ts's. Subclasses only fix the cell kind and the public,
// exactly typed forward signatures.
import { NativeStorage } from '../binding';
import { checkBoolean, checkInteger, checkNumberInRange, checkOptions, describe, shapeText, sameShape } from '../checks';
import { copyInto } from '../cuda';
import { FloatDType } from '../half';
import { nextUniform } from '../random';
import { Tensor, checkFloatTensor } from '../tensor';
import { Module } from './module';
import { checkAllocation } from '../limits';
import { PackedSequence } from './packing';
import { CellMode, GATES, PreparedCall, checkSameDevice, permuteBatch, prepareRecurrentCall, runPrepared, runPreparedAsync } from './recurrent-call';

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

  /** The first parameter's name, the reference in device errors (a quantized module has none: PyTorch's first). */
  private get referenceName(): string {
    return this.namedParameters()[0]?.[0] ?? 'weight_ih_l0';
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

  /**
   * Checks (input, hx) with PyTorch's messages and hands the call to prepareRecurrentCall. `record`: build a graph
   * node when grad mode is on and something requires grad (sync forward only).
   */
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

    const outShape = packed ? [data.shape[0], D * P] : batched ? [...data.shape.slice(0, 2), D * P] : [T, D * P];
    return prepareRecurrentCall({
      module: this, name, mode: this.mode, input: data, h0: h0Tensor, c0: c0Tensor, h0Storage: h0, c0Storage: c0,
      spec: {
        inputSize: this.inputSize, hiddenSize: H, projSize: this.projSize, numLayers: L, bidirectional: this.bidirectional,
        bias: this.bias, batchFirst: batched && this.batchFirst && !packed, seqLen: T, batch: B, dropout: this.dropout, training: this.training,
      },
      rows: data.shape[0] * (data.ndim === 3 ? data.shape[1] : 1), batchSizes, outShape, hShape, cShape, temps,
      sorted: packed?.sortedIndices?.data, unsorted: packed?.unsortedIndices?.data, record,
      wrap: (out, hOut, cOut) => {
        const result = packed ? new PackedSequence(out!, packed.batchSizes, packed.sortedIndices, packed.unsortedIndices) : out!;
        return cOut ? [result, [hOut, cOut]] : [result, hOut];
      },
    });
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

export const RNN_BASE_KEYS = BASE_KEYS;
