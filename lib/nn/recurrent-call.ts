// The one recurrent call path that RNN, LSTM, GRU and the cells share: from what a module computed of its own
// arguments (shapes, states, spec fields) to the native forward's one call object, the results and the graph node.
// The cell kinds' numbers and gate counts are native code's (native/binding/contract_binding.cpp), asked once here,
// and so is the size of the saved workspace (rnnSavedSize), asked per recording call.
import { NativeForwardCall, NativeForwardSpec, NativeStorage, native } from '../binding';
import { isGradEnabled } from '../autograd/grad-mode';
import { needsGrad } from '../autograd/node';
import { Device, allocResultStorage, allocStorage, copyStorage, downloadRaw, freeStorage, isDeviceBuffer } from '../cuda';
import { FloatDType } from '../half';
import { checkRecurrenceAllocation } from '../limits';
import { nextSeed } from '../random';
import { Tensor } from '../tensor';
import { Module } from './module';
import { recordRnn, recordZeroGradients } from './rnn-node';
import { refuseRecording } from '../quantization/refuse';
import { nativeQuantizedWeights, quantizedState } from '../quantization/state';
import { preparedState } from '../inference/state';

export const CELL_MODES = ['RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU'] as const;
export type CellMode = (typeof CELL_MODES)[number];

/** native.rnnContract(), checked to name every mode lib/ knows (a build from other sources may not). */
function readContract(): { kinds: Record<CellMode, number>; gates: Record<CellMode, number> } {
  const contract = native.rnnContract();
  for (const mode of CELL_MODES) {
    if (!Number.isInteger(contract.kinds[mode]) || !Number.isInteger(contract.gates[mode])) {
      throw new Error(`node-rnn: the native build's rnnContract() lacks cell kind ${mode}: it is from other sources, rebuild it (npm run build:native)`);
    }
  }
  return contract as { kinds: Record<CellMode, number>; gates: Record<CellMode, number> };
}

const CONTRACT = readContract();
/** The spec's `kind` of each cell (native/core/cell_kind.h's CellKind). */
export const NATIVE_KIND: Readonly<Record<CellMode, number>> = Object.freeze({ ...CONTRACT.kinds });
/** Gate blocks of each cell: weight_ih has GATES * hiddenSize rows. */
export const GATES: Readonly<Record<CellMode, number>> = Object.freeze({ ...CONTRACT.gates });

