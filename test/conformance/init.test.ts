// OpenWhisk /init contract (openwhisk-contract.md §2), against the real `semirt runtime` process.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import {
  initBody,
  runBody,
  startRuntimeProcess,
  type RuntimeProcess,
} from '../support/runtime-process.js';
import { tarGz } from '../support/tar.js';

const started: RuntimeProcess[] = [];
after(async () => {
  await Promise.all(started.map((rt) => rt.stop('SIGKILL')));
});

async function runtime(env?: Record<string, string>): Promise<RuntimeProcess> {
  const rt = await startRuntimeProcess(env === undefined ? {} : { env });
  started.push(rt);
  return rt;
}

const ECHO = 'function main(params) { return params; }';

/** Proves that nothing before wrote a sentinel: one /run must leave exactly one per stream. */
async function runOnceAndCheckSentinels(rt: RuntimeProcess): Promise<void> {
  assert.equal((await rt.post('/run', runBody({}))).status, 200);
  await rt.waitForSentinels(1);
  assert.deepEqual(rt.sentinels(), { stdout: 1, stderr: 1 });
}

describe('/init', () => {
  test('answers 200 {"OK":true} and writes no sentinel on success', async () => {
    const rt = await runtime();
    const answer = await rt.post('/init', initBody(ECHO));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { OK: true });
    await runOnceAndCheckSentinels(rt);
  });

  test('refuses a second /init with 403 and writes no sentinel', async () => {
    const rt = await runtime();
    await rt.post('/init', initBody(ECHO));
    const answer = await rt.post('/init', initBody(ECHO));
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.json, { error: 'Cannot initialize the action more than once.' });
    await rt.waitForStderr('Internal system error: Cannot initialize the action more than once.');
    await runOnceAndCheckSentinels(rt);
  });

  for (const [label, body] of [
    ['an empty body object', {}],
    ['a null value', { value: null }],
    ['no code', { value: { main: 'main' } }],
    ['empty code', { value: { main: 'main', code: '' } }],
    ['a non-string main', { value: { main: 42, code: ECHO } }],
  ] as const) {
    test(`answers 403 "Missing main/no code to execute." for ${label}`, async () => {
      const rt = await runtime();
      const answer = await rt.post('/init', body);
      assert.equal(answer.status, 403);
      assert.deepEqual(answer.json, { error: 'Missing main/no code to execute.' });
      // The runtime is still uninitialized: a good /init succeeds afterwards.
      assert.equal((await rt.post('/init', initBody(ECHO))).status, 200);
    });
  }

  test('accepts "main": "" as the default entry point', async () => {
    const rt = await runtime();
    assert.equal((await rt.post('/init', initBody(ECHO, { main: '' }))).status, 200);
    assert.deepEqual((await rt.post('/run', runBody({ a: 1 }))).json, { a: 1 });
  });

  test('exports env entries before the action code is evaluated', async () => {
    const rt = await runtime();
    const code = `const seen = process.env.MY_INIT_PARAM; function main() { return { seen, api: process.env.__OW_API_KEY }; }`;
    const init = await rt.post(
      '/init',
      initBody(code, { env: { MY_INIT_PARAM: 'init-value', __OW_API_KEY: 'k:1' } }),
    );
    assert.equal(init.status, 200);
    assert.deepEqual((await rt.post('/run', runBody({}))).json, { seen: 'init-value', api: 'k:1' });
  });

  test('answers 502 for a syntax error, with one sentinel per stream, and is then stopped', async () => {
    const rt = await runtime();
    const answer = await rt.post('/init', initBody('function main() { return {'));
    assert.equal(answer.status, 502);
    assert.match(
      (answer.json as { error: string }).error,
      /^Initialization has failed due to: .*SyntaxError/s,
    );
    await rt.waitForSentinels(1);
    assert.match(rt.stderr(), /Error during initialization: /);
    assert.deepEqual(rt.sentinels(), { stdout: 1, stderr: 1 });
    const again = await rt.post('/init', initBody(ECHO));
    assert.equal(again.status, 403);
    assert.deepEqual(again.json, { error: 'System not ready, status is stopped.' });
  });

  test('answers 502 when the code throws while loading', async () => {
    const rt = await runtime();
    const answer = await rt.post('/init', initBody('throw new Error("load failure");'));
    assert.equal(answer.status, 502);
    assert.match((answer.json as { error: string }).error, /load failure/);
  });

  test('answers 502 when the entry point is missing', async () => {
    const rt = await runtime();
    const answer = await rt.post('/init', initBody('function other() {}'));
    assert.equal(answer.status, 502);
    assert.deepEqual(answer.json, {
      error: "Initialization has failed due to: Action entrypoint 'main' is not a function.",
    });
  });

  test('resolves a custom entry point name and module.exports', async () => {
    const rt = await runtime();
    const code = 'module.exports.niam = (p) => ({ via: "exports", p });';
    assert.equal((await rt.post('/init', initBody(code, { main: 'niam' }))).status, 200);
    assert.deepEqual((await rt.post('/run', runBody({ x: 1 }))).json, {
      via: 'exports',
      p: { x: 1 },
    });
  });

  test('loads ES module source with a named export', async () => {
    const rt = await runtime();
    const code = `import { createHash } from 'node:crypto';
export async function main(p) { return { h: createHash('sha256').update(p.s).digest('hex').slice(0, 8) }; }`;
    assert.equal((await rt.post('/init', initBody(code))).status, 200);
    assert.deepEqual((await rt.post('/run', runBody({ s: 'abc' }))).json, { h: 'ba7816bf' });
  });

  test('loads ES module source with a default export as main', async () => {
    const rt = await runtime();
    assert.equal(
      (await rt.post('/init', initBody('export default (p) => ({ d: p.n * 2 });'))).status,
      200,
    );
    assert.deepEqual((await rt.post('/run', runBody({ n: 21 }))).json, { d: 42 });
  });

  test('gives hosted code the action API as the "semirt" module', async () => {
    const rt = await runtime();
    const code = `const { activation } = require('semirt'); function main() { return { id: activation().activationId }; }`;
    assert.equal((await rt.post('/init', initBody(code))).status, 200);
    assert.deepEqual((await rt.post('/run', runBody({}, { activation_id: 'xyz' }))).json, {
      id: 'xyz',
    });
  });

  test('rejects malformed JSON with 400 and stays uninitialized', async () => {
    const rt = await runtime();
    const answer = await rt.post('/init', '{"value": ');
    assert.equal(answer.status, 400);
    assert.match((answer.json as { error: string }).error, /not valid JSON/);
    assert.equal((await rt.post('/init', initBody(ECHO))).status, 200);
  });
});

