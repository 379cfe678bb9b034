// Quantized modules in safetensors files: each int8 matrix as I8 values [rows, cols] under its parameter's name and
// its float32 row scales under `<name>.scale`; biases and the parameters of modules that stay float as they are.
// The metadata tags the file (`node-rnn.quantization`) and lists the quantized modules with their classes, so that
// a file loads only into a model quantized the same way.
import { describe, shapeText } from '../checks';
import { AnyTensor } from '../tensor';
import { loadSafetensors, readSafetensorsMetadata, serializeEntries, SafetensorsEntry } from '../safetensors';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { quantizedMatrix } from './int8';
import { linearFields } from './linear';
import { QuantizedEntry, QuantizedState, quantizedState, setQuantizedState } from './state';
import * as fs from 'node:fs';

export const QUANTIZATION_TAG = 'node-rnn.quantization';
export const QUANTIZATION_FORMAT = 'dynamic-int8-per-row';
const MODULES_KEY = 'node-rnn.quantized-modules';

/** The quantized modules of `module`: dotted name ('' for itself) to class name. */
function quantizedModules(module: Module): [string, Module, QuantizedState][] {
  return module.namedModules().flatMap(([name, m]): [string, Module, QuantizedState][] => {
    const state = quantizedState(m);
    return state ? [[name, m, state]] : [];
  });
}

const prefixOf = (name: string) => (name ? `${name}.` : '');

function checkQuantizedModule(module: unknown, fn: string): [string, Module, QuantizedState][] {
  if (!(module instanceof Module)) throw new TypeError(`Expected a Module for module but received ${describe(module)}`);
  const quantized = quantizedModules(module);
  if (quantized.length === 0) {
    throw new Error(`${fn}: ${module.constructor.name} holds no int8 modules; quantize it with quantizeDynamic(module) first`);
  }
  return quantized;
}

/**
 * The safetensors bytes of a module made by quantizeDynamic: its int8 weights (I8 values and F32 row scales), its
 * float32 biases, and the parameters of its modules that stayed float. `metadata` adds string pairs of your own.
 */
export function serializeQuantized(module: Module, metadata?: Record<string, string>): Buffer {
  const quantized = checkQuantizedModule(module, 'serializeQuantized');
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new TypeError(`Expected an object of strings for metadata but received ${describe(metadata)}`);
  }
  for (const key of [QUANTIZATION_TAG, MODULES_KEY]) {
    if (metadata && key in metadata) throw new RangeError(`metadata key ${JSON.stringify(key)} is written by serializeQuantized itself`);
  }
  const entries: SafetensorsEntry[] = [];
  for (const [name, p] of module.namedParameters()) {
    if (p.disposed) throw new Error(`serializeQuantized: parameter ${name} has been disposed`);
    if (p.device !== 'cpu') throw new Error(`serializeQuantized: parameter ${name} is on ${p.device}; move the module to the CPU first`);
    entries.push({ name, dtype: { float32: 'F32', float16: 'F16', bfloat16: 'BF16' }[p.dtype as 'float32'], shape: p.shape, data: p.data });
  }
  for (const [name, , state] of quantized) {
    const prefix = prefixOf(name);
    for (const e of state.entries) {
      if ('matrix' in e) {
        const m = e.matrix;
        entries.push({ name: `${prefix}${m.name}`, dtype: 'I8', shape: [m.gates * m.n, m.k], data: m.values });
        entries.push({ name: `${prefix}${m.name}.scale`, dtype: 'F32', shape: [m.gates * m.n], data: m.scales });
      } else {
        entries.push({ name: `${prefix}${e.bias.name}`, dtype: 'F32', shape: [e.bias.values.length], data: e.bias.values });
      }
    }
  }
  const classes = Object.fromEntries(quantized.map(([name, m]) => [name, m.constructor.name]));
  return serializeEntries(entries, { ...metadata, [QUANTIZATION_TAG]: QUANTIZATION_FORMAT, [MODULES_KEY]: JSON.stringify(classes) });
}

/** Writes `serializeQuantized(module, metadata)` to `path`. */
export function saveQuantized(path: string, module: Module, metadata?: Record<string, string>): void {
  if (typeof path !== 'string') throw new TypeError(`Expected a path string for path but received ${describe(path)}`);
  fs.writeFileSync(path, serializeQuantized(module, metadata));
}

