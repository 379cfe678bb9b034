// The classic PyTorch LSTM tutorial, in Node:
//   lstm = nn.LSTM(input_size=1, hidden_size=5, num_layers=2, batch_first=True)
//   output, (h, c) = lstm(torch.randn(2, 3, 1))
// It loads the weights and input that PyTorch used for reference case 000-LSTM, so the printed
// tensors are the ones PyTorch printed for it (to float32 rounding).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LSTM, Tensor, loadSafetensors, manualSeed, randn } from '../lib/index';
import { sample, trainCharLM } from './charlm-model';

const reference = path.resolve(__dirname, '../../test/fixtures/torch/000-LSTM.safetensors');

const lstm = new LSTM({ inputSize: 1, hiddenSize: 5, numLayers: 2, batchFirst: true });
let input: Tensor;
if (fs.existsSync(reference)) {
  const saved = loadSafetensors(reference);
  lstm.loadStateDict(saved, { strict: false });
  input = saved.input as Tensor;
  console.log(`weights and input: PyTorch's (${path.relative(process.cwd(), reference)})\n`);
} else {
  manualSeed(0);
  input = randn([2, 3, 1]);
}

const [output, [h, c]] = lstm.forward(input);
const show = (name: string, t: Tensor) => console.log(`${name} = ${t}\n${name}.shape = [${t.shape.join(', ')}]\n`);
show('output', output);
show('h', h);
show('c', c);

// Training: a character-level LSTM language model (Embedding -> LSTM -> Linear, Adam) on a little Shakespeare,
// for a few seconds. examples/train-charlm.ts is the full run (`npm run train`: progress bar, about 80 seconds,
// saves a file that examples/load_in_pytorch.py loads into PyTorch).
const steps = 50;
console.log(`training a character-level LSTM language model for ${steps} steps...`);
const run = trainCharLM({ steps });
console.log(`held-out loss: ${run.valLossBefore.toFixed(3)} before -> ${run.valLossAfter.toFixed(3)} after (nats/char), ${run.seconds.toFixed(1)} s`);
const prompt = 'MARCIUS:\n';
console.log(`sample:\n${prompt}${sample(run.model, run.vocab, { prompt, length: 120, temperature: 0.8 })}`);