describe('/init with archives (binary: true)', () => {
  const zip = (files: Record<string, string>): string =>
    Buffer.from(
      zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)]))),
    ).toString('base64');

  test('loads a zip with package.json naming its main file', async () => {
    const rt = await runtime();
    const code = zip({
      'package.json': JSON.stringify({ name: 'a', main: 'lib/entry.js' }),
      'lib/entry.js': 'const h = require("./helper"); exports.main = (p) => ({ r: h(p.n) });',
      'lib/helper.js': 'module.exports = (n) => n + 1;',
    });
    assert.equal((await rt.post('/init', initBody(code, { binary: true }))).status, 200);
    assert.deepEqual((await rt.post('/run', runBody({ n: 1 }))).json, { r: 2 });
  });

  test('resolves "file.export.path" entry points in a zip', async () => {
    const rt = await runtime();
    const code = zip({
      'index.js': 'exports.main = () => ({ wrong: true });',
      'other.js': 'exports.niam = { xyz: (p) => ({ deep: p.v }) };',
    });
    assert.equal(
      (await rt.post('/init', initBody(code, { binary: true, main: 'other.niam.xyz' }))).status,
      200,
    );
    assert.deepEqual((await rt.post('/run', runBody({ v: 'ok' }))).json, { deep: 'ok' });
  });

  test('loads an ES module package from a zip', async () => {
    const rt = await runtime();
    const code = zip({
      'package.json': JSON.stringify({ type: 'module', main: 'index.js' }),
      'index.js': 'export const main = (p) => ({ esm: p.v });',
    });
    assert.equal((await rt.post('/init', initBody(code, { binary: true }))).status, 200);
    assert.deepEqual((await rt.post('/run', runBody({ v: 3 }))).json, { esm: 3 });
  });

  test('loads a tar.gz archive', async () => {
    const rt = await runtime();
    const archive = tarGz({ 'index.js': 'exports.main = () => ({ tar: true });' });
    assert.equal(
      (await rt.post('/init', initBody(archive.toString('base64'), { binary: true }))).status,
      200,
    );
    assert.deepEqual((await rt.post('/run', runBody({}))).json, { tar: true });
  });

  test('answers 502 for a zip without package.json or index.js', async () => {
    const rt = await runtime();
    const answer = await rt.post('/init', initBody(zip({ 'x.js': '' }), { binary: true }));
    assert.equal(answer.status, 502);
    assert.match(
      (answer.json as { error: string }).error,
      /Zipped actions must contain either package\.json or index\.js at the root\./,
    );
    await rt.waitForSentinels(1);
    assert.deepEqual(rt.sentinels(), { stdout: 1, stderr: 1 });
  });

  test('answers 502 for base64 that is not an archive', async () => {
    const rt = await runtime();
    const answer = await rt.post(
      '/init',
      initBody(Buffer.from('plain text').toString('base64'), { binary: true }),
    );
    assert.equal(answer.status, 502);
    assert.match(
      (answer.json as { error: string }).error,
      /There was an error uncompressing the action archive\. The file type is unsupported/,
    );
  });

  test('refuses zip entries that escape the action folder', async () => {
    const rt = await runtime();
    const answer = await rt.post(
      '/init',
      initBody(zip({ '../evil.js': 'x', 'index.js': '' }), { binary: true }),
    );
    assert.equal(answer.status, 502);
    assert.match((answer.json as { error: string }).error, /points outside the action folder/);
  });
});
