import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Action, ActionLoader } from '../actions/action.js';
import { silentLogger } from '../log/logger.js';
import type { ProxyOutput } from './output.js';
import { createProxy, type Proxy } from './proxy.js';

/** Records what the proxy writes instead of the real streams. */
function recorder(): ProxyOutput & { sentinelCount: number; errors: string[] } {
  return {
    sentinelCount: 0,
    errors: [],
    sentinels() {
      this.sentinelCount++;
    },
    error(line) {
      this.errors.push(line);
    },
  };
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const post = (proxy: Proxy, path: string, body: unknown) =>
  proxy.handle({ method: 'POST', path, body: json(body) });
const parse = (body: Buffer): unknown => JSON.parse(body.toString('utf8'));

function deferred(): { promise: Promise<unknown>; resolve: (value: unknown) => void } {
  let resolve!: (value: unknown) => void;
  const promise = new Promise<unknown>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('createProxy()', () => {
  test('initializes a built-in action without code and runs it', async () => {
    const builtin: Action = { invoke: (value) => ({ builtin: value }) };
    const output = recorder();
    const proxy = createProxy({
      allowConcurrent: true,
      loadAction: () => Promise.reject(new Error('not called')),
      builtinAction: builtin,
      output,
      logger: silentLogger(),
    });
    assert.equal((await post(proxy, '/init', { value: {} })).status, 200);
    const answer = await post(proxy, '/run', { value: { a: 1 } });
    assert.deepEqual(parse(answer.body), { builtin: { a: 1 } });
    assert.equal(output.sentinelCount, 1);
  });

  test('refuses /init while another /init is loading', async () => {
    const loading = deferred();
    const loadAction: ActionLoader = async () => {
      await loading.promise;
      return { invoke: () => ({}) };
    };
    const proxy = createProxy({
      allowConcurrent: false,
      loadAction,
      output: recorder(),
      logger: silentLogger(),
    });
    const first = post(proxy, '/init', { value: { code: 'x' } });
    const second = await post(proxy, '/init', { value: { code: 'x' } });
    assert.equal(second.status, 403);
    assert.deepEqual(parse(second.body), { error: 'System not ready, status is starting.' });
    loading.resolve(undefined);
    assert.equal((await first).status, 200);
  });

  test('drain() answers new work 503 and resolves when the last activation ends', async () => {
    const gate = deferred();
    const proxy = createProxy({
      allowConcurrent: true,
      loadAction: () =>
        Promise.resolve({ invoke: () => gate.promise.then(() => ({ done: true })) }),
      output: recorder(),
      logger: silentLogger(),
    });
    await post(proxy, '/init', { value: { code: 'x' } });
    const running = post(proxy, '/run', { value: {} });
    let drained = false;
    const draining = proxy.drain().then(() => {
      drained = true;
    });
    const refused = await post(proxy, '/run', { value: {} });
    assert.equal(refused.status, 503);
    assert.equal(drained, false);
    assert.equal(proxy.inFlight, 1);
    gate.resolve(undefined);
    assert.deepEqual(parse((await running).body), { done: true });
    await draining;
    assert.equal(proxy.inFlight, 0);
  });

  test('writes /init env entries, stringifying non-strings', async () => {
    const proxy = createProxy({
      allowConcurrent: false,
      loadAction: () => Promise.resolve({ invoke: () => ({}) }),
      output: recorder(),
      logger: silentLogger(),
    });
    const env = { SEMIRT_T_STR: 's', SEMIRT_T_NUM: 5, SEMIRT_T_NULL: null, SEMIRT_T_OBJ: { a: 1 } };
    assert.equal((await post(proxy, '/init', { value: { code: 'x', env } })).status, 200);
    assert.equal(process.env['SEMIRT_T_STR'], 's');
    assert.equal(process.env['SEMIRT_T_NUM'], '5');
    assert.equal(process.env['SEMIRT_T_NULL'], '');
    assert.equal(process.env['SEMIRT_T_OBJ'], '{"a":1}');
  });

  test('refuses an /init env that is not an object', async () => {
    const proxy = createProxy({
      allowConcurrent: false,
      loadAction: () => Promise.resolve({ invoke: () => ({}) }),
      output: recorder(),
      logger: silentLogger(),
    });
    const answer = await post(proxy, '/init', { value: { code: 'x', env: 'A=1' } });
    assert.equal(answer.status, 400);
    assert.match(
      (parse(answer.body) as { error: string }).error,
      /"value\.env" must be a JSON object or null/,
    );
  });
});
