// OpenWhisk /run contract (openwhisk-contract.md §3, §5), against the real `semirt runtime` process.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SENTINEL } from '../../src/proxy/output.js';
import {
  initBody,
  runBody,
  startRuntimeProcess,
  type RuntimeProcess,
} from '../support/runtime-process.js';

// One action that behaves as `params.mode` says, so one process covers every outcome.
const ACTION = `
function main(params) {
  switch (params.mode) {
    case 'echo': return params;
    case 'undefined': return undefined;
    case 'array': return [1, 'two', { three: 3 }];
    case 'null': return null;
    case 'string': return 'just a string';
    case 'number': return 42;
    case 'promise': return new Promise((resolve) => setImmediate(() => resolve({ later: true })));
    case 'reject-object': return Promise.reject({ code: 7, why: 'bad input' });
    case 'reject-error': return Promise.reject(new Error('app error'));
    case 'reject-empty': return Promise.reject();
    case 'async-throw': return (async () => { throw new Error('async boom'); })();
    case 'throw': throw new Error('boom');
    case 'circular': { const o = {}; o.self = o; return o; }
    case 'big': return { data: 'x'.repeat(5 * 1024 * 1024) };
    case 'log': console.log('line one'); console.error('err one'); console.log('line two'); return {};
    case 'env': return {
      api_host: process.env.__OW_API_HOST, api_key: process.env.__OW_API_KEY,
      namespace: process.env.__OW_NAMESPACE, action_name: process.env.__OW_ACTION_NAME,
      action_version: process.env.__OW_ACTION_VERSION, activation_id: process.env.__OW_ACTIVATION_ID,
      deadline: process.env.__OW_DEADLINE, context: require('semirt').activation(),
    };
    default: return { mode: params.mode ?? null, type: Array.isArray(params) ? 'array' : typeof params };
  }
}`;

let rt: RuntimeProcess;
before(async () => {
  rt = await startRuntimeProcess({ env: { __OW_API_HOST: 'xyz' } });
  assert.equal((await rt.post('/init', initBody(ACTION))).status, 200);
});
after(async () => {
  await rt.stop('SIGKILL');
});

/**
 * Runs one activation and returns its answer with the sentinels it added; a completed activation
 * writes one per stream, a refused one none (checked by waiting for the next one's).
 */
async function run(value: unknown, context: Record<string, unknown> = {}, completes = true) {
  const before = rt.sentinels();
  const answer = await rt.post('/run', runBody(value, context));
  if (!completes) {
    await rt.post('/run', runBody({ mode: 'echo' }));
  }
  await rt.waitForSentinels(before.stdout + 1);
  const now = rt.sentinels();
  const extra = completes ? 0 : 1;
  return {
    ...answer,
    sentinels: {
      stdout: now.stdout - before.stdout - extra,
      stderr: now.stderr - before.stderr - extra,
    },
  };
}

