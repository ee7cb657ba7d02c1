import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SHARED_DATA } from '../../test/support/paths.js';
import { encryptEnvelope } from '../crypto/envelope.js';
import { createAesKey } from '../crypto/id-key.js';
import { WorkerPool } from '../pool/pool.js';
import { FileModelStore } from '../store/model-store.js';
import { ModelCache } from './model-cache.js';

const model = (name: string): Buffer =>
  readFileSync(join(SHARED_DATA, 'tflite', 'models', `${name}.tflite`));
const pool = new WorkerPool({ size: 1, maxQueue: 16 });
after(() => pool.close());

async function setup(maxBytes = 64 * 1024 * 1024) {
  const dir = await mkdtemp(join(tmpdir(), 'semirt-model-cache-'));
  const key = createAesKey();
  const put = (id: string, plain: Uint8Array, withKey = key): Promise<void> =>
    writeFile(join(dir, id), encryptEnvelope(withKey, plain));
  return { key, put, cache: new ModelCache(new FileModelStore(dir), pool, { maxBytes }) };
}

describe('ModelCache', () => {
  test('loads a model once, then serves it from memory', async () => {
    const { key, put, cache } = await setup();
    await put('hello', model('hello_world_float'));
    const first = await cache.get('hello', key);
    assert.equal(first.source, 'miss');
    assert.equal(first.model.signature.engine, 'tflite');
    assert.ok(first.model.timings.model_fetch > 0 && first.model.timings.model_load > 0);
    const second = await cache.get('hello', key);
    assert.equal(second.source, 'hit');
    assert.equal(second.model.poolKey, first.model.poolKey);
  });

  test('shares one load between concurrent misses', async () => {
    const { key, put, cache } = await setup();
    await put('person', model('person_detect_int8'));
    const results = await Promise.all([1, 2, 3, 4].map(() => cache.get('person', key)));
    assert.equal(new Set(results.map((r) => r.model.poolKey)).size, 1);
    assert.deepEqual(results.map((r) => r.source).sort(), [
      'inflight',
      'inflight',
      'inflight',
      'miss',
    ]);
  });

  test('leaves nothing behind after a wrong key, a missing file or a corrupt model', async () => {
    const { key, put, cache } = await setup();
    await assert.rejects(cache.get('late', key), { code: 'MODEL_NOT_FOUND' });
    await put('late', model('hello_world_float'));
    assert.equal((await cache.get('late', key)).source, 'miss');

    await put('rekeyed', model('hello_world_float'), createAesKey());
    await assert.rejects(cache.get('rekeyed', key), { code: 'ENVELOPE_AUTH_FAILED' });
    await put('rekeyed', model('hello_world_float'));
    assert.equal((await cache.get('rekeyed', key)).source, 'miss');

    await put('garbage', Buffer.from('TFL3 but not really a model'));
    await assert.rejects(cache.get('garbage', key), { name: 'SemirtError' });
    await put('garbage', model('hello_world_float'));
    assert.equal((await cache.get('garbage', key)).source, 'miss');
  });

  test('keys entries by the model key too: another key never gets a load made under the first', async () => {
    const { key, put, cache } = await setup();
    await put('m', model('hello_world_float'));
    await cache.get('m', key);
    await assert.rejects(cache.get('m', createAesKey()), { code: 'ENVELOPE_AUTH_FAILED' });
  });

  test('evicts the least recently used model beyond its byte budget and unloads it from the pool', async () => {
    const hello = model('hello_world_float');
    const { key, put, cache } = await setup(hello.length + 10);
    await put('a', hello);
    await put('b', hello);
    const a = await cache.get('a', key);
    await cache.get('b', key);
    // Eviction starts the unload at once: the pool refuses new runs of the old load.
    await assert.rejects(pool.run({ modelKey: a.model.poolKey, inputs: [] }), /not loaded/);
    assert.equal((await cache.get('a', key)).source, 'miss');
  });

  test('refuses a model larger than the whole budget with MODEL_TOO_LARGE', async () => {
    const { key, put, cache } = await setup(100);
    await put('big', model('hello_world_float'));
    await assert.rejects(cache.get('big', key), { code: 'MODEL_TOO_LARGE' });
  });
});
