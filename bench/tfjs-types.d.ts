// The types of @tensorflow/tfjs (which re-exports tfjs-core and tfjs-layers, the parts the bench peer uses), so that
// the bench compiles without the peer installed: the runtime comes from bench/peers (see peer-require.ts).
export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
/** @tensorflow/tfjs's own version record (its index adds it to the re-exports). */
export declare const version: { readonly tfjs: string; readonly [pkg: string]: string };
