// Intra-container concurrency (openwhisk-contract.md §4), against the real `semirt runtime` process.
// Activations coordinate through a barrier inside the action (all N must be in flight before
// any continues), so the tests prove overlap without sleeps.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  initBody,
  runBody,
  startRuntimeProcess,
  type RuntimeProcess,
} from '../support/runtime-process.js';

const ACTION = `
const waiting = [];
let arrived = 0;
function arrive(n) {
  arrived++;
  const gate = new Promise((resolve) => waiting.push(resolve));
  if (arrived === n) { arrived = 0; waiting.splice(0).forEach((release) => release()); }
  return gate;
}
function main(p) {
  if (p.hold) return new Promise((resolve) => { process.once('SIGUSR2', () => resolve({ held: true })); console.log('holding'); });
  const gate = p.barrier ? arrive(p.barrier) : Promise.resolve();
  if (p.fail === 'throw') throw new Error('sync failure ' + p.i);
  return gate.then(() => new Promise((resolve) => setImmediate(resolve))).then(() => {
    if (p.fail === 'reject') throw new Error('rejected ' + p.i);
    if (p.fail === 'bad') return 'not an object';
    return {
      i: p.i,
      env: process.env.__OW_ACTIVATION_ID,
      deadline: process.env.__OW_DEADLINE,
      ctx: require('semirt').activation().activationId,
    };
  });
}`;

const started: RuntimeProcess[] = [];
after(async () => {
  await Promise.all(started.map((rt) => rt.stop('SIGKILL')));
});

async function runtime(concurrent: boolean): Promise<RuntimeProcess> {
  const rt = await startRuntimeProcess(
    concurrent ? { env: { __OW_ALLOW_CONCURRENT: 'true' } } : {},
  );
  started.push(rt);
  assert.equal((await rt.post('/init', initBody(ACTION))).status, 200);
  return rt;
}

const activationId = (i: number): string => `act${String(i).padStart(29, '0')}`;

describe('without __OW_ALLOW_CONCURRENT', () => {
  test('refuses an overlapping /run with 403 and no sentinel, then serves the next one', async () => {
    const rt = await runtime(false);
    const held = rt.post('/run', runBody({ hold: true }));
    await rt.waitForStdout('holding');
    const overlap = await rt.post('/run', runBody({ i: 1 }));
    assert.equal(overlap.status, 403);
    assert.deepEqual(overlap.json, { error: 'System not ready, status is running.' });
    await rt.waitForStderr('Internal system error: System not ready, status is running.');
    rt.child.kill('SIGUSR2');
    assert.deepEqual((await held).json, { held: true });
    const next = await rt.post('/run', runBody({ i: 2 }, { activation_id: 'next' }));
    assert.equal(next.status, 200);
    assert.equal((next.json as { env: string }).env, 'next');
    // Two completed activations, none for the refused one.
    await rt.waitForSentinels(2);
    assert.deepEqual(rt.sentinels(), { stdout: 2, stderr: 2 });
  });
});

describe('with __OW_ALLOW_CONCURRENT=true', () => {
  test('128 overlapping activations each see only their own context', async () => {
    const rt = await runtime(true);
    const n = 128;
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        rt.post(
          '/run',
          runBody(
            { i, barrier: n },
            { activation_id: activationId(i), deadline: String(1000 + i) },
          ),
        ),
      ),
    );
    answers.forEach((answer, i) => {
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, {
        i,
        env: activationId(i),
        deadline: String(1000 + i),
        ctx: activationId(i),
      });
    });
    await rt.waitForSentinels(n);
    assert.deepEqual(rt.sentinels(), { stdout: n, stderr: n });
    // Nothing but sentinels on stdout: N sentinel lines in a row.
    assert.equal(rt.stdout(), 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n'.repeat(n));
  });

  test('a failing activation answers only itself; the others and later ones succeed', async () => {
    const rt = await runtime(true);
    const n = 16;
    const failures: Record<number, string> = { 3: 'throw', 7: 'reject', 11: 'bad' };
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        rt.post(
          '/run',
          runBody(
            { i, barrier: n, ...(failures[i] === undefined ? {} : { fail: failures[i] }) },
            { activation_id: activationId(i) },
          ),
        ),
      ),
    );
    answers.forEach((answer, i) => {
      const failure = failures[i];
      if (failure === 'throw') {
        assert.equal(answer.status, 502);
        assert.deepEqual(answer.json, { error: `An error has occurred: Error: sync failure ${i}` });
      } else if (failure === 'reject') {
        assert.equal(answer.status, 200);
        assert.equal(
          (answer.json as { error: { message: string } }).error.message,
          `rejected ${i}`,
        );
      } else if (failure === 'bad') {
        assert.equal(answer.status, 502);
      } else {
        assert.equal(answer.status, 200);
        assert.equal((answer.json as { ctx: string }).ctx, activationId(i));
      }
    });
    await rt.waitForSentinels(n);
    assert.deepEqual(rt.sentinels(), { stdout: n, stderr: n });
    const later = await rt.post('/run', runBody({ i: 99 }, { activation_id: 'later' }));
    assert.equal(later.status, 200);
    assert.equal((later.json as { ctx: string }).ctx, 'later');
  });
});
