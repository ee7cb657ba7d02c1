// Transport robustness and graceful shutdown of the real `semirt runtime` process.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  initBody,
  post,
  runBody,
  startRuntimeProcess,
  type RuntimeProcess,
} from '../support/runtime-process.js';

const ACTION = `function main(p) {
  if (p.hold) return new Promise((resolve) => { process.once('SIGUSR2', () => resolve({ held: true })); console.log('holding'); });
  return { echo: p };
}`;

/** Writes raw bytes on a fresh connection and returns everything the server sends back. */
function raw(url: string, bytes: string, { halfClose = true } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(bytes);
      if (halfClose) socket.end();
    });
    let data = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
    socket.on('close', () => {
      resolve(data);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close first when it refuses a request; the data read so far is the answer.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve(data);
      else reject(err);
    });
  });
}

describe('transport', () => {
  let rt: RuntimeProcess;
  before(async () => {
    rt = await startRuntimeProcess({ args: ['--max-body-mb', '1'] });
    assert.equal((await rt.post('/init', initBody(ACTION))).status, 200);
  });
  after(async () => {
    await rt.stop('SIGKILL');
  });

  const alive = async (): Promise<void> => {
    const answer = await rt.post('/run', runBody({ ok: 1 }));
    assert.equal(answer.status, 200);
  };

  test('refuses a body over the limit with 413 and keeps serving', async () => {
    const answer = await rt.post('/run', runBody({ data: 'x'.repeat(2 * 1024 * 1024) }));
    assert.equal(answer.status, 413);
    assert.match((answer.json as { error: string }).error, /exceeds the limit of 1 MB/);
    await alive();
  });

  test('refuses a streamed body over the limit (chunked, no Content-Length) and keeps serving', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const chunks = Array.from({ length: 40 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const answer = await raw(
      rt.url,
      `POST /run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunks.join('')}0\r\n\r\n`,
      { halfClose: false },
    );
    // The server answers 413 and closes while the client still writes; the client's kernel may
    // then drop the answer on the reset, so either is accepted: what matters is what follows.
    assert.match(answer, /^$|^HTTP\/1\.1 413/);
    await alive();
  });

  test('answers unknown routes 404 and wrong methods 405, in JSON', async () => {
    const notFound = await rt.post('/foo', {});
    assert.equal(notFound.status, 404);
    assert.match((notFound.json as { error: string }).error, /Not found: "\/foo"/);
    const wrongMethod = await fetch(`${rt.url}/run`);
    assert.equal(wrongMethod.status, 405);
    assert.match(await wrongMethod.text(), /Method GET is not allowed on \/run: use POST/);
  });

  test('answers garbage bytes with 400 and keeps serving', async () => {
    const answer = await raw(rt.url, '\x00\x01garbage\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400/);
    await alive();
  });

  test('survives a connection closed in the middle of a body', async () => {
    const answer = await raw(
      rt.url,
      'POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"value":',
    );
    // The truncated request never reaches the action: either no answer or a 400.
    assert.match(answer, /^$|^HTTP\/1\.1 400/);
    await alive();
  });

  test('serves several requests on one keep-alive connection, never chunked', async () => {
    const request = (id: string): string => {
      const body = JSON.stringify(runBody({ id }));
      return `POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    };
    const answer = await raw(rt.url, request('a') + request('b') + request('c'));
    assert.equal(answer.match(/HTTP\/1\.1 200 OK/g)?.length, 3);
    assert.equal(answer.match(/content-length: \d+/gi)?.length, 3);
    assert.doesNotMatch(answer, /transfer-encoding/i);
  });

  test('keeps serving after a non-JSON body', async () => {
    const answer = await rt.post('/run', 'not json at all');
    assert.equal(answer.status, 400);
    await alive();
  });
});

describe('SIGTERM', () => {
  test('finishes in-flight activations, answers new ones 503, then exits 0', async () => {
    const rt = await startRuntimeProcess({ env: { __OW_ALLOW_CONCURRENT: 'true' } });
    assert.equal((await rt.post('/init', initBody(ACTION))).status, 200);
    const held = rt.post('/run', runBody({ hold: true }));
    await rt.waitForStdout('holding');
    const exited = new Promise<number | null>((resolve) => rt.child.once('exit', resolve));
    rt.child.kill('SIGTERM');
    // The drain has begun once the log line is out; new work is refused from then on.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (rt.stderr().includes('"msg":"shutting down"')) resolve();
        else rt.child.stderr!.once('data', check);
      };
      check();
    });
    const refused = await post(`${rt.url}/run`, runBody({ late: true }));
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.json, { error: 'The runtime is shutting down.' });
    rt.child.kill('SIGUSR2');
    assert.deepEqual((await held).json, { held: true });
    assert.equal(await exited, 0);
  });
});
