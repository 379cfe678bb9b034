// Reverse-mode differentiation over recorded nodes (PyTorch's autograd engine, reduced to what the
// recurrent modules and packing need): gradients are summed per node output, nodes run in reverse
// topological order, leaves that require grad accumulate into `.grad`. Gradients live on a device: each node
// receives them where it asks (GradNode.device, host by default) and each leaf accumulates on its own device.
import type { NativeStorage } from '../binding';
import { describe } from '../checks';
import { Device, addInto, copyStorage, storageDevice } from '../cuda';
import { Tensor } from '../tensor';
import { GradNode } from './node';

type Grad = NativeStorage;

/** `g` on `device`: itself when it is there already, else a copy there. */
function onDevice(g: Grad, device: Device): Grad {
  return storageDevice(g) === device ? g : copyStorage(g, device);
}

/** a + b in new memory on a's device. */
function sumOf(a: Grad, b: Grad): Grad {
  const out = copyStorage(a, storageDevice(a));
  addInto(out, onDevice(b, storageDevice(a)));
  return out;
}

function accumulateLeaf(leaf: Tensor, grad: Grad): void {
  if (leaf.grad === null) leaf.grad = new Tensor(copyStorage(grad, leaf.device) as Float32Array, leaf.shape);
  else addInto(leaf.grad.storage() as Grad, onDevice(grad, leaf.device));
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
  const pending = new Map<GradNode, (Grad | null)[]>();
  const roots: GradNode[] = [];
  const seeds: Grad[] = [];
  tensors.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`Expected a Tensor for tensors[${i}] but received ${describe(t)}`);
    if (!t.requiresGrad && t.gradFn === null) {
      throw new Error(`element ${i} of tensors does not require grad and does not have a grad_fn`);
    }
    let g = grads?.[i];
    if (g === undefined || g === null) {
      if (t.numel !== 1) throw new Error(`grad can be implicitly created only for scalar outputs (tensors[${i}] has shape [${t.shape.join(', ')}])`);
      g = new Tensor(new Float32Array([1]), t.shape).to(t.device);
    }
    if (!(g instanceof Tensor) || g.dtype !== 'float32') throw new TypeError(`Expected a float32 Tensor for grads[${i}] but received ${describe(g)}`);
    if (g.shape.join() !== t.shape.join()) {
      throw new RangeError(`Mismatch in shape: grad_output[${i}] has a shape of [${g.shape.join(', ')}] and output[${i}] has a shape of [${t.shape.join(', ')}]`);
    }
    if (g.device !== t.device) {
      throw new RangeError(`invalid gradient at index ${i} - expected device ${t.device} but got ${g.device}`);
    }
    seeds.push(g.storage() as Grad);
  });
  tensors.forEach((t, i) => {
    const gData = seeds[i];
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
    slot[t.outputIndex] = slot[t.outputIndex] ? sumOf(slot[t.outputIndex]!, gData) : copyStorage(gData, storageDevice(gData));
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
    const want = node.device ?? 'cpu';
    const gradOutputs = (pending.get(node) ?? new Array(node.outputCount).fill(null)).map((g) => (g ? onDevice(g, want) : null));
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
          slot[input.outputIndex] = slot[input.outputIndex] ? sumOf(slot[input.outputIndex]!, g) : g;
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
