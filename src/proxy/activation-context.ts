import { AsyncLocalStorage } from 'node:async_hooks';

/** What one activation knows about itself; each concurrent activation sees only its own. */
export interface ActivationContext {
  readonly activationId: string;
  readonly namespace: string;
  readonly actionName: string;
  readonly actionVersion: string;
  readonly transactionId: string;
  /** Epoch milliseconds after which the invoker gives up on this activation; NaN when not sent. */
  readonly deadline: number;
  readonly apiKey?: string;
  /** The `__OW_*` variables of this activation, as the Node.js runtime would export them. */
  readonly env: Readonly<Record<string, string>>;
}

// Kept on a global symbol so that every copy of this module (e.g. the CommonJS action API or a
// hosted action that bundles its own semirt) shares one store.
const STORAGE_KEY: unique symbol = Symbol.for('semirt.activation-storage');
type Holder = { [STORAGE_KEY]?: AsyncLocalStorage<ActivationContext> };
const holder = globalThis as Holder;

/** The process-wide store of the current activation. */
export const activationStorage: AsyncLocalStorage<ActivationContext> =
  holder[STORAGE_KEY] ?? (holder[STORAGE_KEY] = new AsyncLocalStorage<ActivationContext>());

/** The context of the activation whose code is running now, or undefined outside any activation. */
export function activation(): ActivationContext | undefined {
  return activationStorage.getStore();
}

/**
 * Builds the activation context from a /run body. Like the Node.js runtime, every top-level
 * string field other than `value` becomes `__OW_<FIELD>`; other types are not exported.
 */
export function contextFromRunBody(body: Readonly<Record<string, unknown>>): ActivationContext {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key !== 'value' && typeof value === 'string') env[`__OW_${key.toUpperCase()}`] = value;
  }
  const text = (key: string): string => (typeof body[key] === 'string' ? body[key] : '');
  const deadline = body['deadline'];
  const context: ActivationContext = {
    activationId: text('activation_id'),
    namespace: text('namespace'),
    actionName: text('action_name'),
    actionVersion: text('action_version'),
    transactionId: text('transaction_id'),
    deadline:
      typeof deadline === 'number' || typeof deadline === 'string' ? Number(deadline) : Number.NaN,
    env,
  };
  return typeof body['api_key'] === 'string' ? { ...context, apiKey: body['api_key'] } : context;
}
