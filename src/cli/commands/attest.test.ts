import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { attestVerify } from './attest.js';

const VECTORS = join(SHARED_DATA, 'attestation', 'phala-dcap-qvl');
const flags = {
  quote: join(VECTORS, 'sgx_quote'),
  collateral: join(VECTORS, 'sgx_quote_collateral.json'),
  root: join(VECTORS, 'TrustedRootCA.der'),
};

describe('attestVerify() (semirt attest verify)', () => {
  test('prints the verified fields of the real SGX quote at a time inside its collateral window', async () => {
    const output = await attestVerify({ ...flags, at: '2025-07-04T00:00:00Z' });
    assert.ok(output.ok);
    assert.equal(output.result['tcbStatus'], 'ConfigurationAndSWHardeningNeeded');
    assert.equal(typeof output.result['reportData'], 'string');
  });

  test("reports the failed check's code at today's date", async () => {
    const output = await attestVerify(flags);
    assert.ok(!output.ok);
    assert.equal(output.error.code, 'ATTESTATION_COLLATERAL_EXPIRED');
  });

  test('reports an invalid --at or unreadable file as INVALID_OPTION', async () => {
    const badTime = await attestVerify({ ...flags, at: 'yesterday' });
    assert.ok(!badTime.ok);
    assert.equal(badTime.error.code, 'INVALID_OPTION');
    const missing = await attestVerify({ ...flags, quote: join(VECTORS, 'missing') });
    assert.ok(!missing.ok);
    assert.equal(missing.error.code, 'INVALID_OPTION');
  });
});
