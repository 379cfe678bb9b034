// A character-level LSTM language model, trained with node-rnn: the model, the data pipeline, the training
// loop, held-out evaluation, sampling and saving. Used by train-charlm.ts (the command-line script) and by
// demo.ts (a short run). The model is the PyTorch one in load_in_pytorch.py, parameter for parameter:
//
//   embed = nn.Embedding(V, 32); rnn = nn.LSTM(32, 128, batch_first=True); head = nn.Linear(128, V)
//
// The corpus (examples/data/corpus.txt) is the opening of Shakespeare's Coriolanus (public domain), the first
// 31,742 characters of the "tiny shakespeare" text from Andrej Karpathy's char-rnn.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Embedding, LSTM, Linear, Module, Tensor, manualSeed, noGrad, optim, clipGradNorm, saveSafetensors, tensor } from '../lib/index';
import type { DeviceLike } from '../lib/cuda';
import type { LSTMState } from '../lib/index';
import { crossEntropy, softmax } from '../lib/nn/functional/index';

/** The corpus shipped with the examples (resolved from dist/examples/ or examples/). */
export const DEFAULT_CORPUS = [
  path.resolve(__dirname, '../../examples/data/corpus.txt'),
  path.resolve(__dirname, 'data/corpus.txt'),
].find((p) => fs.existsSync(p)) ?? path.resolve(__dirname, '../../examples/data/corpus.txt');

export interface CharLMConfig {
  vocabSize: number;
  embedDim: number;
  hiddenSize: number;
  numLayers: number;
}

export class CharLM extends Module {
  embed: Embedding;
  rnn: LSTM;
  head: Linear;

  constructor(readonly config: CharLMConfig) {
    super();
    this.embed = new Embedding({ numEmbeddings: config.vocabSize, embeddingDim: config.embedDim });
    this.rnn = new LSTM({ inputSize: config.embedDim, hiddenSize: config.hiddenSize, numLayers: config.numLayers, batchFirst: true });
    this.head = new Linear({ inFeatures: config.hiddenSize, outFeatures: config.vocabSize });
  }

  /** tokens int64 [B, T] -> logits [B, T, V] and the LSTM's final state. */
  forward(tokens: Tensor<'int64'>, state?: LSTMState): [Tensor, LSTMState] {
    const [out, next] = this.rnn.forward(this.embed.forward(tokens), state);
    return [this.head.forward(out), next];
  }
}

/** Characters <-> ids; the ids are the positions in `chars` (sorted code points of the corpus). */
export class Vocab {
  readonly chars: string[];
  readonly #ids: Map<string, number>;

  constructor(chars: readonly string[]) {
    this.chars = [...chars];
    this.#ids = new Map(this.chars.map((c, i) => [c, i]));
  }

  static fromText(text: string): Vocab {
    return new Vocab([...new Set(text)].sort());
  }

  get size(): number {
    return this.chars.length;
  }

  encode(text: string): Int32Array {
    const out = new Int32Array([...text].length);
    let i = 0;
    for (const c of text) {
      const id = this.#ids.get(c);
      if (id === undefined) throw new RangeError(`character ${JSON.stringify(c)} is not in the vocabulary`);
      out[i++] = id;
    }
    return out;
  }

  decode(ids: Iterable<number>): string {
    let s = '';
    for (const id of ids) s += this.chars[id];
    return s;
  }
}

/** A small seeded generator (mulberry32) for batch positions and sampling, separate from node-rnn's. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Inputs ids[s .. s+T) and targets ids[s+1 .. s+T] for each start s, as int64 [B, T] tensors. */
export function makeBatch(ids: Int32Array, starts: readonly number[], seqLen: number): [Tensor<'int64'>, Tensor<'int64'>] {
  const x = new BigInt64Array(starts.length * seqLen);
  const y = new BigInt64Array(starts.length * seqLen);
  starts.forEach((s, b) => {
    for (let t = 0; t < seqLen; t++) {
      x[b * seqLen + t] = BigInt(ids[s + t]);
      y[b * seqLen + t] = BigInt(ids[s + t + 1]);
    }
  });
  return [tensor(x, [starts.length, seqLen]), tensor(y, [starts.length, seqLen])];
}

