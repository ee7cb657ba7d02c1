// KeyCache is tested with a counting fetch function in place of the KeyService, which the
// end-to-end suite (test/e2e/inference.test.ts) covers for real: here only the cache is under test.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyCache, type FetchKeys } from './key-cache.js';

const endpoint = { host: '127.0.0.1', port: 13571 };

function counting(fail = 0): { fetch: FetchKeys; calls: () => number } {
  let calls = 0;
  return {
    fetch: async () => {
      calls++;
      await new Promise((resolve) => setImmediate(resolve));
      if (calls <= fail) throw new Error(`refused ${calls}`);
      return { inputKey: Buffer.alloc(16, calls), modelKey: Buffer.alloc(16, 100 + calls) };
    },
    calls: () => calls,
  };
}

describe('KeyCache', () => {
  test('shares one fetch between concurrent misses and serves hits from memory', async () => {
    const source = counting();
    const cache = new KeyCache(source.fetch, { ttlMs: 60_000, maxEntries: 10 });
    const results = await Promise.all([1, 2, 3].map(() => cache.get(endpoint, 'u', 'm')));
    assert.equal(source.calls(), 1);
    assert.deepEqual(
      results.map((r) => r.hit),
      [false, false, false],
    );
    const again = await cache.get(endpoint, 'u', 'm');
    assert.equal(again.hit, true);
    assert.equal(source.calls(), 1);
  });

  test('keeps nothing after a failed fetch: the next request asks again', async () => {
    const source = counting(1);
    const cache = new KeyCache(source.fetch, { ttlMs: 60_000, maxEntries: 10 });
    await assert.rejects(cache.get(endpoint, 'u', 'm'), /refused 1/);
    const { keys, hit } = await cache.get(endpoint, 'u', 'm');
    assert.equal(hit, false);
    assert.equal(keys.inputKey[0], 2);
  });

  test('hands out copies, so a caller zeroing its keys does not touch the cache', async () => {
    const cache = new KeyCache(counting().fetch, { ttlMs: 60_000, maxEntries: 10 });
    const first = await cache.get(endpoint, 'u', 'm');
    first.keys.inputKey.fill(0);
    const second = await cache.get(endpoint, 'u', 'm');
    assert.equal(second.keys.inputKey[0], 1);
  });

  test('separates entries by KeyService, user and model', async () => {
    const source = counting();
    const cache = new KeyCache(source.fetch, { ttlMs: 60_000, maxEntries: 10 });
    await cache.get(endpoint, 'u', 'm');
    await cache.get({ ...endpoint, port: 1 }, 'u', 'm');
    await cache.get(endpoint, 'v', 'm');
    await cache.get(endpoint, 'u', 'n');
    assert.equal(source.calls(), 4);
  });
});
