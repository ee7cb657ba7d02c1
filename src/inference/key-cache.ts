import { LRUCache } from 'lru-cache';

/** The two keys the KeyService releases for (user, model). */
export interface RequestKeys {
  readonly inputKey: Buffer;
  readonly modelKey: Buffer;
}

export interface KeyServiceEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Fetches keys from a KeyService over attested TLS (the runtime's WorkerKeyClient). */
export type FetchKeys = (
  endpoint: KeyServiceEndpoint,
  userId: string,
  modelId: string,
) => Promise<RequestKeys>;

interface KeyContext {
  readonly endpoint: KeyServiceEndpoint;
  readonly userId: string;
  readonly modelId: string;
}

export interface KeyCacheOptions {
  /** How long released keys are reused before asking the KeyService again (a revoke takes effect after at most this). */
  readonly ttlMs: number;
  readonly maxEntries: number;
}

/**
 * Keys per (KeyService, user, model), reused for a bounded time; concurrent misses share one
 * fetch, and a failed fetch leaves nothing behind. Callers get copies, which they zero when done:
 * an entry may expire (and be zeroed) while a request still uses its keys.
 */
export class KeyCache {
  readonly #cache: LRUCache<string, RequestKeys, KeyContext>;

  constructor(fetchKeys: FetchKeys, options: KeyCacheOptions) {
    this.#cache = new LRUCache({
      max: options.maxEntries,
      ttl: options.ttlMs,
      // Expired entries are not served while a refresh runs: a revoke must not be outlived.
      allowStale: false,
      fetchMethod: (_key, _stale, { context }) =>
        fetchKeys(context.endpoint, context.userId, context.modelId),
      dispose: (keys) => {
        keys.inputKey.fill(0);
        keys.modelKey.fill(0);
      },
    });
  }

  /** The keys for (user, model) from that KeyService, as copies the caller must zero; `hit` tells whether the cache had them. */
  async get(
    endpoint: KeyServiceEndpoint,
    userId: string,
    modelId: string,
  ): Promise<{ keys: RequestKeys; hit: boolean }> {
    const status: LRUCache.Status<string, RequestKeys, KeyContext> = {};
    const key = `${endpoint.host}:${endpoint.port}\u0000${userId}\u0000${modelId}`;
    const keys = await this.#cache.fetch(key, { context: { endpoint, userId, modelId }, status });
    if (keys === undefined) throw new Error('Key fetch returned nothing');
    return {
      keys: { inputKey: Buffer.from(keys.inputKey), modelKey: Buffer.from(keys.modelKey) },
      hit: status.fetch === 'hit',
    };
  }

  /** Forgets every cached key (zeroing them). */
  clear(): void {
    this.#cache.clear();
  }
}