/** The value of a one-element tensor on any device (a CUDA tensor is read back). */
function scalar(t: Tensor): number {
  return (t.device === 'cpu' ? t : t.cpu()).data[0];
}

/** A tensor's values on the host. */
function hostData(t: Tensor): Float32Array {
  return (t.device === 'cpu' ? t : t.cpu()).data;
}

/**
 * Mean cross-entropy (nats per character) over `ids`, cut into consecutive windows of `seqLen` characters,
 * each read from a zero state, all in one batch; under noGrad and in eval mode. load_in_pytorch.py computes
 * the same number.
 */
export function evaluate(model: CharLM, ids: Int32Array, seqLen: number): number {
  const windows = Math.floor((ids.length - 1) / seqLen);
  if (windows < 1) throw new RangeError(`the held-out text (${ids.length} characters) is shorter than one window of ${seqLen + 1}`);
  const starts = Array.from({ length: windows }, (_, i) => i * seqLen);
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => {
      const [x, y] = makeBatch(ids, starts, seqLen);
      const [logits] = model.forward(x);
      return scalar(crossEntropy(logits.reshape(-1, model.config.vocabSize), y.reshape(-1)));
    });
  } finally {
    model.train(wasTraining);
  }
}

export interface SampleOptions {
  /** Text the model reads first (its characters must be in the vocabulary); the sample continues it. */
  prompt?: string;
  /** Characters to generate (default 200). */
  length?: number;
  /** Softmax temperature (default 0.8); 0 picks the most likely character (greedy). */
  temperature?: number;
  seed?: number;
}

/** Generates `length` characters after `prompt`, one at a time, carrying the LSTM state. */
export function sample(model: CharLM, vocab: Vocab, options: SampleOptions = {}): string {
  const { prompt = '\n', length = 200, temperature = 0.8, seed = 0 } = options;
  const rng = makeRng(seed);
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => {
      const promptIds = vocab.encode(prompt);
      let [logits, state] = model.forward(tensor(BigInt64Array.from(promptIds, BigInt), [1, promptIds.length]));
      let last = logits.select(1, promptIds.length - 1).reshape(-1); // [V]
      const out: number[] = [];
      for (let i = 0; i < length; i++) {
        let next: number;
        if (temperature <= 0) {
          const l = hostData(last);
          next = l.indexOf(Math.max(...l));
        } else {
          const p = hostData(softmax(last.div(temperature), 0));
          let u = rng();
          next = p.length - 1;
          for (let k = 0; k < p.length; k++) {
            u -= p[k];
            if (u < 0) {
              next = k;
              break;
            }
          }
        }
        out.push(next);
        [logits, state] = model.forward(tensor(BigInt64Array.of(BigInt(next)), [1, 1]), state);
        last = logits.reshape(-1);
      }
      return vocab.decode(out);
    });
  } finally {
    model.train(wasTraining);
  }
}

export interface TrainOptions {
  /** Optimizer steps (one random batch each). */
  steps: number;
  corpusPath?: string;
  batchSize?: number;
  seqLen?: number;
  embedDim?: number;
  hiddenSize?: number;
  numLayers?: number;
  lr?: number;
  /** Max gradient norm for clipGradNorm (0: no clipping). */
  clip?: number;
  /** Seeds the weights (manualSeed) and the batch positions. */
  seed?: number;
  /** Fraction of the corpus, at its end, held out for evaluation (default 0.1). */
  valFraction?: number;
  /** Where to train: 'cpu' (default), 'cuda' or 'cuda:N'. The weights are drawn on the CPU either way (same seed,
   * same model); the trained model is returned on the CPU. */
  device?: DeviceLike;
  /** Called after every step. */
  onStep?: (info: StepInfo) => void;
}

export interface StepInfo {
  step: number;
  steps: number;
  loss: number;
  /** Exponential moving average of the training loss (bias-corrected, like Adam's moments). */
  smoothLoss: number;
  /** Training characters (batch x window) per second of wall time so far. */
  charsPerSec: number;
}

