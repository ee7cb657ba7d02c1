// CommonJS entry of the action API (`require('semirt')`): reads the same store as the ES module,
// which the runtime keeps on a global symbol.
import type { AsyncLocalStorage } from 'node:async_hooks';

type Store = AsyncLocalStorage<Record<string, unknown>>;

/** The context of the activation whose code is running now, or undefined outside any activation. */
function activation(): Record<string, unknown> | undefined {
  const store = (globalThis as Record<symbol, Store | undefined>)[
    Symbol.for('semirt.activation-storage')
  ];
  return store?.getStore();
}

export = { activation };
