import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { SHARED_DATA } from '../../test/support/paths.js';
import type { ModelArtifact, Tensor } from '../engines/engine.js';
import { loadModel } from '../engines/registry.js';
import { WorkerPool } from './pool.js';

const modelFile = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(join(SHARED_DATA, 'tflite', 'models', `${name}.tflite`)));
const single = (bytes: Uint8Array): ModelArtifact => ({ kind: 'single', bytes });

const HELLO_BYTES = modelFile('hello_world_float');
const PERSON_BYTES = modelFile('person_detect_int8');
const HELLO = single(HELLO_BYTES);
const PERSON = single(PERSON_BYTES);
const personInput = (): Tensor => ({
  dtype: 'int8',
  shape: [1, 96, 96, 1],
  data: new Uint8Array(
    readFileSync(join(SHARED_DATA, 'tflite', 'inputs', 'person_detect_int8.person.bin')),
  ),
});
const floatInput = (x: number): Tensor => ({
  dtype: 'float32',
  shape: [1, 1],
  data: new Uint8Array(new Float32Array([x]).buffer),
});

/** The same inference on the calling thread, as the reference for the pool's answers. */
async function direct(artifact: ModelArtifact, inputs: Tensor[]): Promise<Uint8Array> {
  const model = await loadModel(artifact);
  const session = await model.createSession();
  const [output] = await session.run(inputs);
  const bytes = new Uint8Array(output!.data);
  await session.dispose();
  await model.dispose();
  return bytes;
}

const pools: WorkerPool[] = [];
after(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
});
function pool(size: number, maxQueue = 64): WorkerPool {
  const created = new WorkerPool({ size, maxQueue });
  pools.push(created);
  return created;
}

describe('WorkerPool', () => {
  test('load() validates a model in a worker and reports its signature', async () => {
    const workers = pool(1);
    const { signature } = await workers.load({ key: 'person', artifact: PERSON });
    assert.equal(signature.engine, 'tflite');
    assert.deepEqual(signature.inputs[0]?.shape, [1, 96, 96, 1]);
    assert.equal(signature.outputs[0]?.dtype, 'int8');
  });

  test('load() of corrupt bytes fails with the engine error and registers nothing', async () => {
    const workers = pool(1);
    await assert.rejects(
      workers.load({ key: 'bad', artifact: single(PERSON_BYTES.slice(0, 100)) }),
      {
        name: 'SemirtError',
      },
    );
    await assert.rejects(workers.run({ modelKey: 'bad', inputs: [] }), /not loaded/);
  });

  test('run() answers exactly what the engine answers on the calling thread, across workers', async () => {
    const workers = pool(2);
    await workers.load({ key: 'person', artifact: PERSON });
    await workers.load({ key: 'hello', artifact: HELLO });
    const expectedPerson = await direct(PERSON, [personInput()]);
    const xs = [0, 0.5, 1, 1.5, 2, 3];
    const expectedHello = await Promise.all(xs.map((x) => direct(HELLO, [floatInput(x)])));
    const [people, hellos] = await Promise.all([
      Promise.all(
        Array.from({ length: 8 }, () =>
          workers.run({ modelKey: 'person', inputs: [personInput()] }),
        ),
      ),
      Promise.all(xs.map((x) => workers.run({ modelKey: 'hello', inputs: [floatInput(x)] }))),
    ]);
    for (const result of people) assert.deepEqual(result.outputs[0]?.data, expectedPerson);
    hellos.forEach((result, i) => {
      assert.deepEqual(result.outputs[0]?.data, expectedHello[i]);
    });
    assert.ok(people.every((r) => r.inferMs > 0 && r.queueMs >= 0));
  });

  test('run() moves whole input buffers to the worker instead of copying them', async () => {
    const workers = pool(1);
    await workers.load({ key: 'hello', artifact: HELLO });
    const input = floatInput(1);
    await workers.run({ modelKey: 'hello', inputs: [input] });
    assert.equal(input.data.byteLength, 0, 'the buffer was transferred (detached here)');
  });

  test('run() refuses work beyond the queue bound with POOL_BUSY', async () => {
    const workers = pool(1, 1);
    await workers.load({ key: 'person', artifact: PERSON });
    const running = workers.run({ modelKey: 'person', inputs: [personInput()] });
    const queued = workers.run({ modelKey: 'person', inputs: [personInput()] });
    await assert.rejects(workers.run({ modelKey: 'person', inputs: [personInput()] }), {
      code: 'POOL_BUSY',
    });
    await Promise.all([running, queued]);
  });

  test('run() drops work whose deadline has already passed, without running it', async () => {
    const workers = pool(1);
    await workers.load({ key: 'hello', artifact: HELLO });
    await assert.rejects(
      workers.run({ modelKey: 'hello', inputs: [floatInput(1)], deadline: Date.now() - 1 }),
      {
        code: 'DEADLINE_EXCEEDED',
      },
    );
  });

  test('run() drops queued work when its deadline passes while it waits', async (t) => {
    const workers = pool(1);
    await workers.load({ key: 'hello', artifact: HELLO });
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
    // The only worker is busy loading; the run must wait in the queue.
    const loading = workers.load({ key: 'person', artifact: PERSON });
    const waiting = workers.run({
      modelKey: 'hello',
      inputs: [floatInput(1)],
      deadline: Date.now() + 1000,
    });
    assert.equal(workers.stats.queued, 1);
    t.mock.timers.tick(1000);
    assert.equal(workers.stats.queued, 0);
    await assert.rejects(waiting, { code: 'DEADLINE_EXCEEDED' });
    mock.timers.reset();
    await loading;
  });

  test('unload() disposes the model in every worker and zeroes its shared bytes', async () => {
    const workers = pool(2);
    const shared = new Uint8Array(new SharedArrayBuffer(HELLO_BYTES.byteLength));
    shared.set(HELLO_BYTES);
    await workers.load({ key: 'hello', artifact: single(shared) });
    await Promise.all(
      [1, 2, 3, 4].map((x) => workers.run({ modelKey: 'hello', inputs: [floatInput(x)] })),
    );
    await workers.unload('hello');
    assert.ok(shared.every((byte) => byte === 0));
    await assert.rejects(workers.run({ modelKey: 'hello', inputs: [floatInput(1)] }), /not loaded/);
  });

  test('unload() lets queued runs of the model finish and refuses new ones', async () => {
    const workers = pool(1);
    await workers.load({ key: 'person', artifact: PERSON });
    const expected = await direct(PERSON, [personInput()]);
    const runs = [1, 2, 3].map(() => workers.run({ modelKey: 'person', inputs: [personInput()] }));
    const unloading = workers.unload('person');
    await assert.rejects(
      workers.run({ modelKey: 'person', inputs: [personInput()] }),
      /not loaded/,
    );
    for (const result of await Promise.all(runs))
      assert.deepEqual(result.outputs[0]?.data, expected);
    await unloading;
  });

  test('close() refuses queued work with POOL_CLOSED', async () => {
    const workers = new WorkerPool({ size: 1, maxQueue: 8 });
    await workers.load({ key: 'person', artifact: PERSON });
    const running = workers.run({ modelKey: 'person', inputs: [personInput()] });
    const queued = workers.run({ modelKey: 'person', inputs: [personInput()] });
    const closing = workers.close();
    await assert.rejects(queued, { code: 'POOL_CLOSED' });
    await assert.rejects(running, { code: 'POOL_CLOSED' });
    await closing;
  });
});