export interface Hyperparameters extends CharLMConfig {
  batchSize: number;
  seqLen: number;
  lr: number;
  clip: number;
  seed: number;
  steps: number;
  valStart: number;
}

export interface TrainResult {
  model: CharLM;
  vocab: Vocab;
  hyper: Hyperparameters;
  valLossBefore: number;
  valLossAfter: number;
  finalSmoothLoss: number;
  seconds: number;
  charsPerSec: number;
}

/** Builds the vocabulary and model from the corpus, trains it with Adam and returns it with its losses. */
export function trainCharLM(options: TrainOptions): TrainResult {
  const {
    steps, corpusPath = DEFAULT_CORPUS, batchSize = 32, seqLen = 64, embedDim = 32, hiddenSize = 128, numLayers = 1,
    lr = 3e-3, clip = 1.0, seed = 0, valFraction = 0.1, device = 'cpu', onStep,
  } = options;
  const text = fs.readFileSync(corpusPath, 'utf8');
  const vocab = Vocab.fromText(text);
  const ids = vocab.encode(text);
  const valStart = Math.floor(ids.length * (1 - valFraction));
  const trainIds = ids.subarray(0, valStart);
  const valIds = ids.subarray(valStart);
  if (trainIds.length < seqLen + 2) throw new RangeError(`the corpus is too short for windows of ${seqLen} characters`);

  manualSeed(seed);
  const model = new CharLM({ vocabSize: vocab.size, embedDim, hiddenSize, numLayers });
  if (device !== 'cpu') model.to(device);
  const params = model.parameters();
  const optimizer = new optim.Adam(params, { lr });
  const rng = makeRng(seed + 1);
  const hyper: Hyperparameters = { ...model.config, batchSize, seqLen, lr, clip, seed, steps, valStart };

  const valLossBefore = evaluate(model, valIds, seqLen);
  const t0 = performance.now();
  let ema = 0;
  let smoothLoss = NaN;
  for (let step = 1; step <= steps; step++) {
    const starts = Array.from({ length: batchSize }, () => Math.floor(rng() * (trainIds.length - seqLen - 1)));
    const [x, y] = makeBatch(trainIds, starts, seqLen);
    optimizer.zeroGrad();
    const [logits] = model.forward(x);
    const loss = crossEntropy(logits.reshape(-1, vocab.size), y.reshape(-1));
    loss.backward();
    if (clip > 0) clipGradNorm(params, clip);
    optimizer.step();
    const value = scalar(loss);
    ema = 0.95 * ema + 0.05 * value;
    smoothLoss = ema / (1 - 0.95 ** step);
    const seconds = (performance.now() - t0) / 1000;
    onStep?.({ step, steps, loss: value, smoothLoss, charsPerSec: (step * batchSize * seqLen) / seconds });
  }
  const seconds = (performance.now() - t0) / 1000;
  const valLossAfter = evaluate(model, valIds, seqLen);
  model.to('cpu');
  return {
    model, vocab, hyper, valLossBefore, valLossAfter, finalSmoothLoss: smoothLoss, seconds,
    charsPerSec: seconds > 0 ? (steps * batchSize * seqLen) / seconds : 0,
  };
}

/**
 * Saves the weights under the module's stateDict names (embed.weight, rnn.weight_ih_l0, ..., head.bias), which
 * are PyTorch's, plus metadata: the vocabulary (a JSON array of characters, index = id), the hyperparameters
 * (JSON), the held-out loss, and a 100-character greedy continuation of `checkPrompt`, so that
 * load_in_pytorch.py can rebuild the model, load_state_dict it strictly and check that it computes the same.
 */
export function saveCharLM(
  file: string,
  result: Pick<TrainResult, 'model' | 'vocab' | 'hyper' | 'valLossAfter'>,
  checkPrompt = 'MARCIUS:\n',
): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  saveSafetensors(file, result.model.stateDict(), {
    format: 'pt',
    vocab: JSON.stringify(result.vocab.chars),
    hyperparameters: JSON.stringify(result.hyper),
    val_loss: String(result.valLossAfter),
    check_prompt: checkPrompt,
    check_greedy: sample(result.model, result.vocab, { prompt: checkPrompt, length: 100, temperature: 0 }),
  });
}
