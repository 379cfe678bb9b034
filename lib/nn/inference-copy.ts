// The module tree copy that quantizeDynamic and optimizeForInference share (PyTorch deep-copies the model, then
// swaps the modules it converts): a new instance of each module's class, submodules walked, the original untouched.
import { Tensor } from '../tensor';
import { Module } from './module';

/**
 * Gives a module's copy its converted weights: `decide(original, prefix)` returns an installer for the modules it
 * converts (their own parameters are not copied and their tensor fields become null; the installer runs on the
 * finished copy), or null for the others, which keep copies of their own parameters that do not require grad.
 */
export type ConvertModule = (original: Module, prefix: string) => ((copy: Module) => void) | null;

export function inferenceCopy(module: Module, decide: ConvertModule, prefix = ''): Module {
  const install = decide(module, prefix);
  const clones = new Map<Tensor<'float32'>, Tensor<'float32'>>();
  const own = install ? [] : module.namedParameters().filter(([name]) => !name.includes('.'));
  const params: [string, Tensor<'float32'>][] = own.map(([name, p]) => {
    const c = p.clone();
    clones.set(p, c);
    return [name, c];
  });
  const result = Module._blankLike(module, params);
  for (const key of Reflect.ownKeys(module)) {
    const d = Object.getOwnPropertyDescriptor(module, key)!;
    if ('value' in d) {
      const v: unknown = d.value;
      if (v instanceof Module) d.value = inferenceCopy(v, decide, `${prefix}${String(key)}.`);
      else if (v instanceof Tensor) d.value = clones.get(v as Tensor<'float32'>) ?? (install ? null : v.clone());
    }
    Object.defineProperty(result, key, d);
  }
  install?.(result);
  for (const p of params) p[1].requiresGrad = false;
  return result;
}
