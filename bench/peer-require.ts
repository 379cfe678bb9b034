// The benchmark's optional peers (onnxruntime-node, TensorFlow.js) live in their own package, bench/peers, installed
// on demand by `npm run bench:peers`, so that a peer's install script can never fail the library's own install.
// A peer installed next to node-rnn in the user's project is found too.
import { createRequire } from 'node:module';
import * as path from 'node:path';

/** bench/peers of this checkout or package (compiled code runs from dist/bench). */
export const PEERS_DIR = path.resolve(__dirname, '..', '..', 'bench', 'peers');

/** How to add a missing peer, for skip reasons and errors. */
export function peerInstallHint(pkg: string): string {
  return `install it with \`npm run bench:peers\` in a node-rnn checkout, or \`npm install ${pkg}\` in your project`;
}

/** Loads `pkg` from bench/peers, else from wherever Node resolves it; the error says how to install it. */
export function requirePeer<T>(pkg: string): T {
  const fromPeers = createRequire(path.join(PEERS_DIR, 'package.json'));
  try {
    return fromPeers(pkg) as T;
  } catch (first) {
    if (!isMissing(first, pkg)) throw first;
  }
  try {
    return require(pkg) as T;
  } catch (error) {
    if (!isMissing(error, pkg)) throw error;
    throw new Error(`${pkg} is not installed: ${peerInstallHint(pkg)}`);
  }
}

/** True when `pkg` itself was not found (not when it was found and one of its own files or dependencies is missing). */
function isMissing(error: unknown, pkg: string): boolean {
  const e = error as NodeJS.ErrnoException;
  return e.code === 'MODULE_NOT_FOUND' && e.message.startsWith(`Cannot find module '${pkg}'`);
}