describe('/run results', () => {
  test('passes value to main and answers its object with one sentinel per stream', async () => {
    const answer = await run({ mode: 'echo', n: 1 });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { mode: 'echo', n: 1 });
    assert.deepEqual(answer.sentinels, { stdout: 1, stderr: 1 });
    assert.equal(answer.headers.get('content-length'), String(Buffer.byteLength(answer.text)));
    assert.equal(answer.headers.get('transfer-encoding'), null);
  });

  test('gives main {} when value is missing or null', async () => {
    for (const body of [{}, { value: null }]) {
      const before = rt.sentinels().stdout;
      const answer = await rt.post('/run', body);
      assert.deepEqual(answer.json, { mode: null, type: 'object' });
      await rt.waitForSentinels(before + 1);
    }
  });

  test('passes an array value through', async () => {
    assert.deepEqual((await run([1, 2])).json, { mode: null, type: 'array' });
  });

  test('refuses a value that is neither object nor array with 400, without a sentinel', async () => {
    const answer = await run('a string', {}, false);
    assert.equal(answer.status, 400);
    assert.match(
      (answer.json as { error: string }).error,
      /"value" must be a JSON object or array, got string/,
    );
    assert.deepEqual(answer.sentinels, { stdout: 0, stderr: 0 });
  });

  test('answers {} when main returns undefined', async () => {
    assert.deepEqual((await run({ mode: 'undefined' })).json, {});
  });

  test('answers an array result', async () => {
    assert.deepEqual((await run({ mode: 'array' })).json, [1, 'two', { three: 3 }]);
  });

  for (const mode of ['null', 'string', 'number']) {
    test(`answers 502 when main returns a ${mode}, with sentinels`, async () => {
      const answer = await run({ mode });
      assert.equal(answer.status, 502);
      assert.deepEqual(answer.json, { error: 'The action did not return a dictionary or array.' });
      assert.deepEqual(answer.sentinels, { stdout: 1, stderr: 1 });
    });
  }

  test('answers the resolved value of a promise', async () => {
    assert.deepEqual((await run({ mode: 'promise' })).json, { later: true });
  });

  test('answers 200 {"error": value} for a rejection with a plain object', async () => {
    const answer = await run({ mode: 'reject-object' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { error: { code: 7, why: 'bad input' } });
  });

  test('answers 200 with name, message and stack for a rejected Error', async () => {
    const answer = await run({ mode: 'reject-error' });
    assert.equal(answer.status, 200);
    const error = (answer.json as { error: Record<string, unknown> }).error;
    assert.equal(error['name'], 'Error');
    assert.equal(error['message'], 'app error');
    assert.equal(typeof error['stack'], 'string');
  });

  test('answers 200 {"error": {}} for a rejection without a value', async () => {
    assert.deepEqual((await run({ mode: 'reject-empty' })).json, { error: {} });
  });

  test('answers 200 with the error for an async function that throws', async () => {
    const answer = await run({ mode: 'async-throw' });
    assert.equal(answer.status, 200);
    assert.equal((answer.json as { error: { message: string } }).error.message, 'async boom');
  });

  test('answers 502 for a synchronous throw and keeps serving later activations', async () => {
    const answer = await run({ mode: 'throw' });
    assert.equal(answer.status, 502);
    assert.deepEqual(answer.json, { error: 'An error has occurred: Error: boom' });
    assert.deepEqual(answer.sentinels, { stdout: 1, stderr: 1 });
    await rt.waitForStderr('Error: boom');
    assert.match(rt.stderr(), /Error: boom\n\s+at main/);
    const next = await run({ mode: 'echo' });
    assert.equal(next.status, 200);
  });

  test('answers 502 for a result that cannot be serialized', async () => {
    const answer = await run({ mode: 'circular' });
    assert.equal(answer.status, 502);
    assert.match((answer.json as { error: string }).error, /cannot be serialized to JSON/);
  });

  test('answers a 5 MB result whole, with its exact Content-Length', async () => {
    const answer = await run({ mode: 'big' });
    assert.equal(answer.status, 200);
    assert.equal((answer.json as { data: string }).data.length, 5 * 1024 * 1024);
    assert.equal(Number(answer.headers.get('content-length')), Buffer.byteLength(answer.text));
  });

  test('writes the sentinel after the output of the activation, in order', async () => {
    const start = rt.stdout().length;
    const errStart = rt.stderr().length;
    await run({ mode: 'log' });
    assert.equal(rt.stdout().slice(start), `line one\nline two\n${SENTINEL}\n`);
    assert.equal(rt.stderr().slice(errStart), `err one\n${SENTINEL}\n`);
  });
});

describe('/run activation context', () => {
  test('exports the context as __OW_* variables and through activation()', async () => {
    const answer = await run(
      { mode: 'env' },
      {
        api_key: 'abc',
        namespace: 'zzz',
        action_name: 'xxx',
        action_version: '0.0.1',
        activation_id: 'iii',
        transaction_id: 'ttt',
        deadline: '123',
      },
    );
    assert.deepEqual(answer.json, {
      api_host: 'xyz',
      api_key: 'abc',
      namespace: 'zzz',
      action_name: 'xxx',
      action_version: '0.0.1',
      activation_id: 'iii',
      deadline: '123',
      context: {
        activationId: 'iii',
        namespace: 'zzz',
        actionName: 'xxx',
        actionVersion: '0.0.1',
        transactionId: 'ttt',
        deadline: 123,
        apiKey: 'abc',
        env: {
          __OW_API_KEY: 'abc',
          __OW_NAMESPACE: 'zzz',
          __OW_ACTION_NAME: 'xxx',
          __OW_ACTION_VERSION: '0.0.1',
          __OW_ACTIVATION_ID: 'iii',
          __OW_TRANSACTION_ID: 'ttt',
          __OW_DEADLINE: '123',
        },
      },
    });
  });
});
