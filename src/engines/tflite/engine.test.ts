import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { tfliteEngine } from './engine.js';

test('tfliteEngine.load() reads a Node Buffer that views part of a larger pool slab', async () => {
  const file = readFileSync(join(SHARED_DATA, 'tflite', 'models', 'hello_world_float.tflite'));
  // A Buffer over a bigger ArrayBuffer at an offset, as readFileSync returns small files; its
  // slice() does not copy, which once made float biases read from the slab's start.
  const slab = Buffer.alloc(file.length + 4096, 0x5a);
  file.copy(slab, 1024);
  const pooled = slab.subarray(1024, 1024 + file.length);
  const input = () => [
    {
      dtype: 'float32' as const,
      shape: [1, 1],
      data: new Uint8Array(new Float32Array([1.5]).buffer),
    },
  ];
  const run = async (bytes: Uint8Array) => {
    const model = await tfliteEngine.load({ kind: 'single', bytes });
    const session = await model.createSession();
    const [out] = await session.run(input());
    return new Uint8Array(out!.data);
  };
  assert.deepEqual(await run(pooled), await run(new Uint8Array(file)));
});
