import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FileModelStore } from './model-store.js';

async function store(
  files: Record<string, string>,
): Promise<{ dir: string; store: FileModelStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'semirt-store-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return { dir, store: new FileModelStore(dir) };
}

describe('FileModelStore', () => {
  test('reads a one-file model by its id', async () => {
    const { store: s } = await store({ 'owner-mobilenet': 'sealed bytes' });
    const model = await s.read('owner-mobilenet');
    assert.equal(model.kind, 'single');
    assert.equal(model.bytes.toString(), 'sealed bytes');
  });

  test('reads a TVM bundle of three files', async () => {
    const { store: s } = await store({ 'm.graph_json': 'g', 'm.params_data': 'p', 'm.wasm': 'w' });
    const model = await s.read('m');
    assert.deepEqual(
      model.kind === 'tvm' && [model.graphJson, model.params, model.library].map(String),
      ['g', 'p', 'w'],
    );
  });

  test('answers MODEL_NOT_FOUND for a missing model or an incomplete bundle', async () => {
    const { store: s } = await store({ 'm.graph_json': 'g', 'm.wasm': 'w' });
    await assert.rejects(s.read('absent'), {
      code: 'MODEL_NOT_FOUND',
      message: /Model "absent" is not in the store/,
    });
    await assert.rejects(s.read('m'), { code: 'MODEL_NOT_FOUND' });
  });

  test('refuses ids that could leave the store folder', async () => {
    const { store: s } = await store({});
    for (const id of ['../x', 'a/b', '.hidden', '']) {
      await assert.rejects(s.read(id), { code: 'INFERENCE_REQUEST_INVALID' });
    }
  });

  test('reports a store that cannot be read as STORE_READ_FAILED', async () => {
    // The store path is a file, so reading inside it fails with ENOTDIR (a real I/O error, as root too).
    const { dir } = await store({ 'not-a-folder': 'x' });
    const broken = new FileModelStore(join(dir, 'not-a-folder'));
    await assert.rejects(broken.read('m'), { code: 'STORE_READ_FAILED', message: /ENOTDIR/ });
  });
});
