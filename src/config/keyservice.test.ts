import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSemirtError } from '../errors.js';
import { keyServiceOptions } from './keyservice.js';

const FILES = { tlsCert: 'c.pem', tlsKey: 'k.pem', workerPins: 'p.json' };

describe('keyServiceOptions()', () => {
  it("defaults to SeSeMI's ports, strict mode and a sealing key beside the database", () => {
    const options = keyServiceOptions(FILES, {});
    assert.equal(options.clientPort, 13570);
    assert.equal(options.workerPort, 13571);
    assert.equal(options.sesemiCompat, false);
    assert.equal(options.sealingKeyFile, 'keyservice.db.sealing-key');
    assert.equal(options.maxClientBodyBytes, 65536);
  });

  it('reads environment variables when flags are absent, flags first', () => {
    const env = {
      SEMIRT_KEYSERVICE_CLIENT_PORT: '9000',
      SEMIRT_KEYSERVICE_DB: '/data/ks.db',
      SEMIRT_KEYSERVICE_SESEMI_COMPAT: 'TRUE',
      SEMIRT_KEYSERVICE_TLS_CERT: '/s/c.pem',
      SEMIRT_KEYSERVICE_TLS_KEY: '/s/k.pem',
      SEMIRT_KEYSERVICE_WORKER_PINS: '/s/p.json',
    };
    const options = keyServiceOptions({ clientPort: '9001' }, env);
    assert.equal(options.clientPort, 9001);
    assert.equal(options.dbPath, '/data/ks.db');
    assert.equal(options.sealingKeyFile, '/data/ks.db.sealing-key');
    assert.equal(options.sesemiCompat, true);
    assert.equal(options.tlsCertFile, '/s/c.pem');
  });

  it('names the flag or variable that is invalid or missing', () => {
    assert.throws(
      () => keyServiceOptions({ ...FILES, workerPort: '70000' }, {}),
      (e) => isSemirtError(e, 'INVALID_OPTION') && e.message.includes('--worker-port'),
    );
    assert.throws(
      () => keyServiceOptions(FILES, { SEMIRT_KEYSERVICE_SESEMI_COMPAT: 'yes' }),
      (e) =>
        isSemirtError(e, 'INVALID_OPTION') && e.message.includes('SEMIRT_KEYSERVICE_SESEMI_COMPAT'),
    );
    assert.throws(
      () => keyServiceOptions({ tlsCert: 'c', tlsKey: 'k' }, {}),
      (e) => isSemirtError(e, 'INVALID_OPTION') && e.message.includes('--worker-pins'),
    );
  });
});
