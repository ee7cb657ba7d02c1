import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { decryptEnvelope } from '../crypto/envelope.js';
import { mapModelFiles, modelFileList, type ModelArtifact } from '../engines/engine.js';
import { SemirtError } from '../errors.js';
import type { ModelSignature } from '../pool/messages.js';
import type { WorkerPool } from '../pool/pool.js';
import type { EncryptedModel, ModelStore } from '../store/model-store.js';
import { emptyTimings, timed, type PhaseTimings } from './phases.js';

/** Where a model came from: the cache, a load this request started, or a load another request started. */
export type CacheSource = 'hit' | 'miss' | 'inflight';

/** A decrypted model, loaded in the pool. */
export interface LoadedModel {
  /** The pool's name for this load of the model. */
  readonly poolKey: string;
  readonly signature: ModelSignature;
  readonly bytes: number;
  /** What the load cost: model_fetch, decrypt and model_load. */
  readonly timings: PhaseTimings;
}

export interface ModelCacheOptions {
  /** Plaintext model bytes the cache may hold; the least recently used models go first. */
  readonly maxBytes: number;
}

interface Context {
  readonly modelId: string;
  readonly modelKey: Buffer;
}

let generation = 0;

/**
 * Decrypted models, bounded by bytes (LRU), each loaded once in the worker pool: concurrent
 * misses share one load, and a failed read, decrypt or load leaves no entry, so the next request
 * retries from scratch. An evicted model is unloaded from the pool after its running inferences
 * and its plaintext bytes are zeroed.
 */
export class ModelCache {
  readonly #cache: LRUCache<string, LoadedModel, Context>;
  readonly #store: ModelStore;
  readonly #pool: WorkerPool;
  readonly #maxBytes: number;

  constructor(store: ModelStore, pool: WorkerPool, options: ModelCacheOptions) {
    this.#store = store;
    this.#pool = pool;
    this.#maxBytes = options.maxBytes;
    this.#cache = new LRUCache<string, LoadedModel, Context>({
      maxSize: options.maxBytes,
      sizeCalculation: (model) => Math.max(1, model.bytes),
      fetchMethod: (_key, _stale, { context }) => this.#load(context),
      dispose: (model) => {
        void this.#pool.unload(model.poolKey);
      },
    });
  }

  /**
   * The loaded model for (model id, model key). Keyed by a digest of the key too, so a model
   * re-encrypted under a new key is never served from a load under the old one.
   */
  async get(
    modelId: string,
    modelKey: Buffer,
  ): Promise<{ model: LoadedModel; source: CacheSource }> {
    const digest = createHash('sha256').update(modelKey).digest('hex').slice(0, 32);
    const status: LRUCache.Status<string, LoadedModel, Context> = {};
    const model = await this.#cache.fetch(`${modelId}\u0000${digest}`, {
      context: { modelId, modelKey: Buffer.from(modelKey) },
      status,
    });
    if (model === undefined) throw new Error('Model load returned nothing');
    return {
      model,
      source: status.fetch === 'miss' ? 'miss' : status.fetch === 'inflight' ? 'inflight' : 'hit',
    };
  }

  async #load({ modelId, modelKey }: Context): Promise<LoadedModel> {
    const timings = emptyTimings();
    try {
      const encrypted = await timed(timings, 'model_fetch', () => this.#store.read(modelId));
      const artifact = await timed(timings, 'decrypt', () => decryptModel(modelKey, encrypted));
      const bytes = artifactSize(artifact);
      if (bytes > this.#maxBytes) {
        throw new SemirtError(
          'MODEL_TOO_LARGE',
          `Model "${modelId}" has ${bytes} bytes, more than the model cache holds (${this.#maxBytes})`,
        );
      }
      const poolKey = `${modelId}#${++generation}`;
      // The pool copies the plaintext into shared memory (zeroed on unload); clear ours now.
      const { signature } = await timed(timings, 'model_load', () =>
        this.#pool.load({ key: poolKey, artifact }).finally(() => {
          wipe(artifact);
        }),
      );
      return { poolKey, signature, bytes, timings };
    } finally {
      modelKey.fill(0);
    }
  }
}

function decryptModel(key: Buffer, encrypted: EncryptedModel): ModelArtifact {
  return mapModelFiles(encrypted, (envelope) => decryptEnvelope(key, envelope));
}

function artifactSize(artifact: ModelArtifact): number {
  return modelFileList(artifact).reduce((total, bytes) => total + bytes.byteLength, 0);
}

function wipe(artifact: ModelArtifact): void {
  for (const bytes of modelFileList(artifact)) bytes.fill(0);
}
