// Leak check: many small LSTM forwards (sync, async with many in flight, and forward + backward), sampling
// process.memoryUsage() after a full GC every N iterations. Exits 1 when rss, external or arrayBuffers grow by
// more than the threshold between the end of warm-up and the end of a phase.
//
//   npm run leakcheck -- --iterations 100000 [--phases sync,async,backward] [--dispose] [--threshold-mib 32]
import { LSTM, Tensor, manualSeed, noGrad, randn, setNumThreads } from '../lib/index';

interface Options {
  iterations: number;
  phases: string[];
  dispose: boolean;
  thresholdMiB: number;
  samples: number;
  inFlight: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { iterations: 100_000, phases: ['sync', 'async', 'backward'], dispose: false, thresholdMiB: 32, samples: 20, inFlight: 32 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const int = () => {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`Expected a positive integer after ${flag} but received ${JSON.stringify(value)}`);
      i++;
      return n;
    };
    if (flag === '--iterations') o.iterations = int();
    else if (flag === '--threshold-mib') o.thresholdMiB = int();
    else if (flag === '--samples') o.samples = int();
    else if (flag === '--in-flight') o.inFlight = int();
    else if (flag === '--phases') (o.phases = String(value).split(',')), i++;
    else if (flag === '--dispose') o.dispose = true;
    else throw new RangeError(`Unknown argument ${JSON.stringify(flag)}; expected --iterations, --phases, --dispose, --threshold-mib, --samples or --in-flight`);
  }
  for (const p of o.phases) if (!['sync', 'async', 'backward'].includes(p)) throw new RangeError(`Unknown phase ${JSON.stringify(p)}; expected sync, async or backward`);
  return o;
}

const gc = (globalThis as { gc?: () => void }).gc;
const MiB = 2 ** 20;
type Sample = { iteration: number; rss: number; external: number; arrayBuffers: number };

async function sample(iteration: number): Promise<Sample> {
  // two passes with a turn of the event loop between, so finalizers queued by the first (native memory of
  // dead tensors) have run before measuring
  gc!();
  await new Promise((resolve) => setImmediate(resolve));
  gc!();
  const m = process.memoryUsage();
  return { iteration, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Least-squares slope in bytes per 1000 iterations. */
function slope(samples: Sample[], key: keyof Omit<Sample, 'iteration'>): number {
  const n = samples.length;
  const mx = samples.reduce((s, p) => s + p.iteration, 0) / n;
  const my = samples.reduce((s, p) => s + p[key], 0) / n;
  const num = samples.reduce((s, p) => s + (p.iteration - mx) * (p[key] - my), 0);
  const den = samples.reduce((s, p) => s + (p.iteration - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 1000;
}

async function main(): Promise<number> {
  if (typeof gc !== 'function') {
    console.error('leak-check: run with node --expose-gc (npm run leakcheck does)');
    return 2;
  }
  const o = parseArgs(process.argv.slice(2));
  setNumThreads(1);
  manualSeed(0);
  const lstm = new LSTM({ inputSize: 16, hiddenSize: 32 });
  const x = randn([8, 4, 16]);
  const release = (ts: Tensor[]) => { if (o.dispose) for (const t of ts) t.dispose(); };
  const every = Math.max(1, Math.floor(o.iterations / o.samples));
  let failed = false;
  console.log(`leak-check: LSTM(16, 32), input [8, 4, 16], ${o.iterations} iterations per phase, ${o.dispose ? 'dispose()' : 'GC only'}, sample every ${every}`);
  for (const phase of o.phases) {
    const samples: Sample[] = [];
    const started = Date.now();
    const step = async (batch: number): Promise<void> => {
      if (phase === 'sync') {
        const [out, [h, c]] = noGrad(() => lstm.forward(x));
        release([out, h, c]);
      } else if (phase === 'backward') {
        lstm.zeroGrad();
        const [out, [h, c]] = lstm.forward(x);
        out.sum().backward();
        release([out, h, c]);
      } else {
        const results = await Promise.all(Array.from({ length: batch }, () => lstm.forwardAsync(x)));
        for (const [out, [h, c]] of results) release([out, h, c]);
      }
    };
    const width = phase === 'async' ? o.inFlight : 1;
    for (let i = 0; i < o.iterations; i += width) {
      await step(Math.min(width, o.iterations - i));
      if (Math.floor((i + width) / every) !== Math.floor(i / every) || i + width >= o.iterations) samples.push(await sample(Math.min(i + width, o.iterations)));
    }
    // the first fifth is warm-up (allocator pools, JIT, V8 heap sizing)
    const steady = samples.slice(Math.floor(samples.length / 5));
    const first = steady[0], last = steady[steady.length - 1];
    const report = (key: keyof Omit<Sample, 'iteration'>) => {
      const max = Math.max(...steady.map((s) => s[key]));
      const growth = last[key] - first[key];
      if (growth > o.thresholdMiB * MiB) failed = true;
      return `${key} ${(first[key] / MiB).toFixed(1)} -> ${(last[key] / MiB).toFixed(1)} MiB (max ${(max / MiB).toFixed(1)}, growth ${(growth / MiB).toFixed(2)}, slope ${(slope(steady, key) / 1024).toFixed(2)} KiB/1000 it)`;
    };
    const seconds = (Date.now() - started) / 1000;
    console.log(`  ${phase.padEnd(8)} ${o.iterations} it in ${seconds.toFixed(1)} s (${(o.iterations / seconds).toFixed(0)}/s)`);
    for (const key of ['rss', 'external', 'arrayBuffers'] as const) console.log(`    ${report(key)}`);
  }
  console.log(failed ? `leak-check: FAILED (growth over ${o.thresholdMiB} MiB after warm-up)` : `leak-check: ok (growth under ${o.thresholdMiB} MiB after warm-up)`);
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { console.error(e); process.exitCode = 2; });
