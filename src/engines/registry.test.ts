import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SHARED_DATA } from '../../test/support/paths.js';
import { isSemirtError } from '../errors.js';
import { ENGINES, engineFor, loadModel } from './registry.js';

const HELLO = join(SHARED_DATA, 'tflite', 'models', 'hello_world_int8.tflite');

describe('engine registry', () => {
  it('engineFor() picks tflite for a TFLite flatbuffer', () => {
    const engine = engineFor(ENGINES, {
      kind: 'single',
      bytes: new Uint8Array(readFileSync(HELLO)),
    });
    assert.equal(engine?.name, 'tflite');
  });

  it('ENGINES lists each engine once', () => {
    const names = ENGINES.map((e) => e.name);
    assert.equal(new Set(names).size, names.length);
  });

  it('loadModel() loads a TFLite model and runs a session', async () => {
    const model = await loadModel({ kind: 'single', bytes: new Uint8Array(readFileSync(HELLO)) });
    const session = await model.createSession();
    const [out] = await session.run([{ dtype: 'int8', shape: [1, 1], data: new Uint8Array([0]) }]);
    assert.equal(out?.dtype, 'int8');
    await session.dispose();
    await model.dispose();
  });

  it('loadModel() rejects unknown bytes with MODEL_FORMAT_UNKNOWN', async () => {
    await assert.rejects(
      loadModel(
        { kind: 'single', bytes: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) },
        undefined,
        ENGINES.filter((e) => e.name === 'tflite'),
      ),
      (e: unknown) => isSemirtError(e, 'MODEL_FORMAT_UNKNOWN'),
    );
  });
});
