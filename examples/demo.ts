// The classic PyTorch LSTM tutorial, in Node:
//   lstm = nn.LSTM(input_size=1, hidden_size=5, num_layers=2, batch_first=True)
//   output, (h, c) = lstm(torch.randn(2, 3, 1))
// It loads the weights and input that PyTorch used for reference case 000-LSTM, so the printed
// tensors are the ones PyTorch printed for it (to float32 rounding).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LSTM, Tensor, loadSafetensors, manualSeed, randn } from '../lib/index';

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
