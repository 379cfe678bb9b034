// The device path of the tensor ops and torch.nn.functional (lib/autograd/device-ops.ts, lib/nn/device-functional.ts)
// on every machine: run through a host implementation of the device kernels (test/helpers/host-kernels.ts) and
// compared with the CPU ops, forward and backward, within 1e-6 relative. test/cuda-ops.test.ts runs the same cases
// with the native CUDA kernels on a GPU.
import { functionalCases, opCases } from './helpers/device-cases';
import { compareWithCpu } from './helpers/device-compare';

describe('device ops through the host kernels', () => {
  for (const c of opCases) it(c.name, () => compareWithCpu(c, 'host', 1e-6));
});

describe('device functional through the host kernels', () => {
  for (const c of functionalCases) it(c.name, () => compareWithCpu(c, 'host', 1e-6));
});
