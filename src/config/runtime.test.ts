import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runtimeOptions } from './runtime.js';

describe('runtimeOptions()', () => {
  test('defaults to all interfaces, port 8080, 48 MB bodies, no concurrency', () => {
    assert.deepEqual(runtimeOptions({}, {}), {
      host: '0.0.0.0',
      port: 8080,
      allowConcurrent: false,
      maxBodyBytes: 48 * 1024 * 1024,
      drainTimeoutMs: 300_000,
      logLevel: 'warn',
    });
  });

  test('prefers flags over environment variables', () => {
    const options = runtimeOptions(
      { port: '9000', host: '127.0.0.1' },
      { PORT: '7000', SEMIRT_HOST: '::1' },
    );
    assert.equal(options.port, 9000);
    assert.equal(options.host, '127.0.0.1');
    assert.equal(runtimeOptions({}, { PORT: '7000' }).port, 7000);
  });

  test('enables concurrency only for __OW_ALLOW_CONCURRENT=true in any case', () => {
    assert.equal(runtimeOptions({}, { __OW_ALLOW_CONCURRENT: 'TRUE' }).allowConcurrent, true);
    assert.equal(runtimeOptions({}, { __OW_ALLOW_CONCURRENT: '1' }).allowConcurrent, false);
  });

  test('rejects an invalid port naming the flag and the value', () => {
    assert.throws(() => runtimeOptions({ port: 'abc' }, {}), {
      code: 'INVALID_OPTION',
      message: 'Invalid --port "abc": expected an integer from 0 to 65535',
    });
    assert.throws(() => runtimeOptions({}, { PORT: '70000' }), {
      message: 'Invalid PORT "70000": expected an integer from 0 to 65535',
    });
  });

  test('rejects an unknown log level listing the choices', () => {
    assert.throws(() => runtimeOptions({ logLevel: 'loud' }, {}), {
      message: /Invalid --log-level "loud": expected one of fatal, error, warn/,
    });
  });
});
