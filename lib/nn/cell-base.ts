// Shared machinery of RNNCell, LSTMCell and GRUCell: one step of the layer driver (T = 1).
import { NativeStorage } from '../binding';
import { checkBoolean, checkInteger, checkOptions, describe, sameShape, shapeText } from '../checks';
import { Tensor, checkFloatTensor } from '../tensor';
import { Module } from './module';
import { checkAllocation } from '../limits';
import { initUniform } from './rnn-base';
import { quantizedState } from '../quantization/state';
import { preparedState } from '../inference/state';
import { CellMode, GATES, PreparedCall, checkSameDevice, nativeWeights, prepareRecurrentCall, runPrepared, runPreparedAsync } from './recurrent-call';

export interface CellBaseOptions {
  inputSize: number;
  hiddenSize: number;
  bias?: boolean;
}

export abstract class CellBase extends Module {
  readonly mode: CellMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;

  protected constructor(mode: CellMode, name: string, options: CellBaseOptions, extraKeys: readonly string[]) {
    super();
    if (options === undefined) throw new TypeError(`Expected an options object with inputSize and hiddenSize for ${name} but received undefined`);
    const o = checkOptions(`${name} options`, options, ['inputSize', 'hiddenSize', 'bias', ...extraKeys]);
    this.mode = mode;
    this.inputSize = checkInteger('inputSize', o.inputSize);
    // hiddenSize 0 is allowed, as in PyTorch: the parameters and every result are then empty
    this.hiddenSize = checkInteger('hiddenSize', o.hiddenSize, { min: 0 });
    this.bias = o.bias === undefined ? true : checkBoolean('bias', o.bias);
    const G = GATES[mode] * this.hiddenSize;
    checkAllocation(`${name} parameters`, [['parameters', 4 * (G * (this.inputSize + this.hiddenSize) + (this.bias ? 2 * G : 0))]]);
    this.registerParameter('weight_ih', new Tensor(new Float32Array(G * this.inputSize), [G, this.inputSize]));
    this.registerParameter('weight_hh', new Tensor(new Float32Array(G * this.hiddenSize), [G, this.hiddenSize]));
    if (this.bias) {
      this.registerParameter('bias_ih', new Tensor(new Float32Array(G), [G]));
      this.registerParameter('bias_hh', new Tensor(new Float32Array(G), [G]));
    }
    this.resetParameters();
  }

  /** Re-draws every parameter uniform(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)). */
  resetParameters(): void {
    initUniform(this.parameters(), this.hiddenSize);
  }

  private checkState(name: string, value: unknown, expected: number[]): NativeStorage {
    const t = checkFloatTensor(name, value);
    if (t.ndim !== expected.length) {
      throw new RangeError(`${this.constructor.name}: Expected ${name} to be ${expected.length}D, got ${t.ndim}D instead`);
    }
    if (expected.length === 2 && t.shape[0] !== expected[0]) {
      throw new RangeError(`Input batch size ${expected[0]} doesn't match ${name} batch size ${t.shape[0]}`);
    }
    if (!sameShape(t.shape, expected)) {
      throw new RangeError(`${name} has inconsistent hidden_size: got ${t.shape[t.ndim - 1]}, expected ${this.hiddenSize} (shape ${shapeText(t.shape)})`);
    }
    checkSameDevice(name, t, 'weight_ih', this.device);
    return t.storage();
  }

  /** Validates (input, hx) and returns the native arguments; results are h' (and c' for LSTM). */
  protected prepareStep(input: unknown, hx: unknown, record = false): PreparedCall<Tensor | [Tensor, Tensor]> {
    const lstm = this.mode === 'LSTM';
    const name = this.constructor.name;
    const x = checkFloatTensor('input', input);
    checkSameDevice('input', x, 'weight_ih', this.device);
    if (x.ndim !== 1 && x.ndim !== 2) throw new RangeError(`${name}: Expected input to be 1D or 2D, got ${x.ndim}D instead`);
    const batched = x.ndim === 2;
    const B = batched ? x.shape[0] : 1;
    const features = x.shape[x.ndim - 1];
    if (features !== this.inputSize) throw new RangeError(`input has inconsistent input_size: got ${features} expected ${this.inputSize}`);
    const H = this.hiddenSize;
    const stateShape = batched ? [B, H] : [H];
    let h0: NativeStorage | null = null;
    let c0: NativeStorage | null = null;
    let h0Tensor: Tensor | null = null;
    let c0Tensor: Tensor | null = null;
    if (hx !== undefined && hx !== null) {
      h0Tensor = (lstm ? (hx as Tensor[])[0] : hx) as Tensor;
      c0Tensor = lstm ? (hx as Tensor[])[1] : null;
      if (lstm) {
        if (!Array.isArray(hx) || hx.length !== 2) throw new TypeError(`Expected hx to be a pair [h, c] of Tensors for LSTMCell but received ${describe(hx)}`);
        h0 = this.checkState('hx[0]', hx[0], stateShape);
        c0 = this.checkState('hx[1]', hx[1], stateShape);
      } else {
        h0 = this.checkState('hx', hx, stateShape);
      }
    }
    // the parameters are checked before the dtypes here (RNNBase checks them after); a quantized cell has none
    const weights = quantizedState(this) || preparedState(this) ? undefined : nativeWeights(this);
    return prepareRecurrentCall({
      module: this, name, mode: this.mode, input: x, h0: h0Tensor, c0: c0Tensor, h0Storage: h0, c0Storage: c0,
      // one step of the layer driver (T = 1), whose output is h' again: scratch memory (outShape null)
      spec: {
        inputSize: this.inputSize, hiddenSize: H, projSize: 0, numLayers: 1, bidirectional: false, bias: this.bias,
        batchFirst: false, seqLen: 1, batch: B, dropout: 0, training: false,
      },
      rows: B, batchSizes: null, outShape: null, hShape: stateShape, cShape: stateShape, temps: [], weights, record,
      wrap: (_, hOut, cOut) => (cOut ? [hOut, cOut] : hOut),
    });
  }

  protected runStep<R>(call: PreparedCall<unknown>): R {
    return runPrepared(call) as R;
  }

  protected runStepAsync<R>(call: PreparedCall<unknown>): Promise<R> {
    return this.track(async () => (await runPreparedAsync(call)) as R);
  }
}
