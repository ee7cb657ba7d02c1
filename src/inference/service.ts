import { LRUCache } from 'lru-cache';
import type { Action } from '../actions/action.js';
import { createAttestedCredentials } from '../attestation/ra-tls.js';
import type { AttestationContext } from '../attestation/setup.js';
import type { InferenceOptions } from '../config/inference.js';
import { SemirtError } from '../errors.js';
import { WorkerKeyClient } from '../keyservice/client.js';
import type { Logger } from '../log/logger.js';
import { WorkerPool } from '../pool/pool.js';
import { FileModelStore } from '../store/model-store.js';
import { createInferenceAction } from './inference-action.js';
import { KeyCache } from './key-cache.js';
import { InferenceMetrics, serveMetrics } from './metrics.js';
import { ModelCache } from './model-cache.js';

/** The running parts behind the inference action. */
export interface InferenceService {
  readonly action: Action;
  /** The port of the /metrics listener, when one was asked for. */
  readonly metricsPort?: number;
  /** Stops the workers and closes KeyService connections (call after the proxy drained). */
  close(): Promise<void>;
}

// Requests name their KeyService; a bounded set of kept-alive clients stops a stream of
// made-up addresses from holding connections open.
const MAX_KEYSERVICE_CLIENTS = 64;

/** Starts the worker pool, caches, attested key client and metrics behind the inference action. */
export async function startInferenceService(
  options: InferenceOptions,
  attestation: AttestationContext,
  logger: Logger,
  metricsHost: string,
): Promise<InferenceService> {
  const credentials = await createAttestedCredentials(attestation.attester);
  // The KeyService must run approved code: the policy names its measurement(s).
  const policy = { ...attestation.policy, allowedMeasurements: options.keyServiceMeasurements };
  const clients = new LRUCache<string, WorkerKeyClient>({
    max: MAX_KEYSERVICE_CLIENTS,
    dispose: (client) => {
      client.close();
    },
  });
  const keys = new KeyCache(
    (endpoint, userId, modelId) => {
      const name = `${endpoint.host}:${endpoint.port}`;
      if (options.keyServiceAllow !== undefined && !options.keyServiceAllow.includes(name)) {
        return Promise.reject(
          new SemirtError(
            'KEYSERVICE_NOT_ALLOWED',
            `The KeyService ${JSON.stringify(name)} is not one this runtime may use (--keyservice-allow)`,
          ),
        );
      }
      let client = clients.get(name);
      if (client === undefined) {
        client = new WorkerKeyClient({
          endpoint,
          credentials,
          verifiers: attestation.verifiers,
          policy,
          timeoutMs: options.keyServiceTimeoutMs,
        });
        clients.set(name, client);
      }
      return client.fetchKeys(userId, modelId);
    },
    { ttlMs: options.keyTtlMs, maxEntries: options.keyCacheEntries },
  );
  const pool = new WorkerPool({ size: options.workers, maxQueue: options.maxQueue });
  const models = new ModelCache(new FileModelStore(options.store), pool, {
    maxBytes: options.modelCacheBytes,
  });
  const metrics = new InferenceMetrics(pool);
  const listener =
    options.metricsPort === undefined
      ? undefined
      : await serveMetrics(metrics, metricsHost, options.metricsPort);
  logger.info(
    { store: options.store, workers: options.workers, metricsPort: listener?.port },
    'inference action ready',
  );
  return {
    action: createInferenceAction({ keys, models, pool, logger, metrics }),
    ...(listener === undefined ? {} : { metricsPort: listener.port }),
    async close() {
      keys.clear();
      clients.clear();
      listener?.server.close();
      await pool.close();
    },
  };
}
