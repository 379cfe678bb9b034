// One forward pass over a batch of independent requests: their sequences (of different lengths) are packed into
// one PackedSequence, run through the module in one call, and the packed output and final states are cut back
// into one result per request. Packing (rather than padding) is what makes each result equal, within float32
// rounding, to running that request alone: the recurrence never sees another request's padding (the matrix
// products over the batch's rows round a little differently from one sequence's, so not bit for bit).
import { noGrad } from '../autograd/grad-mode';
import type { Device } from '../cuda';
import { GRU } from '../nn/gru';
import { LSTM } from '../nn/lstm';
import { PackedSequence, packPaddedSequence, padPackedSequence } from '../nn/packing';
import { RNN } from '../nn/rnn';
import type { RecurrentModule } from '../nn/session';
import { Tensor } from '../tensor';

/** A request's data as copied when it was submitted (host memory, so later changes by the caller do not leak in). */
export interface RequestData {
  /** [steps, inputSize], row-major. */
  input: Float32Array;
  steps: number;
  /** The starting h, [layers * directions, outSize]; null for zeros. */
  h0: Float32Array | null;
  /** The starting c (LSTM only), [layers * directions, hiddenSize]; null for zeros. */
  c0: Float32Array | null;
}

/** One request's result, on the CPU: output [steps, directions * outSize], h [L*D, outSize], c [L*D, hiddenSize] (LSTM). */
export interface RequestResult {
  output: Tensor;
  h: Tensor;
  c: Tensor | null;
}

/** The sizes of a module's state: rows (layers x directions), h width, c width. */
export function stateSizes(module: RecurrentModule): { rows: number; outSize: number; hiddenSize: number } {
  const directions = module.bidirectional ? 2 : 1;
  const outSize = module instanceof LSTM && module.projSize > 0 ? module.projSize : module.hiddenSize;
  return { rows: module.numLayers * directions, outSize, hiddenSize: module.hiddenSize };
}

/**
 * [L*D, B, size] from each request's [L*D, size] state (zeros where a request has none), or null when no request
 * has one (the module then starts from zeros itself).
 */
function stackStates(states: (Float32Array | null)[], rows: number, size: number): Tensor | null {
  if (states.every((s) => s === null)) return null;
  const B = states.length;
  const out = new Float32Array(rows * B * size);
  states.forEach((s, b) => {
    if (s === null) return;
    for (let r = 0; r < rows; r++) out.set(s.subarray(r * size, (r + 1) * size), (r * B + b) * size);
  });
  return new Tensor(out, [rows, B, size]);
}

/** Request b's [L*D, size] slice of a host [L*D, B, size] state. */
function unstackState(state: Float32Array, rows: number, B: number, b: number, size: number): Tensor {
  const out = new Float32Array(rows * size);
  for (let r = 0; r < rows; r++) out.set(state.subarray((r * B + b) * size, (r * B + b + 1) * size), r * size);
  return new Tensor(out, [rows, size]);
}

/** `t` in host memory; a device tensor is downloaded and its device memory freed at once. */
function toHost(t: Tensor): Float32Array {
  if (t.device === 'cpu') return t.data;
  const host = t.cpu().data;
  t.dispose();
  return host;
}

/** forwardAsync on a packed batch or on one unbatched sequence; [output, h, c (LSTM) or null]. */
async function forwardAny<I extends PackedSequence | Tensor>(module: RecurrentModule, input: I, h0: Tensor | null, c0: Tensor | null): Promise<[I, Tensor, Tensor | null]> {
  // the overloads pick the output type from the input type; I carries it through
  if (module instanceof LSTM) {
    const [out, [h, c]] = await module.forwardAsync(input as Tensor, h0 && c0 ? [h0, c0] : undefined);
    return [out as I, h, c];
  }
  const [out, h] = await (module as RNN | GRU).forwardAsync(input as Tensor, h0 ?? undefined);
  return [out as I, h, null];
}

