import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inferenceOptions } from './inference.js';

const M = 'ab'.repeat(32);

/** The options, which must be defined (a store is set). */
function options(
  ...args: Parameters<typeof inferenceOptions>
): NonNullable<ReturnType<typeof inferenceOptions>> {
  const parsed = inferenceOptions(...args);
  assert.ok(parsed !== undefined);
  return parsed;
}

describe('inferenceOptions()', () => {
  test('is undefined without a store: the runtime hosts JavaScript actions only', () => {
    assert.equal(inferenceOptions({}, {}), undefined);
  });

  test('defaults everything but the store and the KeyService measurement', () => {
    const parsed = options({ store: '/s', keyserviceMeasurement: M.toUpperCase() }, {});
    assert.equal(parsed.store, '/s');
    assert.deepEqual(parsed.keyServiceMeasurements, [M]);
    assert.equal(parsed.keyTtlMs, 60_000);
    assert.equal(parsed.maxQueue, 1024);
    assert.equal(parsed.modelCacheBytes, 1024 * 1024 * 1024);
    assert.ok(parsed.workers >= 1);
    assert.equal(parsed.keyServiceAllow, undefined);
    assert.equal(parsed.metricsPort, undefined);
  });

  test('reads the environment: SEMIRT_STORE, SEMIRT_KEYSERVICE_MEASUREMENT, SEMIRT_KEYSERVICE_ALLOW', () => {
    const parsed = options(
      {},
      {
        SEMIRT_STORE: '/mounted_store',
        SEMIRT_KEYSERVICE_MEASUREMENT: `${M}, ${'cd'.repeat(48)}`,
        SEMIRT_KEYSERVICE_ALLOW: '10.0.0.5:13571, keys.internal:13571',
        SEMIRT_METRICS_PORT: '9464',
      },
    );
    assert.deepEqual(parsed.keyServiceMeasurements, [M, 'cd'.repeat(48)]);
    assert.deepEqual(parsed.keyServiceAllow, ['10.0.0.5:13571', 'keys.internal:13571']);
    assert.equal(parsed.metricsPort, 9464);
  });

  test('refuses a store without a KeyService measurement, naming the flag', () => {
    assert.throws(() => inferenceOptions({ store: '/s' }, {}), {
      code: 'INVALID_OPTION',
      message: /Missing --keyservice-measurement/,
    });
  });

  test('refuses malformed measurements, endpoints and a zero key TTL', () => {
    assert.throws(() => inferenceOptions({ store: '/s', keyserviceMeasurement: 'xyz' }, {}), {
      message:
        /Invalid --keyservice-measurement "xyz": expected comma-separated measurements of 64 or 96 hex digits/,
    });
    assert.throws(
      () =>
        inferenceOptions(
          { store: '/s', keyserviceMeasurement: M, keyserviceAllow: 'https://x/' },
          {},
        ),
      {
        message:
          /Invalid --keyservice-allow "https:\/\/x\/": expected comma-separated host:port endpoints/,
      },
    );
    assert.throws(
      () => inferenceOptions({ store: '/s', keyserviceMeasurement: M, keyTtl: '0' }, {}),
      {
        message: /Invalid --key-ttl "0": expected an integer from 1 to 86400/,
      },
    );
  });
});
