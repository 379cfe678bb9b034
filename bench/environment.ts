// The report's header: what ran the bench (device and driver, CPU, library versions, threads), so that a
// table can be compared with another machine's.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchDevice } from './args';
import { blasEnvNote } from './blas-env';
import type { NodeRnn } from './ours';

export interface Environment {
  nodeRnn: string;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  loadAverage: number;
  threads: number;
  blas: string;
  blasCore: string;
  blasEnv: string;
  device: BenchDevice;
  /** the CUDA device's name, or the CPU model */
  deviceName: string;
  /** from nvidia-smi, CUDA only */
  driver: string | null;
  gpuMemory: string | null;
  timing: string;
}

function packageVersion(): string {
  for (const file of [path.resolve(__dirname, '..', '..', 'package.json'), path.resolve(__dirname, '..', 'package.json')]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'node-rnn' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return 'unknown';
}

/** Driver version and memory of GPU `index` from nvidia-smi; nulls (and the reason) when it cannot tell. */
function nvidiaSmi(index: number): { driver: string | null; memory: string | null; error: string | null } {
  const r = spawnSync('nvidia-smi', ['--query-gpu=driver_version,memory.total', '--format=csv,noheader', '-i', String(index)], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.error || r.status !== 0) return { driver: null, memory: null, error: r.error?.message ?? (r.stderr.trim() || `exit status ${r.status}`) };
  const [driver, memory] = r.stdout.trim().split(',').map((s) => s.trim());
  return { driver: driver || null, memory: memory || null, error: null };
}

export const TIMING_CPU = 'host clock (performance.now) around each run; median of the repeats';
export const TIMING_CUDA =
  'host clock (performance.now) around each run followed by cuda.synchronize(), median of the repeats ' +
  '(node-rnn has no CUDA event binding; its CUDA calls return when the device is done)';

export function collectEnvironment(lib: NodeRnn, device: BenchDevice): Environment {
  const cpus = os.cpus();
  const blas = lib.blasInfo();
  const cpu = cpus[0]?.model.trim() ?? 'unknown';
  let deviceName = cpu;
  let driver: string | null = null;
  let gpuMemory: string | null = null;
  if (device !== 'cpu') {
    const index = Number(device.slice(5));
    deviceName = lib.cuda.deviceName(index);
    const smi = nvidiaSmi(index);
    driver = smi.driver ?? `unknown (nvidia-smi: ${smi.error})`;
    gpuMemory = smi.memory;
  }
  return {
    nodeRnn: packageVersion(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpu,
    cores: cpus.length,
    loadAverage: os.loadavg()[0],
    threads: lib.getNumThreads(),
    blas: blas.config,
    blasCore: blas.core,
    blasEnv: blasEnvNote(),
    device,
    deviceName,
    driver,
    gpuMemory,
    timing: device === 'cpu' ? TIMING_CPU : TIMING_CUDA,
  };
}

export function environmentLines(env: Environment): string[] {
  const lines = [
    `node-rnn ${env.nodeRnn} | Node ${env.node} | ${env.platform}`,
    `CPU ${env.cpu} x${env.cores} | node-rnn threads ${env.threads} | ${env.blas} (core ${env.blasCore}) | ${env.blasEnv}`,
  ];
  if (env.device !== 'cpu') lines.push(`device ${env.device}: ${env.deviceName} | driver ${env.driver}${env.gpuMemory ? ` | ${env.gpuMemory}` : ''}`);
  else lines.push(`device cpu: ${env.cpu}`);
  lines.push(`timing: ${env.timing}`);
  return lines;
}