/** `t` on `device`, recorded in `temps` (to be freed) when it is a new copy. */
function onDevice(t: Tensor, device: Device, temps: Tensor[]): Tensor {
  if (device === 'cpu') return t;
  const copy = t.to(device);
  temps.push(copy);
  return copy;
}

/** A lone request runs as the unbatched sequence it is: nothing to pack, nothing to cut. */
async function forwardOne(module: RecurrentModule, request: RequestData): Promise<RequestResult> {
  const device = module.device;
  const { rows, outSize, hiddenSize } = stateSizes(module);
  const temps: Tensor[] = [];
  let out: Tensor, hN: Tensor, cN: Tensor | null;
  try {
    const input = onDevice(new Tensor(request.input, [request.steps, module.inputSize]), device, temps);
    const h0 = request.h0 ? onDevice(new Tensor(request.h0, [rows, outSize]), device, temps) : null;
    const c0 = request.c0 ? onDevice(new Tensor(request.c0, [rows, hiddenSize]), device, temps) : null;
    [out, hN, cN] = await forwardAny(module, input, h0, c0);
  } finally {
    for (const t of temps) t.dispose();
  }
  const host = (t: Tensor) => new Tensor(toHost(t), t.shape);
  return { output: host(out), h: host(hN), c: cN ? host(cN) : null };
}

/**
 * Runs `requests` as one packed batch through `module` (on whatever device it is: the packed input and states
 * are uploaded there, results come back to the CPU) and returns one result per request, in request order.
 */
export async function forwardBatch(module: RecurrentModule, requests: readonly RequestData[]): Promise<RequestResult[]> {
  if (requests.length === 1) return [await forwardOne(module, requests[0])];
  const device = module.device;
  const I = module.inputSize;
  const B = requests.length;
  const { rows, outSize, hiddenSize } = stateSizes(module);
  const maxSteps = Math.max(...requests.map((r) => r.steps));
  // batch-first padding puts each request in one contiguous block
  const padded = new Float32Array(B * maxSteps * I);
  requests.forEach((r, b) => padded.set(r.input, b * maxSteps * I));
  const lengths = requests.map((r) => r.steps);
  // enforceSorted false: the module sorts internally and hands results back in request order
  const packed = noGrad(() => packPaddedSequence(new Tensor(padded, [B, maxSteps, I]), lengths, { batchFirst: true, enforceSorted: false }));
  const lstm = module instanceof LSTM;
  const hasState = requests.some((r) => r.h0 !== null);
  /** Device copies made for this call, freed when it settles. */
  const temps: Tensor[] = [];
  const stacked = (states: (Float32Array | null)[], size: number): Tensor | null => {
    const t = stackStates(states, rows, size);
    return t && onDevice(t, device, temps);
  };
  let out: PackedSequence, hN: Tensor, cN: Tensor | null;
  try {
    const input = device === 'cpu' ? packed
      : new PackedSequence(onDevice(packed.data, device, temps), packed.batchSizes, packed.sortedIndices, packed.unsortedIndices);
    const h0 = hasState ? stacked(requests.map((r) => r.h0), outSize) : null;
    const c0 = hasState && lstm ? stacked(requests.map((r) => r.c0), hiddenSize) : null;
    [out, hN, cN] = await forwardAny(module, input, h0, c0);
  } finally {
    for (const t of temps) t.dispose();
  }
  const outHost = new PackedSequence(new Tensor(toHost(out.data), out.data.shape), out.batchSizes, out.sortedIndices, out.unsortedIndices);
  const hHost = toHost(hN);
  const cHost = cN ? toHost(cN) : null;
  const [paddedOut] = noGrad(() => padPackedSequence(outHost, { batchFirst: true }));
  const width = paddedOut.shape[2];
  const outData = paddedOut.data;
  return requests.map((r, b) => ({
    output: new Tensor(outData.slice(b * maxSteps * width, (b * maxSteps + r.steps) * width), [r.steps, width]),
    h: unstackState(hHost, rows, B, b, outSize),
    c: cHost ? unstackState(cHost, rows, B, b, hiddenSize) : null,
  }));
}
