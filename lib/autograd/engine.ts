// Reverse-mode differentiation over recorded nodes (PyTorch's autograd engine, reduced to what the
// recurrent modules and packing need): gradients are summed per node output, nodes run in reverse
// topological order, leaves that require grad accumulate into `.grad`.
import { describe } from '../checks';
import { Tensor } from '../tensor';
import { GradNode } from './node';

function addInto(target: Float32Array, source: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i] += source[i];
}

function accumulateLeaf(leaf: Tensor, grad: Float32Array): void {
  if (leaf.grad === null) leaf.grad = new Tensor(Float32Array.from(grad), leaf.shape);
  else addInto(leaf.grad.data, grad);
}

/**
 * Computes the gradients of `sum(tensors[i] * grads[i])` w.r.t. every leaf that requires grad, accumulating into
 * their `.grad` (like `torch.autograd.backward`). A scalar tensor may omit its gradient (1 is used).
 */
export function backward(tensors: Tensor[], grads?: (Tensor | null | undefined)[]): void {
  if (!Array.isArray(tensors)) throw new TypeError(`Expected an array of Tensors for tensors but received ${describe(tensors)}`);
  if (grads !== undefined && (!Array.isArray(grads) || grads.length !== tensors.length)) {
    throw new RangeError(`Expected grads to be an array of ${tensors.length} gradients but received ${describe(grads)}`);
  }
  const pending = new Map<GradNode, (Float32Array | null)[]>();
  const roots: GradNode[] = [];
  tensors.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`Expected a Tensor for tensors[${i}] but received ${describe(t)}`);
    if (!t.requiresGrad && t.gradFn === null) {
      throw new Error(`element ${i} of tensors does not require grad and does not have a grad_fn`);
    }
    let g = grads?.[i];
    if (g === undefined || g === null) {
      if (t.numel !== 1) throw new Error(`grad can be implicitly created only for scalar outputs (tensors[${i}] has shape [${t.shape.join(', ')}])`);
      g = new Tensor(new Float32Array([1]), t.shape);
    }
    if (!(g instanceof Tensor) || g.dtype !== 'float32') throw new TypeError(`Expected a float32 Tensor for grads[${i}] but received ${describe(g)}`);
    if (g.shape.join() !== t.shape.join()) {
      throw new RangeError(`Mismatch in shape: grad_output[${i}] has a shape of [${g.shape.join(', ')}] and output[${i}] has a shape of [${t.shape.join(', ')}]`);
    }
    const gData = g.device === 'cpu' ? g.data : g.hostData();
    if (t.gradFn === null) {
      accumulateLeaf(t, gData);
      return;
    }
    const node = t.gradFn;
    if (!pending.has(node)) {
      pending.set(node, new Array(node.outputCount).fill(null));
      roots.push(node);
    }
    const slot = pending.get(node)!;
    slot[t.outputIndex] = slot[t.outputIndex] ? addOf(slot[t.outputIndex]!, gData) : Float32Array.from(gData);
  });

  // dependency counts over the graph reachable from the roots
  const dependents = new Map<GradNode, number>();
  const seen = new Set<GradNode>();
  const stack = [...roots];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    for (const input of node.inputs) {
      const next = input?.gradFn;
      if (!next) continue;
      dependents.set(next, (dependents.get(next) ?? 0) + 1);
      stack.push(next);
    }
  }
  const ready = roots.filter((n) => !dependents.has(n));
  while (ready.length > 0) {
    const node = ready.pop()!;
    const gradOutputs = pending.get(node) ?? new Array(node.outputCount).fill(null);
    pending.delete(node);
    const gradInputs = node.backward(gradOutputs);
    node.release();
    node.inputs.forEach((input, k) => {
      const g = gradInputs[k];
      if (!input) return;
      const next = input.gradFn;
      if (next) {
        if (g) {
          const slot = pending.get(next) ?? new Array(next.outputCount).fill(null);
          slot[input.outputIndex] = slot[input.outputIndex] ? addOf(slot[input.outputIndex]!, g) : g;
          pending.set(next, slot);
        }
        const left = dependents.get(next)! - 1;
        dependents.set(next, left);
        if (left === 0) ready.push(next);
      } else if (g && input.requiresGrad) {
        accumulateLeaf(input, g);
      }
    });
  }
}

function addOf(a: Float32Array, b: Float32Array): Float32Array {
  const out = Float32Array.from(a);
  addInto(out, b);
  return out;
}
