// The graph node of one recurrent-module call: the native forward saved what backward needs, and the
// node's backward is one native call (backward through time for every layer and direction) on the
// forward's device, with gradients allocated there.
import { NativeRecordedCall, NativeStorage, native } from '../binding';
import { GradNode, needsGrad } from '../autograd/node';
import { Device, allocStorage, filledStorage, freeStorage } from '../cuda';
import { Tensor } from '../tensor';

export interface RnnRecord {
  name: string;
  /** The forward's native call, `saved` included: the backward's call adds the gradients to it. */
  call: NativeRecordedCall;
  /** Memory only this call uses (the saved workspace, permuted states, scratch): freed once backward ran. */
  owned: (NativeStorage | null)[];
  /** What the gradients are for, in the order the native backward produces them. */
  input: Tensor;
  h0: Tensor | null;
  c0: Tensor | null;
  params: Tensor[];
  /** The call's results: output (null for cells), h_n, c_n (LSTM). */
  outputs: (Tensor | null)[];
  /** Packed input with sorting: maps between the caller's batch order and the sorted one (on any device). */
  permute?: { toSorted(state: NativeStorage): NativeStorage; toCaller(state: NativeStorage): NativeStorage };
}

/** Zero-filled memory for a gradient: weight gradients are accumulated into. */
function zeros(device: Device, n: number): NativeStorage {
  return device === 'cpu' ? allocStorage(device, n) : filledStorage(device, n, 0);
}

/** Makes `record.outputs` the outputs of a new node whose backward runs the native backward. */
export function recordRnn(record: RnnRecord): void {
  let call: NativeRecordedCall | null = record.call;
  const { input, h0, c0, params, permute } = record;
  const device = input.device;
  const node: GradNode = {
    name: `${record.name}Backward`,
    inputs: [input, h0, c0, ...params],
    outputCount: record.outputs.length,
    device,
    backward(gradOutputs) {
      if (!call) throw new Error('Trying to backward through the graph a second time: its saved state was already freed');
      const [gOut, gH, gC] = gradOutputs; // cells have no output tensor: slot 0 stays null
      const toSorted = (g: NativeStorage | null | undefined) => (g && permute ? permute.toSorted(g) : g ?? null);
      const fresh: NativeStorage[] = [];
      const grad = (n: number) => {
        const s = zeros(device, n);
        fresh.push(s);
        return s;
      };
      try {
        // dX is a GEMM as large as the input projection: skipped when nothing needs it
        const gradInput = needsGrad(input) ? grad(input.numel) : null;
        const gradH0 = h0 ? grad(h0.numel) : null;
        const gradC0 = c0 ? grad(c0.numel) : null;
        const gradWeights = params.map((p) => grad(p.numel));
        native.rnnBackward({ ...call, gradOutput: gOut ?? null, gradHN: toSorted(gH), gradCN: toSorted(gC), gradInput, gradH0, gradC0, gradWeights });
        const toCaller = (g: NativeStorage | null) => (g && permute ? permute.toCaller(g) : g);
        return [gradInput, toCaller(gradH0), toCaller(gradC0), ...gradWeights];
      } catch (e) {
        for (const s of fresh) freeStorage(s);
        throw e;
      }
    },
    release() {
      call = null;
      for (const s of record.owned) freeStorage(s);
      record.owned = [];
    },
  };
  record.outputs.forEach((t, i) => {
    if (t) {
      t.gradFn = node;
      t.outputIndex = i;
    }
  });
}

/**
 * Makes `outputs` (the empty results of a call that computed nothing: a batch of 0, or a cell of hiddenSize 0)
 * the outputs of a node whose backward gives every input that needs one a zero gradient of its shape on `device`.
 */
export function recordZeroGradients(name: string, device: Device, inputs: (Tensor | null)[], outputs: (Tensor | null)[]): void {
  if (!inputs.some((t) => needsGrad(t))) return;
  const node: GradNode = {
    name: `${name}Backward`,
    inputs,
    outputCount: outputs.length,
    device,
    backward: () => inputs.map((t) => (t && needsGrad(t) ? zeros(device, t.numel) : null)),
    release() {},
  };
  outputs.forEach((t, i) => {
    if (t) {
      t.gradFn = node;
      t.outputIndex = i;
    }
  });
}
