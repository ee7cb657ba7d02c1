import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSemirtError } from '../errors.js';
import { tcbStatusesSetting } from './attestation.js';
import { keyServiceOptions } from './keyservice.js';

const FILES = {};

describe('keyServiceOptions()', () => {
  it("defaults to SeSeMI's ports, strict mode and a sealing key beside the database", () => {
    const options = keyServiceOptions(FILES, {});
    assert.equal(options.clientPort, 13570);
    assert.equal(options.workerPort, 13571);
    assert.equal(options.sesemiCompat, false);
    assert.equal(options.sealingKeyFile, 'keyservice.db.sealing-key');
    assert.equal(options.maxClientBodyBytes, 65536);
    assert.equal(options.attestation.mode, 'production');
    assert.equal(options.attestation.attesterScheme, 'sgx-dcap');
  });

  it('reads environment variables when flags are absent, flags first', () => {
    const env = {
      SEMIRT_KEYSERVICE_CLIENT_PORT: '9000',
      SEMIRT_KEYSERVICE_DB: '/data/ks.db',
      SEMIRT_KEYSERVICE_SESEMI_COMPAT: 'TRUE',
      SEMIRT_ATTESTATION_MODE: 'simulation',
      SEMIRT_SIM_DCAP_DIR: '/s/sim',
    };
    const options = keyServiceOptions({ clientPort: '9001' }, env);
    assert.equal(options.clientPort, 9001);
    assert.equal(options.dbPath, '/data/ks.db');
    assert.equal(options.sealingKeyFile, '/data/ks.db.sealing-key');
    assert.equal(options.sesemiCompat, true);
    assert.equal(options.attestation.mode, 'simulation');
    assert.equal(options.attestation.attesterScheme, 'sim-dcap');
    assert.equal(options.attestation.simDir, '/s/sim');
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
      () => keyServiceOptions({ attestationMode: 'test' }, {}),
      (e) => isSemirtError(e, 'INVALID_OPTION') && e.message.includes('--attestation-mode'),
    );
  });

  it('accepts only UpToDate evidence by default, and a list of known TCB statuses given by flag or env', () => {
    assert.deepEqual(keyServiceOptions(FILES, {}).workerTcbStatuses, ['UpToDate']);
    assert.deepEqual(
      keyServiceOptions(FILES, { SEMIRT_ACCEPT_TCB_STATUSES: 'uptodate, SWHardeningNeeded' })
        .workerTcbStatuses,
      ['UpToDate', 'SWHardeningNeeded'],
    );
    assert.throws(
      () => tcbStatusesSetting('UpToDate,Revoked', {}),
      (e) =>
        isSemirtError(e, 'INVALID_OPTION') &&
        e.message.includes('--accept-tcb-statuses') &&
        e.message.includes('"UpToDate,Revoked"'),
    );
  });
});
