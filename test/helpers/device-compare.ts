// One op case run three ways and compared: the CPU ops (the reference), the device path on CPU tensors through the
// host kernels (test/helpers/host-kernels.ts, any machine), and the device path on CUDA tensors through the native
// kernels (GPU machines). Each run seeds the generator the same way, so inputs, dropout masks and the upstream
// gradient are identical; outputs and every input gradient are compared element by element.
import { strict as assert } from 'node:assert';
import { Tensor, autograd, manualSeed, randn } from '../../lib/index';
import { setHostKernelsForTesting } from '../../lib/autograd/device-kernels';
import { hostKernels } from './host-kernels';

export interface OpCase {
  name: string;
  /** The float32 leaves (shape and whether each requires grad); values are drawn from randn, then `map`ped. */
  inputs: { shape: number[]; grad?: boolean; map?: (v: number) => number }[];
  run: (xs: Tensor[]) => Tensor;
}

export interface CaseResult {
  shape: number[];
  device: string;
  /** The recorded node's name (null: none recorded). */
  node: string | null;
  out: Float32Array;
  grads: (Float32Array | null)[];
  gradDevices: (string | null)[];
}

export type Mode = 'cpu' | 'host' | 'cuda';

export function runCase(c: OpCase, mode: Mode): CaseResult {
  manualSeed(1234);
  const device = mode === 'cuda' ? 'cuda' : 'cpu';
  const xs = c.inputs.map((spec) => {
    const host = randn(spec.shape);
    if (spec.map) host.data.forEach((v, i, a) => (a[i] = spec.map!(v)));
    const x = device === 'cpu' ? host : host.to(device).detach();
    if (spec.grad !== false) x.requiresGrad = true;
    return x;
  });
  if (mode === 'host') setHostKernelsForTesting(hostKernels);
  const before = hostKernels.allocated;
  try {
    manualSeed(99); // dropout masks
    const out = c.run(xs);
    const node = out.gradFn?.name ?? null;
    if (xs.some((x) => x.requiresGrad)) {
      manualSeed(7);
      const g = randn(out.shape);
      autograd.backward([out], [device === 'cpu' ? g : g.to(device)]);
    }
    if (mode === 'host') assert.ok(hostKernels.allocated > before, `${c.name}: the device path ran`);
    return {
      shape: [...out.shape],
      device: out.device,
      node,
      out: Float32Array.from(out.cpu().data),
      grads: xs.map((x) => (x.grad ? Float32Array.from(x.grad.cpu().data) : null)),
      gradDevices: xs.map((x) => (x.grad ? x.grad.device : null)),
    };
  } finally {
    setHostKernelsForTesting(null);
  }
}

function close(label: string, got: Float32Array, want: Float32Array, tol: number): void {
  assert.equal(got.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) {
    const a = got[i];
    const b = want[i];
    if (Number.isNaN(b)) {
      assert.ok(Number.isNaN(a), `${label}[${i}]: got ${a}, expected NaN`);
      continue;
    }
    assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${label}[${i}]: got ${a}, expected ${b} (tolerance ${tol} relative)`);
  }
}

/** Runs `c` in `mode` and on the CPU and asserts they agree within `tol` (relative, absolute below 1). */
export function compareWithCpu(c: OpCase, mode: Exclude<Mode, 'cpu'>, tol: number): void {
  const want = runCase(c, 'cpu');
  const got = runCase(c, mode);
  assert.deepEqual(got.shape, want.shape, `${c.name}: shape`);
  const device = mode === 'cuda' ? 'cuda:0' : 'cpu';
  assert.equal(got.device, device, `${c.name}: output device`);
  assert.equal(got.node, want.node, `${c.name}: the recorded node's name`);
  close(`${c.name} output`, got.out, want.out, tol);
  want.grads.forEach((w, i) => {
    const g = got.grads[i];
    assert.equal(g === null, w === null, `${c.name}: gradient ${i} present`);
    if (w && g) {
      assert.equal(got.gradDevices[i], device, `${c.name}: gradient ${i} device`);
      close(`${c.name} grad ${i}`, g, w, tol);
    }
  });
}
