// torch.nn.functional.dropout: masks drawn on the host from the seeded generator on every device (so a seed
// gives the same masks on the CPU and on CUDA), applied and differentiated by the host loop or the device kernels.
import { checkBoolean, describe } from '../../checks';
import { BINARY, TensorKernels, kernelsFor } from '../../autograd/device-kernels';
import { alloc, binaryInto, recordOn, wrap } from '../../autograd/device-support';
import { nextUniform } from '../../random';
import { Tensor, checkTensor } from '../../tensor';
import { F32, buf, record } from './common';

/**
 * torch.nn.functional.dropout: in training, each element is zeroed with probability `p` (masks from the seeded
 * generator, see `manualSeed`) and the survivors are scaled by 1/(1-p); backward applies the same mask. Not
 * training (or p = 0, or an empty input) returns `input` itself.
 */
export function dropout(input: Tensor<'float32'>, p = 0.5, training = true): Tensor<'float32'> {
  const x = checkTensor('input', input);
  if (typeof p !== 'number' || Number.isNaN(p)) throw new TypeError(`Expected number for p but received ${describe(p)}`);
  if (p < 0 || p > 1) throw new RangeError(`dropout probability has to be between 0 and 1, but got ${p}`);
  checkBoolean('training', training);
  if (!training || p === 0 || x.numel === 0) return x;
  const k = kernelsFor([['input', x]]);
  const n = x.numel;
  // PyTorch's CPU dropout: noise ~ Bernoulli(1-p) divided by (1-p) in float32, y = x * noise; p = 1 is x * 0
  const mask = new Float32Array(n);
  if (p < 1) {
    const keep = 1 - p;
    const scale = Math.fround(1 / Math.fround(keep));
    for (let i = 0; i < n; i++) mask[i] = nextUniform() < keep ? scale : 0;
  }
  // the mask is drawn on the host from the seeded generator on every device, so a seed gives the same masks
  if (k) return dropoutOnDevice(k, x, mask);
  const xd = x.data;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = xd[i] * mask[i];
  const y = new Tensor(out, x.shape);
  record('Dropout', y, [x], (g) => {
    const gx = new Float32Array(n);
    for (let i = 0; i < n; i++) gx[i] = g[i] * mask[i];
    return [gx];
  });
  return y;
}

/** x times the host-drawn `mask` (already scaled by 1/(1-p)): the same masks as the CPU for the same seed. */
function dropoutOnDevice(k: TensorKernels, x: F32, mask: Float32Array): F32 {
  const m = k.upload(mask);
  const n = x.numel;
  const out = alloc(k, 'dropout output', x.shape);
  binaryInto(k, BINARY.mul, out, buf(x), [1], m, [1], [n], 1);
  const y = wrap(out, x.shape);
  recordOn(k, y, 'DropoutBackward', [x], (g) => {
    const gx = alloc(k, 'dropout gradient', x.shape);
    binaryInto(k, BINARY.mul, gx, g, [1], m, [1], [n], 1);
    return [gx];
  }, true, [m]);
  return y;
}