/**
 * Loads a file written by saveQuantized into `module`, a module made by quantizeDynamic from a float module of the
 * same architecture (the file's quantized modules, their classes and every shape must match; every key must be
 * used). The int8 weights are replaced and packed again; the float parameters are loaded as by loadStateDict. On
 * any error the module is left unchanged.
 */
export function loadQuantized(module: Module, pathOrBuffer: string | Buffer | Uint8Array): void {
  const quantized = checkQuantizedModule(module, 'loadQuantized');
  const label = typeof pathOrBuffer === 'string' ? `safetensors file ${JSON.stringify(pathOrBuffer)}` : 'safetensors buffer';
  const bytes = typeof pathOrBuffer === 'string' ? fs.readFileSync(pathOrBuffer) : pathOrBuffer;
  const meta = readSafetensorsMetadata(bytes);
  if (meta[QUANTIZATION_TAG] !== QUANTIZATION_FORMAT) {
    throw new Error(`loadQuantized: ${label} holds no int8 module (its metadata has no ${QUANTIZATION_TAG}: ${QUANTIZATION_FORMAT}); a float checkpoint loads with loadStateDict into the float module, which quantizeDynamic then quantizes`);
  }
  const expected = JSON.stringify(Object.fromEntries(quantized.map(([name, m]) => [name, m.constructor.name])));
  if (meta[MODULES_KEY] !== expected) {
    throw new Error(`loadQuantized: ${label} holds the quantized modules ${meta[MODULES_KEY]}, but ${module.constructor.name} has ${expected}`);
  }
  const tensors = loadSafetensors(bytes);
  const used = new Set<string>();
  const errors: string[] = [];
  const take = (key: string, dtype: string, shape: readonly number[]): AnyTensor | null => {
    const t = tensors[key];
    if (!t) {
      errors.push(`missing ${key}`);
      return null;
    }
    used.add(key);
    if (t.dtype !== dtype) errors.push(`${key} is ${t.dtype}, expected ${dtype === 'int64' ? 'I8 values' : dtype}`);
    else if (shapeText(t.shape) !== shapeText(shape)) errors.push(`${key} has shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`);
    else return t;
    return null;
  };
  const states: [Module, QuantizedState][] = quantized.map(([name, m, state]) => {
    const prefix = prefixOf(name);
    const entries = state.entries.map((e): QuantizedEntry => {
      if ('bias' in e) {
        const t = take(`${prefix}${e.bias.name}`, 'float32', [e.bias.values.length]);
        return t ? { bias: { name: e.bias.name, values: Float32Array.from(t.data as Float32Array) } } : e;
      }
      const mat = e.matrix;
      const rows = mat.gates * mat.n;
      const v = take(`${prefix}${mat.name}`, 'int64', [rows, mat.k]);
      const s = take(`${prefix}${mat.name}.scale`, 'float32', [rows]);
      if (!v || !s) return e;
      const values = new Int8Array(rows * mat.k);
      const data = v.data as BigInt64Array;
      for (let i = 0; i < values.length; i++) {
        if (data[i] < -128n || data[i] > 127n) {
          errors.push(`${prefix}${mat.name} has ${data[i]} at index ${i}, outside int8`);
          return e;
        }
        values[i] = Number(data[i]);
      }
      const scales = Float32Array.from(s.data as Float32Array);
      const bad = scales.findIndex((x) => !(Number.isFinite(x) && x >= 0));
      if (bad >= 0) {
        errors.push(`${prefix}${mat.name}.scale has ${scales[bad]} at index ${bad} (scales are finite and >= 0)`);
        return e;
      }
      return { matrix: quantizedMatrix(mat.name, mat.gates, mat.n, mat.k, values, scales) };
    });
    return [m, { entries }];
  });
  // the rest are the float modules' parameters, loaded (all or nothing) by loadStateDict
  const floats = Object.fromEntries(Object.entries(tensors).filter(([k]) => !used.has(k)));
  const quantizedKeys = Object.keys(floats).filter((k) => quantized.some(([name]) => name === '' || k.startsWith(prefixOf(name))));
  for (const k of quantizedKeys) errors.push(`unexpected ${k}`);
  if (errors.length > 0) throw new Error(`loadQuantized: ${label} does not fit ${module.constructor.name}:\n\t${errors.join('\n\t')}`);
  module.loadStateDict(floats);
  for (const [m, state] of states) {
    setQuantizedState(m, state);
    if (m instanceof Linear) linearFields(m);
  }
}
