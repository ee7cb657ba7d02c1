import { availableParallelism } from 'node:os';
import { SemirtError } from '../errors.js';
import { intSetting, pick } from './parse.js';

/** Validated, fully defaulted options of the inference action (`semirt runtime --store …`). */
export interface InferenceOptions {
  /** The model store folder (the original deployment mounted /mounted_store). */
  readonly store: string;
  /** Worker threads running inferences (default: the CPU count). */
  readonly workers: number;
  /** Inferences that may wait for a worker before requests are answered POOL_BUSY. */
  readonly maxQueue: number;
  /** How long released keys are reused; a revoke takes effect after at most this. */
  readonly keyTtlMs: number;
  readonly keyCacheEntries: number;
  /** Plaintext model bytes kept loaded (LRU). */
  readonly modelCacheBytes: number;
  /** KeyService measurements (hex) the runtime accepts; it refuses any other KeyService. */
  readonly keyServiceMeasurements: readonly string[];
  readonly keyServiceTimeoutMs: number;
  /** KeyService endpoints ("host:port") requests may name; undefined: any (each is still verified by attestation). */
  readonly keyServiceAllow?: readonly string[];
  /** Port of the Prometheus /metrics listener; undefined: no listener. */
  readonly metricsPort?: number;
}

/** Flags of the inference action as commander hands them over (all strings). */
export interface InferenceFlags {
  readonly store?: string;
  readonly workers?: string;
  readonly maxQueue?: string;
  readonly keyTtl?: string;
  readonly modelCacheMb?: string;
  readonly keyserviceMeasurement?: string;
  readonly keyserviceTimeout?: string;
  readonly keyserviceAllow?: string;
  readonly metricsPort?: string;
}

const MEASUREMENT = /^[0-9a-f]{64}(?:[0-9a-f]{32})?$/;

/** Reads inference options from flags, then SEMIRT_* environment variables; undefined when no store is set. */
export function inferenceOptions(
  flags: InferenceFlags,
  env: NodeJS.ProcessEnv = process.env,
): InferenceOptions | undefined {
  const store = pick(flags.store, env, { flag: '--store', env: 'SEMIRT_STORE' })?.value;
  if (store === undefined) return undefined;
  const measurements = pick(flags.keyserviceMeasurement, env, {
    flag: '--keyservice-measurement',
    env: 'SEMIRT_KEYSERVICE_MEASUREMENT',
  });
  if (measurements === undefined) {
    throw new SemirtError(
      'INVALID_OPTION',
      'Missing --keyservice-measurement (env SEMIRT_KEYSERVICE_MEASUREMENT): the KeyService measurement(s) the runtime may fetch keys from',
    );
  }
  const keyServiceMeasurements = measurements.value.split(',').map((m) => m.trim().toLowerCase());
  const bad = keyServiceMeasurements.find((m) => !MEASUREMENT.test(m));
  if (bad !== undefined) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Invalid ${measurements.from} "${bad}": expected comma-separated measurements of 64 or 96 hex digits`,
    );
  }
  const metricsPort = pick(flags.metricsPort, env, {
    flag: '--metrics-port',
    env: 'SEMIRT_METRICS_PORT',
  });
  const allow = pick(flags.keyserviceAllow, env, {
    flag: '--keyservice-allow',
    env: 'SEMIRT_KEYSERVICE_ALLOW',
  });
  const keyServiceAllow = allow?.value.split(',').map((entry) => entry.trim());
  const badEndpoint = keyServiceAllow?.find(
    (entry) => !/^[A-Za-z0-9._[\]:-]+:\d{1,5}$/.test(entry),
  );
  if (allow !== undefined && badEndpoint !== undefined) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Invalid ${allow.from} "${badEndpoint}": expected comma-separated host:port endpoints`,
    );
  }
  return {
    store,
    workers: intSetting(
      flags.workers,
      env,
      { flag: '--workers', env: 'SEMIRT_WORKERS' },
      {
        min: 1,
        max: 256,
        fallback: availableParallelism(),
      },
    ),
    maxQueue: intSetting(
      flags.maxQueue,
      env,
      { flag: '--max-queue', env: 'SEMIRT_MAX_QUEUE' },
      {
        min: 0,
        max: 1_000_000,
        fallback: 1024,
      },
    ),
    keyTtlMs:
      intSetting(
        flags.keyTtl,
        env,
        { flag: '--key-ttl', env: 'SEMIRT_KEY_TTL' },
        { min: 1, max: 86_400, fallback: 60 },
      ) * 1000,
    keyCacheEntries: 10_000,
    modelCacheBytes:
      intSetting(
        flags.modelCacheMb,
        env,
        { flag: '--model-cache-mb', env: 'SEMIRT_MODEL_CACHE_MB' },
        {
          min: 1,
          max: 1_048_576,
          fallback: 1024,
        },
      ) *
      1024 *
      1024,
    keyServiceMeasurements,
    keyServiceTimeoutMs:
      intSetting(
        flags.keyserviceTimeout,
        env,
        { flag: '--keyservice-timeout', env: 'SEMIRT_KEYSERVICE_TIMEOUT' },
        {
          min: 1,
          max: 600,
          fallback: 10,
        },
      ) * 1000,
    ...(keyServiceAllow === undefined ? {} : { keyServiceAllow }),
    ...(metricsPort === undefined
      ? {}
      : {
          metricsPort: intSetting(
            flags.metricsPort,
            env,
            { flag: '--metrics-port', env: 'SEMIRT_METRICS_PORT' },
            {
              min: 0,
              max: 65535,
              fallback: 0,
            },
          ),
        }),
  };
}