/** What one native forward call needs, and how to wrap its results. */
export interface PreparedCall<R> {
  /** The native forward's one argument; null: nothing to compute (every result is empty), native code is not called. */
  nativeCall: NativeForwardCall | null;
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
    nativeCall: null,
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
    if (call.nativeCall) native.rnnForward(call.nativeCall);
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
    if (call.nativeCall) await native.rnnForwardAsync(call.nativeCall);
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
  // the first parameter's, or the kept weights' of a module made by optimizeForInference (it has no parameters)
  const dtype = module.dtype;
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

/**
 * out[:, k] = state[:, index[k]] for a [layers, B, size] state of `dtype` (PyTorch's permute_hidden), in new
 * memory on the state's device (a CUDA state is downloaded, permuted on the host and uploaded).
 */
export function permuteBatch(state: NativeStorage, index: BigInt64Array, layers: number, size: number, dtype: FloatDType): NativeStorage {
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

/** What a module or cell worked out from its own arguments; the rest of the call is the same for all of them. */
export interface RecurrentCall<R> {
  module: Module;
  /** The module's class name, in messages and the graph node's name. */
  name: string;
  mode: CellMode;
  /** The input tensor (a packed sequence's data) and hx as given (null when absent). */
  input: Tensor<'float32'>;
  h0: Tensor<'float32'> | null;
  c0: Tensor<'float32'> | null;
  /** The states' memory as native code reads it (batch-sorted copies for sorted packed input, listed in `temps`). */
  h0Storage: NativeStorage | null;
  c0Storage: NativeStorage | null;
  spec: Omit<NativeForwardSpec, 'kind' | 'seed' | 'dtype'>;
  /** Rows of the input (T * B, or the packed rows). */
  rows: number;
  batchSizes: Int32Array | null;
  /** The results' shapes; outShape null (cells): the output is h' again, scratch memory that is not returned. */
  outShape: number[] | null;
  hShape: number[];
  /** Used for LSTM only. */
  cShape: number[];
  /** Memory only this call uses (the sorted states): freed when it settles or fails, or with the graph node. */
  temps: NativeStorage[];
  /** Packed input's batch orders: the states come back in the caller's (`unsorted`), gradients go both ways. */
  sorted?: BigInt64Array;
  unsorted?: BigInt64Array;
  /** The parameters' memory when the caller already checked it (cells do, before the dtypes). */
  weights?: NativeStorage[];
  /** Build a graph node when grad mode is on and something requires grad (sync forward only). */
  record: boolean;
  wrap(output: Tensor<'float32'> | null, h: Tensor<'float32'>, c: Tensor<'float32'> | null): R;
}

/**
 * Decides whether the call records, checks its dtypes and size, allocates the results and builds the native
 * arguments. On failure it frees what it allocated and `call.temps`.
 */
export function prepareRecurrentCall<R>(call: RecurrentCall<R>): PreparedCall<R> {
  const { module, name, input, h0, c0, spec: s, rows, temps, outShape, hShape, sorted, unsorted } = call;
  const lstm = call.mode === 'LSTM';
  const L = s.numLayers, D = s.bidirectional ? 2 : 1, H = s.hiddenSize, B = s.batch, P = s.projSize > 0 ? s.projSize : H;
  const params = module.parameters();
  const device = module.device;
  // a module made by quantizeDynamic: int8 weights, float32 everything else, never recording
  const quantized = quantizedState(module);
  // a module made by optimizeForInference: a snapshot of float32 or bfloat16 weights, LSTM's and GRU's packed once
  const prepared = preparedState(module);
  const recording = call.record && isGradEnabled() &&
    (params.some((p) => p.requiresGrad) || needsGrad(input) || needsGrad(h0) || needsGrad(c0));
  let dtype: FloatDType;
  let savedFloats = 0;
  try {
    if (quantized) refuseRecording(name, [input, h0, c0]);
    if (prepared) refuseRecording(name, [input, h0, c0], 'was made by optimizeForInference');
    dtype = checkCallDType(module, input, [h0, c0], recording);
    // the saved workspace's layout is native code's (core/rnn_saved.h)
    if (recording) savedFloats = native.rnnSavedSize({ kind: NATIVE_KIND[call.mode], rows, numLayers: L, bidirectional: s.bidirectional, hiddenSize: H, projSize: s.projSize });
    checkRecurrenceAllocation(`${name}.forward`, { lstm, rows, batch: B, layers: L, directions: D, hiddenSize: H, outSize: P, savedFloats });
  } catch (e) {
    release(temps);
    throw e;
  }
  // results take the input's dtype (float32 for a float32 input to a bfloat16 module on the CPU)
  const results = input.dtype as FloatDType;
  const cShape = lstm ? call.cShape : null;
  if (B === 0 || H === 0) {
    if (!call.weights && !quantized && !prepared) nativeWeights(module); // the same parameter checks as a real call (disposed, devices)
    return emptyResultCall(device, results, outShape ? [outShape, hShape, cShape] : [hShape, cShape],
      recording ? { name, inputs: [input, h0, c0, ...params] } : null,
      (r) => (outShape ? call.wrap(r[0], r[1]!, r[2]) : call.wrap(null, r[0]!, r[1])));
  }
  let weights: (NativeStorage | Uint8Array)[], output: NativeStorage, hN: NativeStorage, cN: NativeStorage | null, saved: NativeStorage | null;
  const allocated: NativeStorage[] = [];
  // the results are written in full by the forward (every row, direction and layer), so not zeroed first
  const alloc = (n: number, type: FloatDType, written: boolean): NativeStorage => {
    const storage = (written ? allocResultStorage(device, n, type) : allocStorage(device, n, type)) as NativeStorage;
    allocated.push(storage);
    return storage;
  };
  try {
    weights = quantized ? nativeQuantizedWeights(quantized) : prepared ? [...prepared.weights] as NativeStorage[] : call.weights ?? nativeWeights(module);
    output = alloc(rows * D * P, results, true);
    hN = alloc(L * D * B * P, results, true);
    cN = lstm ? alloc(L * D * B * H, results, true) : null;
    saved = recording ? alloc(savedFloats, 'float32', false) : null;
  } catch (e) {
    release([...temps, ...allocated]); // e.g. a disposed parameter, or out of device memory
    throw e;
  }
  const spec: NativeForwardSpec = {
    kind: NATIVE_KIND[call.mode], inputSize: s.inputSize, hiddenSize: H, projSize: s.projSize, numLayers: L,
    bidirectional: s.bidirectional, bias: s.bias, batchFirst: s.batchFirst, seqLen: s.seqLen, batch: B,
    dropout: s.dropout, training: s.training, seed: s.training && s.dropout > 0 && L > 1 ? nextSeed() : 0,
    dtype: quantized ? 'int8' : dtype,
  };
  /** Sorted states a recorded call's backward still reads (its arguments): freed with the graph node. */
  const keptSorted: NativeStorage[] = [];
  /** The state back in the caller's batch order (a new buffer; the sorted one is freed or kept for backward). */
  const unsort = (state: NativeStorage, size: number): NativeStorage => {
    if (!unsorted) return state;
    const back = permuteBatch(state, unsorted, L * D, size, results);
    if (saved) keptSorted.push(state);
    else freeStorage(state);
    return back;
  };
  const nativeCall: NativeForwardCall = {
    spec, weights, input: input.storage(), h0: call.h0Storage, c0: call.c0Storage, output, hN, cN, batchSizes: call.batchSizes, saved,
    ...(prepared?.prepacked ? { prepacked: [...prepared.prepacked] } : {}),
  };
  // a cell's output is scratch: only the call uses it
  const callTemps = outShape ? temps : [...temps, output];
  return {
    nativeCall,
    // a recorded call's backward reads its arguments again: the graph node frees them once it has run
    temps: saved ? [] : callTemps,
    results: [...(outShape ? [output] : []), hN, ...(cN ? [cN] : [])],
    finish: () => {
      // (host half results are Uint16Arrays, which need their dtype named)
      const hOut = new Tensor(unsort(hN, P), hShape, results as 'float32');
      const out = outShape ? new Tensor(output, outShape, results as 'float32') : null;
      const cOut = cN ? new Tensor(unsort(cN, H), cShape!, results as 'float32') : null;
      if (saved) {
        recordRnn({
          name, call: { ...nativeCall, saved }, owned: [saved, ...callTemps, ...keptSorted], input, h0, c0, params, outputs: [out, hOut, cOut],
          permute: sorted && unsorted ? {
            toSorted: (g) => permuteBatch(g, sorted, L * D, g.length / (L * D * B), 'float32'),
            toCaller: (g) => permuteBatch(g, unsorted, L * D, g.length / (L * D * B), 'float32'),
          } : undefined,
        });
      }
      return call.wrap(out, hOut, cOut);
    },
  };
}
