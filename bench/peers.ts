// What the bench compares node-rnn with. In-process peers (ONNX Runtime, TensorFlow.js) get node-rnn's weights
// and input, check that they compute the same thing (at reduced precision: within that precision's error of
// node-rnn float32), and are timed next to it; PyTorch runs in a python3 child over all its cases at once
// (bench/peer-torch.ts). Every row reports, per peer, a timing, a skip reason or an error.

import type { BenchDevice, PeerName } from './args';
import type { BenchCase } from './cases';
import type { OursCase } from './ours';
import type { Runner } from './timing';

/** The peer's result against node-rnn float32's on the same weights and input (bench/accuracy.ts). */
export interface PeerCheck {
  /** what was compared, e.g. "output" or "gradients" */
  what: string;
  relErr: number;
  maxAbsErr: number;
  /** relErr <= the bound for the row's precision (a wrong model gives errors near 1) */
  agrees: boolean;
}

export type PeerOutcome =
  | { status: 'ok'; ms: number; gflops: number; timesMs: number[]; ratio: number; check: PeerCheck | null; eventMs?: number }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; error: string };

export interface PeerRun {
  runner: Runner;
  warmup: number;
  repeats: number;
  check: PeerCheck;
  dispose(): Promise<void> | void;
}

export interface PeerSettings {
  threads: number;
  warmup: number;
  repeats: number;
  tfjsRepeats: number;
}

export interface InProcessPeer {
  name: PeerName;
  /** one line for the report header, e.g. "onnxruntime-node 1.30.0 (CPU EP, 2 intra-op threads)" */
  describe: string;
  version: string;
  /** null when the peer can time the case, else the reason it cannot */
  unsupported(c: BenchCase, device: BenchDevice): string | null;
  create(c: BenchCase, ours: OursCase, settings: PeerSettings): Promise<PeerRun>;
}

/** The first line of an error's message. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}
