import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chainGraph,
  helloWorldBundle,
  helloWorldParams,
  hostileLibrary,
  oneOpGraph,
  referenceHelloWorld,
} from '../../../test/fixtures/tvm/bundles.js';
import { isSemirtError } from '../../errors.js';
import type { Session, Tensor } from '../engine.js';
import { encodeParams } from './params.js';
import { createTvmEngine, tvmEngine } from './tvm-engine.js';

// Every case runs a real misbehaving wasm function from test/fixtures/tvm/hostile.c: no mocks.

const NO_PARAMS = encodeParams(new Map());
const vector = (...values: number[]): Tensor => ({
  dtype: 'float32',
  shape: [4],
  data: new Uint8Array(new Float32Array(values).buffer),
});
const valuesOf = (t: Tensor): number[] => [...new Float32Array(t.data.slice().buffer)];

async function hostileSession(
  funcName: string,
  memoryLimitBytes = 16 * 1024 * 1024,
): Promise<Session> {
  const engine = createTvmEngine({ memoryLimitBytes });
  const model = await engine.load({
    kind: 'tvm',
    graphJson: oneOpGraph(funcName),
    params: NO_PARAMS,
    library: hostileLibrary(),
  });
  return model.createSession();
}

async function failsWith(funcName: string, message: RegExp): Promise<void> {
  const session = await hostileSession(funcName);
  await assert.rejects(
    session.run([vector(1, 2, 3, 4)]),
    (err: unknown) => isSemirtError(err, 'TVM_OPERATOR_FAILED') && message.test(err.message),
  );
}

describe('the TVM executor against a hostile operator library', () => {
  it('runs the well-behaved control function', async () => {
    const [y] = await (await hostileSession('hostile_double')).run([vector(1, 2, 3, 4)]);
    assert.deepEqual(valuesOf(y!), [2, 4, 6, 8]);
  });

  it('runs a chain of 8 ops whose outputs alternate between two storage ids', async () => {
    const engine = createTvmEngine();
    const model = await engine.load({
      kind: 'tvm',
      graphJson: chainGraph('hostile_double', 8),
      params: NO_PARAMS,
      library: hostileLibrary(),
    });
    const [y] = await (await model.createSession()).run([vector(1, 2, 3, 4)]);
    assert.deepEqual(valuesOf(y!), [256, 512, 768, 1024]);
  });

  it('turns an out-of-bounds write into TVM_OPERATOR_FAILED', async () => {
    await failsWith(
      'hostile_oob_write',
      /"hostile_oob_write" \(hostile_oob_write\) trapped: memory access out of bounds/,
    );
  });

  it('turns `unreachable` into TVM_OPERATOR_FAILED', async () => {
    await failsWith('hostile_trap', /trapped: unreachable/);
  });

  it('replaces a trapped instance so that the next run works', async () => {
    const session = await hostileSession('hostile_trap_if_negative');
    await assert.rejects(session.run([vector(-1, 0, 0, 0)]), (err: unknown) =>
      isSemirtError(err, 'TVM_OPERATOR_FAILED'),
    );
    const [y] = await session.run([vector(1, 2, 3, 4)]);
    assert.deepEqual(valuesOf(y!), [2, 4, 6, 8]);
  });

  it('reports the message an operator sets with TVMAPISetLastError', async () => {
    await failsWith('hostile_fail', /returned -1: hostile_fail: refused to compute$/);
  });

  it('reads an unterminated error message only up to the end of memory', async () => {
    await failsWith(
      'hostile_unterminated_error',
      /returned -1: AAAAAAAA… \(unterminated or longer than 512 bytes\)/,
    );
  });

  it('refuses an error message pointer outside memory', async () => {
    await failsWith(
      'hostile_error_out_of_bounds',
      /message pointer 0xffffff00 is NULL or outside memory/,
    );
  });

  it('refuses a workspace beyond the memory limit', async () => {
    await failsWith(
      'hostile_huge_workspace',
      /TVMBackendAllocWorkspace: 1099511627776 bytes do not fit in the memory limit/,
    );
  });

  it('refuses to free a pointer that is not a workspace', async () => {
    await failsWith('hostile_bad_free', /TVMBackendFreeWorkspace: 0x3039 is not a live workspace/);
  });

  it('reclaims workspaces an operator leaks, so repeated runs stay within the limit', async () => {
    // Each run leaks 4 MiB; with an 8 MiB limit the third run would fail without reclaiming.
    const session = await hostileSession('hostile_leak_workspace', 8 * 1024 * 1024);
    for (let i = 0; i < 5; i++) {
      const [y] = await session.run([vector(1, 1, 1, 1)]);
      assert.deepEqual(valuesOf(y!), [2, 2, 2, 2]);
    }
  });

  it('refuses a parallel launch through a function index outside the table', async () => {
    await failsWith('hostile_bad_launch', /function index 2147483632 is not in the table/);
  });

  it('refuses nested parallel launches', async () => {
    await failsWith('hostile_nested_launch', /nested parallel regions are not supported/);
  });

  it('keeps memory.grow inside the library under the limit', async () => {
    const [y] = await (await hostileSession('hostile_grow_memory')).run([vector(1, 2, 3, 4)]);
    assert.deepEqual(valuesOf(y!), [2, 4, 6, 8]);
  });

  it('restores argument descriptors an operator overwrote before the next run', async () => {
    const session = await hostileSession('hostile_clobber');
    for (let i = 0; i < 3; i++) {
      const [y] = await session.run([vector(i, 1, 2, 3)]);
      assert.deepEqual(valuesOf(y!), [2 * i, 2, 4, 6]);
    }
  });

  it('leaves the process able to run a sound model afterwards', async () => {
    const model = await tvmEngine.load(helloWorldBundle());
    const [output] = await (
      await model.createSession()
    ).run([
      { dtype: 'float32', shape: [1, 1], data: new Uint8Array(new Float32Array([2]).buffer) },
    ]);
    assert.equal(
      new Float32Array(output!.data.slice().buffer)[0],
      referenceHelloWorld(helloWorldParams(), 2),
    );
  });
});
