import type { AsyncLocalStorage } from 'node:async_hooks';
import type { ActivationContext } from './activation-context.js';

const INSTALLED = Symbol.for('semirt.env-shim');

/**
 * Makes `process.env.__OW_*` per activation: inside an activation, reads of the activation's
 * variables answer from its own context (AsyncLocalStorage), so concurrent activations never see
 * each other's ids; everything else reads and writes the real environment. The official Node.js
 * runtime writes these into the shared `process.env` on every /run, which races under concurrency.
 *
 * Not guaranteed: native code (getenv in an addon) and child processes started with an explicit
 * copy made outside the activation see the real environment only.
 */
export function installEnvShim(storage: AsyncLocalStorage<ActivationContext>): void {
  const real = process.env as NodeJS.ProcessEnv & { [INSTALLED]?: true };
  if (real[INSTALLED]) return;
  const own = (key: string | symbol): string | undefined => {
    if (typeof key !== 'string') return undefined;
    const env = storage.getStore()?.env;
    return env !== undefined && Object.hasOwn(env, key) ? env[key] : undefined;
  };
  const shim = new Proxy(real, {
    get(target, key, receiver) {
      if (key === INSTALLED) return true;
      return own(key) ?? (Reflect.get(target, key, receiver) as unknown);
    },
    // Writes go to the real environment (which only takes plain data properties).
    set(target, key, value) {
      return Reflect.set(target, key, value);
    },
    has(target, key) {
      return own(key) !== undefined || Reflect.has(target, key);
    },
    ownKeys(target) {
      const keys = new Set(Reflect.ownKeys(target));
      for (const key of Object.keys(storage.getStore()?.env ?? {})) keys.add(key);
      return [...keys];
    },
    getOwnPropertyDescriptor(target, key) {
      const value = own(key);
      if (value === undefined) return Reflect.getOwnPropertyDescriptor(target, key);
      return { value, writable: true, enumerable: true, configurable: true };
    },
  });
  process.env = shim;
}
