import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { QuoteVerifier } from '@phala/dcap-qvl';
import { isSemirtError } from '../errors.js';
import { verifyDcapQuote } from './dcap.js';
import { SIM_ADVISORY, SIM_SIGNER, SimDcapAuthority } from './sim-dcap.js';

const MEASUREMENT = 'a1'.repeat(32);
const REPORT_DATA = Uint8Array.from({ length: 64 }, (_, i) => i);
const DAY_MS = 24 * 60 * 60 * 1000;

let base: string;
let authority: SimDcapAuthority;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'semirt-sim-'));
  authority = await SimDcapAuthority.create(join(base, 'main'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('SimDcapAuthority', () => {
  test('attester() mints SGX v3 quotes that the unchanged DCAP verifier accepts with the test root', async () => {
    const quote = await authority
      .attester({ measurement: MEASUREMENT, productId: 3, svn: 7 })
      .attest(REPORT_DATA);
    assert.equal(Buffer.from(quote).readUInt16LE(0), 3);
    const result = verifyDcapQuote(quote, authority.collateral, {
      root: new X509Certificate(authority.rootDer),
      now: new Date(),
    });
    assert.equal(result.measurement, MEASUREMENT);
    assert.equal(result.signer, SIM_SIGNER);
    assert.equal(result.productId, 3);
    assert.equal(result.svn, 7);
    assert.equal(result.debug, false);
    assert.equal(result.tcbStatus, 'UpToDate');
    assert.deepEqual(Buffer.from(result.reportData), Buffer.from(REPORT_DATA));
  });

  test('its quotes and collateral also pass @phala/dcap-qvl with the test root pinned', async () => {
    const quote = await authority.attester({ measurement: MEASUREMENT }).attest(REPORT_DATA);
    const report = QuoteVerifier.newWithRootCa(authority.rootDer).verify(
      Buffer.from(quote),
      authority.collateral,
      Date.now() / 1000,
    );
    assert.equal(report.status, 'UpToDate');
  });

  test('load() in another instance pins the same root and accepts quotes minted by the first', async () => {
    const loaded = await SimDcapAuthority.load(authority.dir);
    assert.deepEqual(loaded.rootDer, authority.rootDer);
    const quote = await authority.attester({ measurement: MEASUREMENT }).attest(REPORT_DATA);
    const result = await loaded.verifier().verify(quote, { now: new Date() });
    assert.equal(result.scheme, 'sim-dcap');
    assert.equal(result.measurement, MEASUREMENT);
  });

  test('ensure() creates the authority once; concurrent callers end with the same root', async () => {
    const dir = join(base, 'ensured');
    const [a, b] = await Promise.all([SimDcapAuthority.ensure(dir), SimDcapAuthority.ensure(dir)]);
    const c = await SimDcapAuthority.ensure(dir);
    assert.deepEqual(a.rootDer, b.rootDer);
    assert.deepEqual(a.rootDer, c.rootDer);
  });

  test('ensure() re-signs collateral that is about to expire', async () => {
    const dir = join(base, 'stale');
    await SimDcapAuthority.create(dir, {
      now: new Date(Date.now() - 40 * DAY_MS),
      collateralDays: 30,
    });
    const ensured = await SimDcapAuthority.ensure(dir);
    const quote = await ensured.attester({ measurement: MEASUREMENT }).attest(REPORT_DATA);
    assert.equal(
      (await ensured.verifier().verify(quote, { now: new Date() })).tcbStatus,
      'UpToDate',
    );
    const reloaded = await SimDcapAuthority.load(dir);
    assert.deepEqual(reloaded.collateral, ensured.collateral);
  });

  test('load() of a missing folder fails with ATTESTATION_SIM_AUTHORITY', async () => {
    await assert.rejects(SimDcapAuthority.load(join(base, 'missing')), (error: unknown) =>
      isSemirtError(error, 'ATTESTATION_SIM_AUTHORITY'),
    );
  });

  test('revokePck() makes its quotes fail as revoked', async () => {
    const own = await SimDcapAuthority.create(join(base, 'revoked'));
    const quote = await own.attester({ measurement: MEASUREMENT }).attest(REPORT_DATA);
    const revoked = await own.revokePck();
    await assert.rejects(revoked.verifier().verify(quote, { now: new Date() }), (error: unknown) =>
      isSemirtError(error, 'ATTESTATION_CERT_REVOKED'),
    );
    const reloaded = await SimDcapAuthority.load(own.dir);
    await assert.rejects(reloaded.verifier().verify(quote, { now: new Date() }), (error: unknown) =>
      isSemirtError(error, 'ATTESTATION_CERT_REVOKED'),
    );
  });

  test('collateral past its next update fails as expired until refreshCollateral()', async () => {
    const old = await SimDcapAuthority.create(join(base, 'old'), {
      now: new Date(Date.now() - 100 * DAY_MS),
      collateralDays: 30,
    });
    const quote = await old.attester({ measurement: MEASUREMENT }).attest(REPORT_DATA);
    await assert.rejects(old.verifier().verify(quote, { now: new Date() }), (error: unknown) =>
      isSemirtError(error, 'ATTESTATION_COLLATERAL_EXPIRED'),
    );
    const fresh = await old.refreshCollateral();
    assert.equal((await fresh.verifier().verify(quote, { now: new Date() })).tcbStatus, 'UpToDate');
  });

  test('a TCB status option gives that status with the sim advisory', async () => {
    const outdated = await SimDcapAuthority.create(join(base, 'outdated'), {
      tcbStatus: 'OutOfDate',
    });
    const quote = await outdated.attester({ measurement: MEASUREMENT }).attest(REPORT_DATA);
    const result = await outdated.verifier().verify(quote, { now: new Date() });
    assert.equal(result.tcbStatus, 'OutOfDate');
    assert.deepEqual(result.advisoryIds, [SIM_ADVISORY]);
  });

  test('a debug identity sets the DEBUG attribute the verifier reports', async () => {
    const quote = await authority
      .attester({ measurement: MEASUREMENT, debug: true })
      .attest(REPORT_DATA);
    assert.equal((await authority.verifier().verify(quote, { now: new Date() })).debug, true);
  });

  test('attest() rejects report data that is not 64 bytes and identities with bad hex', async () => {
    await assert.rejects(
      authority.attester({ measurement: MEASUREMENT }).attest(new Uint8Array(32)),
      (error: unknown) => isSemirtError(error, 'INVALID_OPTION'),
    );
    assert.throws(
      () => authority.attester({ measurement: 'xyz' }),
      (error: unknown) => isSemirtError(error, 'INVALID_OPTION'),
    );
  });
});
