// The graph node of one recurrent-module call: the native forward saved what backward needs, and the
// node's backward is one native call (backward through time for every layer and direction).
import { RecordedArgs, native } from '../binding';
import { GradNode } from '../autograd/node';
import { Tensor } from '../tensor';

export interface RnnRecord {
  name: string;
  /** The forward's native arguments, `saved` included. */
  args: RecordedArgs;
  /** What the gradients are for, in the order the native backward produces them. */
  input: Tensor;
  h0: Tensor | null;
  c0: Tensor | null;
  params: Tensor[];
  /** The call's results: output (null for cells), h_n, c_n (LSTM). */
  outputs: (Tensor | null)[];
  /** Packed input with sorting: maps between the caller's batch order and the sorted one. */
  permute?: { toSorted(state: Float32Array): Float32Array; toCaller(state: Float32Array): Float32Array };
}

/** Makes `record.outputs` the outputs of a new node whose backward runs the native backward. */
export function recordRnn(record: RnnRecord): void {
  let args: RecordedArgs | null = record.args;
  const { input, h0, c0, params, permute } = record;
  const node: GradNode = {
    name: `${record.name}Backward`,
    inputs: [input, h0, c0, ...params],
    outputCount: record.outputs.length,
    backward(gradOutputs) {
      if (!args) throw new Error('Trying to backward through the graph a second time: its saved state was already freed');
      const [gOut, gH, gC] = gradOutputs; // cells have no output tensor: slot 0 stays null
      const toSorted = (g: Float32Array | null | undefined) => (g && permute ? permute.toSorted(g) : g ?? null);
      const gradInput = new Float32Array(input.numel);
      const gradH0 = h0 ? new Float32Array(h0.numel) : null;
      const gradC0 = c0 ? new Float32Array(c0.numel) : null;
      const gradWeights = params.map((p) => new Float32Array(p.numel));
      native.rnnBackward(...args, gOut ?? null, toSorted(gH), toSorted(gC), gradInput, gradH0, gradC0, gradWeights);
      const toCaller = (g: Float32Array | null) => (g && permute ? permute.toCaller(g) : g);
      return [gradInput, toCaller(gradH0), toCaller(gradC0), ...gradWeights];
    },
    release() {
      args = null;
    },
  };
  record.outputs.forEach((t, i) => {
    if (t) {
      t.gradFn = node;
      t.outputIndex = i;
    }
  });
}
