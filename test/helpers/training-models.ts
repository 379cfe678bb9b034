// The models of the three PyTorch training runs (test/fixtures/training), rebuilt with this API, and their inputs.
import * as path from 'node:path';
import { AnyTensor, Embedding, GRU, LSTM, Linear, Module, RNN, Tensor } from '../../lib/index';
import { select } from '../../lib/autograd/ops/index';

export const TRAINING_DIR = path.resolve(__dirname, '../../../test/fixtures/training');

export class CharLM extends Module {
  embed = new Embedding({ numEmbeddings: 13, embeddingDim: 8 });
  rnn = new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2, batchFirst: true });
  head = new Linear({ inFeatures: 16, outFeatures: 13 });
  forward(tokens: Tensor<'int64'>): Tensor {
    const [out] = this.rnn.forward(this.embed.forward(tokens));
    return this.head.forward(out);
  }
}

export class Regressor extends Module {
  rnn = new GRU({ inputSize: 3, hiddenSize: 12, bidirectional: true });
  head = new Linear({ inFeatures: 24, outFeatures: 1 });
  forward(x: Tensor): Tensor {
    const [out] = this.rnn.forward(x);
    return this.head.forward(select(out, 0, -1));
  }
}

export class Classifier extends Module {
  rnn = new RNN({ inputSize: 4, hiddenSize: 10, numLayers: 2, nonlinearity: 'relu', batchFirst: true });
  head = new Linear({ inFeatures: 10, outFeatures: 3 });
  forward(x: Tensor): Tensor {
    const [, h] = this.rnn.forward(x);
    return this.head.forward(select(h, 0, -1));
  }
}

/** The run's model (fresh weights) and its forward on the run's training data. */
export function trainingModel(name: string, t: Record<string, AnyTensor>): { model: Module; run(model: Module): Tensor } {
  if (name === 'charlm-lstm-adam') return { model: new CharLM(), run: (m) => (m as CharLM).forward(t['data.tokens'] as Tensor<'int64'>) };
  if (name === 'regress-gru-sgd') return { model: new Regressor(), run: (m) => (m as Regressor).forward(t['data.x'] as Tensor) };
  return { model: new Classifier(), run: (m) => (m as Classifier).forward(t['data.x'] as Tensor) };
}

/** The tensors under `prefix` ('init.', 'final.', ...) with the prefix taken off: a state dict. */
export function prefixed(t: Record<string, AnyTensor>, prefix: string): Record<string, AnyTensor> {
  return Object.fromEntries(Object.entries(t).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}
