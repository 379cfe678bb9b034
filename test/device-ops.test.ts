// The device path of the tensor ops and torch.nn.functional (the device branches in lib/autograd/ops/ and
// lib/nn/functional/) on every machine: run through a host implementation of the device kernels (test/helpers/host-kernels.ts) and
// compared with the CPU ops, forward and backward, within 1e-6 relative. test/cuda-ops.test.ts runs the same cases
// with the native CUDA kernels on a GPU.
import { strict as assert } from 'node:assert';
import { randn, setMemoryLimit } from '../lib/index';
import { add, permute, transpose } from '../lib/autograd/ops/index';
import { setHostKernelsForTesting } from '../lib/autograd/device-kernels';
import { functionalCases, opCases } from './helpers/device-cases';
import { hostKernels } from './helpers/host-kernels';
import { throwsExactly } from './helpers/assertions';
import { compareWithCpu } from './helpers/device-compare';

describe('device ops through the host kernels', () => {
  for (const c of opCases) it(c.name, () => compareWithCpu(c, 'host', 1e-6));
});

describe('device functional through the host kernels', () => {
  for (const c of functionalCases) it(c.name, () => compareWithCpu(c, 'host', 1e-6));
});

describe('device path limits through the host kernels', () => {
  afterEach(() => {
    setHostKernelsForTesting(null);
    setMemoryLimit(Infinity);
  });

  it('a view of more than 8 dims that cannot be merged is refused with a RangeError', () => {
    const x = randn([2, 2, 2, 2, 2, 2, 2, 2, 2]);
    setHostKernelsForTesting(hostKernels);
    throwsExactly(() => permute(x, [8, 7, 6, 5, 4, 3, 2, 1, 0]), RangeError,
      /^CUDA tensor ops take views of at most 8 dimensions \(after merging contiguous ones\) but this one needs 9: \[2, 2, 2, 2, 2, 2, 2, 2, 2\]$/);
    // contiguous runs merge: 9-D in, 2 strided dims after merging
    assert.deepEqual(transpose(x.reshape([2, 2, 2, 2, 2, 2, 2, 2, 2]), 0, 8).shape, [2, 2, 2, 2, 2, 2, 2, 2, 2]);
  });

  it('results are checked against the memory limit before anything is allocated', () => {
    const a = randn([1000, 1]);
    const b = randn([1, 1000]);
    setMemoryLimit(1 << 20);
    setHostKernelsForTesting(hostKernels);
    const before = hostKernels.allocated;
    throwsExactly(() => add(a, b), RangeError, /^node-rnn: add result of shape \[1000, 1000\] needs 3\.8 MiB, more than the memory limit of 1 MiB/);
    assert.equal(hostKernels.allocated, before);
  });
});
