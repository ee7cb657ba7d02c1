import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSemirtError } from '../errors.js';
import { attestationConfig } from './attestation.js';

describe('attestationConfig()', () => {
  test('defaults to production mode with the Gramine (sgx-dcap) attester and verifier', () => {
    const config = attestationConfig({}, {});
    assert.equal(config.mode, 'production');
    assert.equal(config.attesterScheme, 'sgx-dcap');
    assert.deepEqual(config.verifierSchemes, ['sgx-dcap']);
  });

  test('simulation defaults to sim-dcap; flags win over environment variables', () => {
    const config = attestationConfig(
      { attestationMode: 'simulation', simDcapDir: '/flag' },
      { SEMIRT_ATTESTATION_MODE: 'production', SEMIRT_SIM_DCAP_DIR: '/env' },
    );
    assert.equal(config.mode, 'simulation');
    assert.equal(config.attesterScheme, 'sim-dcap');
    assert.equal(config.simDir, '/flag');
  });

  test('reads accepted schemes and files from the environment', () => {
    const config = attestationConfig(
      {},
      {
        SEMIRT_ACCEPT_SCHEMES: 'sgx-dcap, TDX-DCAP',
        SEMIRT_DCAP_ROOT: '/root.der',
        SEMIRT_SGX_COLLATERAL: '/sgx.json',
        SEMIRT_TDX_COLLATERAL: '/tdx.json',
        SEMIRT_GRAMINE_DIR: '/dev/attestation',
      },
    );
    assert.deepEqual(config.verifierSchemes, ['sgx-dcap', 'tdx-dcap']);
    assert.equal(config.rootFile, '/root.der');
    assert.equal(config.sgxCollateralFile, '/sgx.json');
    assert.equal(config.tdxCollateralFile, '/tdx.json');
    assert.equal(config.gramineDir, '/dev/attestation');
  });

  test('names the flag or variable of an invalid value', () => {
    assert.throws(
      () => attestationConfig({ attestationMode: 'test' }, {}),
      (e: unknown) =>
        isSemirtError(e, 'INVALID_OPTION') && e.message.includes('--attestation-mode'),
    );
    assert.throws(
      () => attestationConfig({}, { SEMIRT_ACCEPT_SCHEMES: 'sgx-dcap,epid' }),
      (e: unknown) =>
        isSemirtError(e, 'INVALID_OPTION') && e.message.includes('SEMIRT_ACCEPT_SCHEMES'),
    );
  });
});
