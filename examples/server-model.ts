// The model examples/server.ts serves: a sequence tagger, an LSTM over [steps, inputSize] feature vectors and a
// linear head giving per-step logits over `labels` classes (labels 0: no head, the LSTM's output is the answer).
// It lives in one safetensors file: the parameters under PyTorch's names (rnn.weight_ih_l0, head.weight, ...)
// and the configuration as JSON in the metadata, so PyTorch can load the same file.
import * as fs from 'node:fs';
import { LSTM, Linear, Module, Tensor, loadSafetensors, manualSeed, noGrad, readSafetensorsMetadata, saveSafetensors } from '../lib/index';

export interface TaggerConfig {
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  /** Classes of the per-step head; 0 for none. */
  labels: number;
}

export const DEFAULT_CONFIG: TaggerConfig = { inputSize: 64, hiddenSize: 256, numLayers: 1, labels: 8 };

export class SequenceTagger extends Module {
  rnn: LSTM;
  head: Linear | null;

  constructor(readonly config: TaggerConfig) {
    super();
    this.rnn = new LSTM({ inputSize: config.inputSize, hiddenSize: config.hiddenSize, numLayers: config.numLayers });
    this.head = config.labels > 0 ? new Linear({ inFeatures: config.hiddenSize, outFeatures: config.labels }) : null;
  }

  /** The head over the LSTM output of one sequence, [steps, hiddenSize] -> [steps, labels] (the output itself without a head). */
  applyHead(lstmOutput: Tensor): Tensor {
    const head = this.head;
    return head ? noGrad(() => head.forward(lstmOutput)) : lstmOutput;
  }
}

function checkConfig(value: unknown, file: string): TaggerConfig {
  const c = value as Partial<TaggerConfig> | null;
  const ok = (n: unknown, min: number) => typeof n === 'number' && Number.isInteger(n) && n >= min;
  if (!c || !ok(c.inputSize, 1) || !ok(c.hiddenSize, 1) || !ok(c.numLayers, 1) || !ok(c.labels, 0)) {
    throw new Error(`${file}: metadata "config" should be {inputSize, hiddenSize, numLayers, labels} (integers) but is ${JSON.stringify(value)}`);
  }
  return { inputSize: c.inputSize!, hiddenSize: c.hiddenSize!, numLayers: c.numLayers!, labels: c.labels! };
}

/** Reads a tagger written by `saveTagger` (or by PyTorch with the same names and metadata), in eval mode. */
export function loadTagger(file: string): SequenceTagger {
  const meta = readSafetensorsMetadata(file);
  if (meta.config === undefined) throw new Error(`${file}: no "config" entry in the safetensors metadata; was it written by saveTagger?`);
  const model = new SequenceTagger(checkConfig(JSON.parse(meta.config), file));
  model.loadStateDict(loadSafetensors(file));
  model.eval();
  return model;
}

export function saveTagger(file: string, model: SequenceTagger): void {
  saveSafetensors(file, model.stateDict(), { config: JSON.stringify(model.config) });
}

/**
 * The tagger in `file`; when the file does not exist, a randomly initialised one (seeded) is created and saved
 * there first. `created` says which happened, so callers can tell the user.
 */
export function loadOrCreateTagger(file: string, config: TaggerConfig = DEFAULT_CONFIG, seed = 0): { model: SequenceTagger; created: boolean } {
  if (fs.existsSync(file)) return { model: loadTagger(file), created: false };
  manualSeed(seed);
  saveTagger(file, new SequenceTagger(config));
  return { model: loadTagger(file), created: true };
}
