// OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when the library is loaded, and a forced core type can be
// much slower than the one it detects; so unless --keep-env is given, the bench re-runs itself without them,
// before node-rnn is loaded.

import { spawnSync } from 'node:child_process';

const BLAS_ENV = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;
const CHILD_MARKER = 'NODE_RNN_BENCH_REEXEC';

/**
 * Runs this same process again without the variables and exits with its status. Returns (without re-running)
 * when `keep` is set, when neither variable is set, or in the child.
 */
export function reexecWithoutBlasEnv(keep: boolean): void {
  if (keep || process.env[CHILD_MARKER] === '1') return;
  if (!BLAS_ENV.some((k) => k in process.env)) return;
  const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_MARKER]: '1' };
  for (const k of BLAS_ENV) delete env[k];
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env, stdio: 'inherit' });
  if (child.error) {
    console.error(`bench: could not re-run without ${BLAS_ENV.join(' / ')}: ${child.error.message} (--keep-env skips this)`);
    process.exit(1);
  }
  if (child.signal) {
    console.error(`bench: the re-run was killed by ${child.signal}`);
    process.exit(1);
  }
  process.exit(child.status ?? 1);
}

/** One line on what happened to the variables. */
export function blasEnvNote(): string {
  const set = BLAS_ENV.filter((k) => k in process.env).map((k) => `${k}=${process.env[k]}`);
  if (process.env[CHILD_MARKER] === '1') return `${BLAS_ENV.join(', ')} removed (re-executed)`;
  if (set.length > 0) return `kept ${set.join(' ')} (--keep-env)`;
  return `${BLAS_ENV.join(', ')} not set`;
}
