// Loads the compiled addon. A missing or broken build throws an Error that says how to rebuild it,
// instead of a bare dlopen trace.
import * as path from 'node:path';
import * as os from 'node:os';

export interface NativeForwardSpec {
  kind: number;
  inputSize: number;
  hiddenSize: number;
  projSize: number;
  numLayers: number;
  bidirectional: boolean;
  bias: boolean;
  batchFirst: boolean;
  seqLen: number;
  batch: number;
  dropout: number;
  training: boolean;
  seed: number;
}

type ForwardArgs = [
  spec: NativeForwardSpec,
  weights: Float32Array[],
  input: Float32Array,
  h0: Float32Array | null,
  c0: Float32Array | null,
  output: Float32Array,
  hN: Float32Array,
  cN: Float32Array | null,
  batchSizes: Int32Array | null,
];

export interface NativeBinding {
  rnnForward(...args: ForwardArgs): void;
  rnnForwardAsync(...args: ForwardArgs): Promise<void>;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  blasInfo(): { config: string; core: string };
}

const root = path.resolve(__dirname, '..', '..');
const candidates = [path.join(root, 'build', 'Release', 'node_rnn.node'), path.join(root, 'build', 'Debug', 'node_rnn.node')];

/** Loads the first of `files` that exists; exported so the error path can be tested. */
export function loadNative(files: readonly string[] = candidates): NativeBinding {
  const failures: string[] = [];
  for (const file of files) {
    try {
      return require(file) as NativeBinding;
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (e.code !== 'MODULE_NOT_FOUND') failures.push(`${file}: ${e.message.split('\n')[0]}`);
    }
  }
  const reason = failures.length > 0 ? `the build could not be loaded:\n  ${failures.join('\n  ')}` : 'no native build was found';
  throw new Error(
    `node-rnn: ${reason}\n` +
      `Rebuild it from ${root} with:\n` +
      '  apt-get install -y cmake libopenblas-dev   (Debian/Ubuntu; or your platform\'s CMake and OpenBLAS)\n' +
      '  npm run build:native',
  );
}

export const native: NativeBinding = loadNative();
native.setNumThreads(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
