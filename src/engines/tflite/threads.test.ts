import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { TfliteModel } from './interpreter.js';

const DATA = join(SHARED_DATA, 'tflite');
const INTERPRETER_URL = new URL('./interpreter.js', import.meta.url).href;
/** Workers load the compiled interpreter: from sources (tsx) there is no .js file to load. */
const FROM_SOURCES = import.meta.url.endsWith('.ts');

/**
 * A worker that loads the model from the shared bytes it receives, runs one inference and posts
 * the output bytes back (inline code importing the compiled interpreter by URL).
 */
const WORKER_CODE = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(workerData.url).then(({ TfliteModel }) => {
    const model = TfliteModel.load(new Uint8Array(workerData.model));
    const session = model.openSession();
    const [out] = session.runSync([{ dtype: 'int8', shape: workerData.shape, data: new Uint8Array(workerData.input) }]);
    parentPort.postMessage({ output: out.data, sameBuffer: workerData.model instanceof SharedArrayBuffer });
  });
`;

function runInWorker(
  model: SharedArrayBuffer,
  input: Uint8Array,
  shape: readonly number[],
): Promise<{ output: Uint8Array; sameBuffer: boolean }> {
  const worker = new Worker(WORKER_CODE, {
    eval: true,
    workerData: { url: INTERPRETER_URL, model, input, shape },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (message: { output: Uint8Array; sameBuffer: boolean }) => {
      resolve(message);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe(
  'TfliteModel across worker threads',
  { skip: FROM_SOURCES && 'runs compiled only (npm test)' },
  () => {
    it('sessions in two workers run one SharedArrayBuffer copy of the model and match the golden', async () => {
      const bytes = readFileSync(join(DATA, 'models', 'person_detect_int8.tflite'));
      const shared = new SharedArrayBuffer(bytes.length);
      new Uint8Array(shared).set(bytes);
      const input = new Uint8Array(
        readFileSync(join(DATA, 'inputs', 'person_detect_int8.person.bin')),
      );
      const shape = TfliteModel.load(new Uint8Array(shared)).inputs[0]!.shape;
      const results = await Promise.all([
        runInWorker(shared, input, shape),
        runInWorker(shared, input, shape),
      ]);
      const golden = new Uint8Array(
        readFileSync(join(DATA, 'golden', 'person_detect_int8.person.out')),
      );
      for (const result of results) {
        assert.equal(result.sameBuffer, true);
        assert.deepEqual(new Uint8Array(result.output), golden);
      }
    });
  },
);
