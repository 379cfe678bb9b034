// PyTorch as a peer, through python3 (bench/torch_peer.py): one child process times every case it is given, on
// the same device and thread count, with its own random weights (timings only: no agreement check across
// processes). Skipped with the reason when python3 or torch is missing, or torch cannot see the CUDA device.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchDevice } from './args';
import type { BenchCase } from './cases';
import { TRAIN_LR } from './ours';

export interface TorchInfo {
  torch: string;
  cuda: string | null;
  cudnn: number | null;
  device: string;
  threads?: number;
}

export interface TorchResult {
  ms?: number;
  timesMs?: number[];
  eventMs?: number | null;
  error?: string;
}

const PYTHON = process.env.PYTHON ?? 'python3';

function script(): string {
  const candidates = [path.resolve(__dirname, '..', '..', 'bench', 'torch_peer.py'), path.resolve(__dirname, 'torch_peer.py')];
  return candidates.find((f) => fs.existsSync(f)) ?? candidates[0];
}

function lastLine(text: string | Buffer | null | undefined): string {
  const lines = String(text ?? '').trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** torch's versions and the device it sees, or why PyTorch cannot be used for `device`. */
export function probeTorch(device: BenchDevice): TorchInfo | string {
  const r = spawnSync(PYTHON, [script(), '--probe', device], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return `${PYTHON} could not be run (${r.error.message})`;
  if (r.status === 3) return `torch is not importable by ${PYTHON} (${lastLine(r.stderr)})`;
  if (r.status !== 0) return `torch cannot use ${device}: ${lastLine(r.stderr) || `exit status ${r.status}`}`;
  try {
    return JSON.parse(lastLine(r.stdout)) as TorchInfo;
  } catch {
    return `torch_peer.py --probe printed no JSON (${lastLine(r.stdout)})`;
  }
}

/** Times `cases` with PyTorch; results by case index (a case missing from the map did not run). */
export function runTorch(
  cases: readonly BenchCase[],
  device: BenchDevice,
  settings: { threads: number; warmup: number; repeats: number; seed: number },
): { results: Map<number, TorchResult>; meta: Record<string, unknown> | null; error: string | null } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-rnn-bench-'));
  const inFile = path.join(dir, 'cases.json');
  const outFile = path.join(dir, 'results.json');
  try {
    const spec = {
      device,
      ...settings,
      lr: TRAIN_LR,
      cases: cases.map((c, id) => ({ id, mode: c.mode, ...c.shape, pass: c.pass, precision: c.precision })),
    };
    fs.writeFileSync(inFile, JSON.stringify(spec));
    // progress lines go straight to our stderr; stdout is not used
    const r = spawnSync(PYTHON, [script(), '--cases', inFile, '--out', outFile], { stdio: ['ignore', 'ignore', 'inherit'] });
    let parsed: { meta?: Record<string, unknown>; results?: (TorchResult & { id: number })[] } = {};
    try {
      parsed = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    } catch {
      // no results file: reported below through the exit status
    }
    const results = new Map<number, TorchResult>((parsed.results ?? []).map((x) => [x.id, x]));
    const error = r.error ? r.error.message : r.status !== 0 ? `torch_peer.py exited with status ${r.status ?? r.signal}` : null;
    return { results, meta: parsed.meta ?? null, error };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function describeTorch(info: TorchInfo, device: BenchDevice, threads: number): string {
  if (device === 'cpu') return `PyTorch ${info.torch} on the CPU, torch.set_num_threads(${threads}) (python3 bench/torch_peer.py)`;
  return `PyTorch ${info.torch} (CUDA ${info.cuda ?? '?'}, cuDNN ${info.cudnn ?? '?'}) on ${info.device} (python3 bench/torch_peer.py)`;
}
