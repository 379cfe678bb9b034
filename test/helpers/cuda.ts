// Why the CUDA specs are skipped here: the error that asking for a CUDA device gives (built without CUDA, no
// driver, no device).
import { zeros } from '../../lib/index';
import { cudaBuildInfo } from '../../lib/cuda';

export function whyUnavailable(): string {
  try {
    zeros([1], { device: 'cuda' }).dispose();
  } catch (e) {
    return (e as Error).message;
  }
  return cudaBuildInfo().built ? 'cuda.isAvailable() is false' : 'node-rnn was built without CUDA';
}
