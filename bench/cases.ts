// What one benchmark row times: a recurrent layer's shape, its cell, the pass and the precision; the
// T x B x I x H text the command line takes, and the labels and FLOP counts the reports use.

import { forwardFlops, PASS_FLOPS_FACTOR, type FlopsCell } from './flops';

export type Mode = FlopsCell;
export type Pass = keyof typeof PASS_FLOPS_FACTOR;
/**
 * The arithmetic of a row: float32; tf32 (float32 module, TF32 matmuls: setFloat32MatmulPrecision('high'), CUDA);
 * bfloat16 / float16 (the module converted, inference only; float16 on CUDA only); int8 (quantizeDynamic: int8
 * weights, inference only, CPU).
 */
/**
 * 'prepacked': float32 through optimizeForInference (the weights packed once, not in every forward);
 * 'prepacked-bf16': the same with dtype 'bfloat16' (module.bfloat16()'s results, its weights packed once).
 */
export type Precision = 'float32' | 'tf32' | 'bfloat16' | 'float16' | 'int8' | 'prepacked' | 'prepacked-bf16';

export const MODES: readonly Mode[] = ['LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'];
export const PASSES: readonly Pass[] = ['forward', 'backward', 'train'];
export const PRECISIONS: readonly Precision[] = ['float32', 'tf32', 'bfloat16', 'float16', 'int8', 'prepacked', 'prepacked-bf16'];
/** What each device runs, in the order the flag's help lists them. */
export const DEVICE_PRECISIONS = { cpu: ['float32', 'bfloat16', 'int8', 'prepacked', 'prepacked-bf16'], cuda: ['float32', 'tf32', 'bfloat16', 'float16'] } as const;
/** Other names --precision takes: PyTorch's setFloat32MatmulPrecision values and the short forms. */
export const PRECISION_ALIASES: Record<string, Precision> = {
  highest: 'float32', high: 'tf32', fp32: 'float32', bf16: 'bfloat16', fp16: 'float16', half: 'float16',
};
/** Precisions that only run forward passes: node-rnn has no backward for half or quantized modules. */
export const INFERENCE_ONLY: readonly Precision[] = ['bfloat16', 'float16', 'int8', 'prepacked', 'prepacked-bf16'];

/** Short label for tables and charts. */
export function precisionLabel(p: Precision): string {
  return { float32: 'fp32', tf32: 'tf32', bfloat16: 'bf16', float16: 'fp16', int8: 'int8', prepacked: 'fp32 prepacked', 'prepacked-bf16': 'bf16 prepacked' }[p];
}

export interface Shape {
  /** sequence length */
  T: number;
  /** batch */
  B: number;
  /** input size */
  I: number;
  /** hidden size */
  H: number;
  /** layers */
  L: number;
  /** directions: 2 when bidirectional */
  D: 1 | 2;
  /** LSTM projection size, 0 for none */
  P: number;
}

export interface BenchCase {
  mode: Mode;
  shape: Shape;
  pass: Pass;
  precision: Precision;
}

export const SHAPE_TEXT_HELP = 'T x B x I x H: four positive integers joined by "x", e.g. 100x64x256x256';

/** Parses "100x64x256x256" (sequence length, batch, input size, hidden size); throws a RangeError naming the text. */
export function parseShapeText(text: string): Pick<Shape, 'T' | 'B' | 'I' | 'H'> {
  const parts = text.trim().split(/\s*[xX]\s*/);
  const numbers = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (parts.length !== 4 || numbers.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new RangeError(`${JSON.stringify(text)} is not a shape (expected ${SHAPE_TEXT_HELP})`);
  }
  const [T, B, I, H] = numbers;
  return { T, B, I, H };
}

const MODE_LABEL: Record<Mode, string> = { LSTM: 'LSTM', GRU: 'GRU', RNN_TANH: 'RNN-tanh', RNN_RELU: 'RNN-relu' };

export function shapeText(s: Shape): string {
  return `${s.T}x${s.B}x${s.I}x${s.H}${s.L > 1 ? ` L${s.L}` : ''}${s.D === 2 ? ' bi' : ''}${s.P > 0 ? ` P${s.P}` : ''}`;
}

/** e.g. "LSTM 100x64x256x256 L2 bi" */
export function caseLabel(c: BenchCase): string {
  return `${MODE_LABEL[c.mode]} ${shapeText(c.shape)}`;
}

/** A key that tells cases apart (used to drop duplicates and to match a peer's results). */
export function caseKey(c: BenchCase): string {
  const s = c.shape;
  return [c.mode, s.T, s.B, s.I, s.H, s.L, s.D, s.P, c.pass, c.precision].join(':');
}

/** FLOPs of one timed unit: a forward, a backward (2x) or a training step (3x). */
export function caseFlops(c: BenchCase): number {
  const s = c.shape;
  const forward = forwardFlops({
    cell: c.mode, seqLen: s.T, batch: s.B, inputSize: s.I, hiddenSize: s.H, numLayers: s.L, bidirectional: s.D === 2, projSize: s.P,
  });
  return PASS_FLOPS_FACTOR[c.pass] * forward;
}

/** Features of the output: D * (P or H). */
export function outputSize(s: Shape): number {
  return s.D * (s.P > 0 ? s.P : s.H);
}
