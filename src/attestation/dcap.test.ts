import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { verify as qvlVerify } from '@phala/dcap-qvl';
import { isSemirtError, type ErrorCode } from '../errors.js';
import { SHARED_DATA } from '../../test/support/paths.js';
import { parseCollateral, parseTcbInfo, type Collateral } from './collateral.js';
import { DcapVerifier, verifyDcapQuote } from './dcap.js';
import { INTEL_SGX_ROOT_CA_DER } from './intel-root.js';
import { SimDcapAuthority } from './sim-dcap.js';

const VECTORS = join(SHARED_DATA, 'attestation', 'phala-dcap-qvl');

interface Vector {
  quote: Buffer;
  collateral: Collateral;
  /** Midpoint of the TCB info window, inside every validity window of the collateral. */
  pinned: Date;
}

async function loadVector(kind: 'sgx' | 'tdx'): Promise<Vector> {
  const quote = await readFile(join(VECTORS, `${kind}_quote`));
  const json: unknown = JSON.parse(
    await readFile(join(VECTORS, `${kind}_quote_collateral.json`), 'utf8'),
  );
  const collateral = parseCollateral(json);
  const info = parseTcbInfo(collateral.tcb_info);
  const pinned = new Date((info.issueDate.getTime() + info.nextUpdate.getTime()) / 2);
  return { quote, collateral, pinned };
}

function rejectsWith(code: ErrorCode, run: () => unknown): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isSemirtError(error), `expected a SemirtError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

const intelRoot = new X509Certificate(INTEL_SGX_ROOT_CA_DER);
let sgx: Vector;
let tdx: Vector;
let simDir: string;
let sim: SimDcapAuthority;

before(async () => {
  sgx = await loadVector('sgx');
  tdx = await loadVector('tdx');
  simDir = await mkdtemp(join(tmpdir(), 'semirt-dcap-'));
  sim = await SimDcapAuthority.create(join(simDir, 'authority'));
});

after(async () => {
  await rm(simDir, { recursive: true, force: true });
});

describe('verifyDcapQuote() with real Intel quotes', () => {
  test('accepts the SGX quote at the pinned time with its known status and advisories', () => {
    const result = verifyDcapQuote(sgx.quote, sgx.collateral, { root: intelRoot, now: sgx.pinned });
    assert.equal(result.teeType, 'sgx');
    assert.equal(result.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
    assert.deepEqual([...result.advisoryIds].sort(), ['INTEL-SA-00289', 'INTEL-SA-00615']);
    assert.equal(result.debug, false);
    assert.equal(result.measurement.length, 64);
  });

  test('accepts the TDX quote at the pinned time', () => {
    const result = verifyDcapQuote(tdx.quote, tdx.collateral, { root: intelRoot, now: tdx.pinned });
    assert.equal(result.teeType, 'tdx');
    assert.equal(result.tcbStatus, 'UpToDate');
    assert.equal(result.measurement.length, 96);
  });

  test('agrees with @phala/dcap-qvl on status, advisories, measurement and report data', () => {
    for (const v of [sgx, tdx]) {
      const ours = verifyDcapQuote(v.quote, v.collateral, { root: intelRoot, now: v.pinned });
      const theirs = qvlVerify(v.quote, v.collateral, v.pinned.getTime() / 1000);
      assert.equal(ours.tcbStatus, theirs.status);
      assert.deepEqual([...ours.advisoryIds].sort(), [...theirs.advisory_ids].sort());
      const report = theirs.report.data as unknown as {
        mrEnclave?: Uint8Array;
        mrTd?: Uint8Array;
        reportData: Uint8Array;
      };
      const measurement = report.mrEnclave ?? report.mrTd;
      assert.ok(measurement);
      assert.equal(ours.measurement, Buffer.from(measurement).toString('hex'));
      assert.deepEqual(Buffer.from(ours.reportData), Buffer.from(report.reportData));
    }
  });

  test("rejects the quotes at today's date as expired collateral", () => {
    for (const v of [sgx, tdx]) {
      rejectsWith('ATTESTATION_COLLATERAL_EXPIRED', () =>
        verifyDcapQuote(v.quote, v.collateral, { root: intelRoot, now: new Date() }),
      );
    }
  });

  test('rejects a quote whose signed body has one byte changed', () => {
    for (const offset of [48 + 64, 48 + 320, 100]) {
      const quote = Buffer.from(sgx.quote);
      quote[offset]! ^= 0x01;
      rejectsWith('ATTESTATION_QUOTE_SIGNATURE', () =>
        verifyDcapQuote(quote, sgx.collateral, { root: intelRoot, now: sgx.pinned }),
      );
    }
  });

  test('rejects a quote with a changed QE report or attestation key', () => {
    const qeReport = Buffer.from(sgx.quote);
    qeReport[436 + 128 + 64]! ^= 0x01; // MRENCLAVE of the QE report
    rejectsWith('ATTESTATION_QE_REPORT_SIGNATURE', () =>
      verifyDcapQuote(qeReport, sgx.collateral, { root: intelRoot, now: sgx.pinned }),
    );
    const key = Buffer.from(sgx.quote);
    key[436 + 64]! ^= 0x01;
    rejectsWith('ATTESTATION_QE_REPORT_BINDING', () =>
      verifyDcapQuote(key, sgx.collateral, { root: intelRoot, now: sgx.pinned }),
    );
  });

  test('rejects a truncated quote and an unsupported version', () => {
    rejectsWith('ATTESTATION_QUOTE_MALFORMED', () =>
      verifyDcapQuote(sgx.quote.subarray(0, 1000), sgx.collateral, {
        root: intelRoot,
        now: sgx.pinned,
      }),
    );
    const v5 = Buffer.from(sgx.quote);
    v5.writeUInt16LE(5, 0);
    rejectsWith('ATTESTATION_QUOTE_UNSUPPORTED', () =>
      verifyDcapQuote(v5, sgx.collateral, { root: intelRoot, now: sgx.pinned }),
    );
  });

  test('rejects TCB info or QE identity with one byte changed', () => {
    const tcbInfo = {
      ...sgx.collateral,
      tcb_info: sgx.collateral.tcb_info.replace('"pcesvn":13', '"pcesvn":12'),
    };
    rejectsWith('ATTESTATION_TCB_INFO_SIGNATURE', () =>
      verifyDcapQuote(sgx.quote, tcbInfo, { root: intelRoot, now: sgx.pinned }),
    );
    const qeIdentity = {
      ...sgx.collateral,
      qe_identity: sgx.collateral.qe_identity.replace('"isvsvn":8', '"isvsvn":7'),
    };
    rejectsWith('ATTESTATION_QE_IDENTITY_SIGNATURE', () =>
      verifyDcapQuote(sgx.quote, qeIdentity, { root: intelRoot, now: sgx.pinned }),
    );
  });

  test('rejects a CRL whose signature does not verify', () => {
    const crl = Buffer.from(sgx.collateral.pck_crl, 'hex');
    crl[crl.length - 5]! ^= 0x01;
    const collateral = { ...sgx.collateral, pck_crl: crl.toString('hex') };
    rejectsWith('ATTESTATION_CRL_INVALID', () =>
      verifyDcapQuote(sgx.quote, collateral, { root: intelRoot, now: sgx.pinned }),
    );
  });

  test('rejects the real quotes when another root is pinned', () => {
    const otherRoot = new X509Certificate(sim.rootDer);
    rejectsWith('ATTESTATION_UNTRUSTED_ROOT', () =>
      verifyDcapQuote(sgx.quote, sgx.collateral, { root: otherRoot, now: sgx.pinned }),
    );
  });

  test('rejects a PCK CRL of another CA (fail closed: the PCK certificate stays unchecked)', () => {
    rejectsWith('ATTESTATION_CRL_INVALID', () =>
      verifyDcapQuote(sgx.quote, tdx.collateral, { root: intelRoot, now: sgx.pinned }),
    );
  });

  test('rejects a QE identity of another quoting enclave (the TDX QE for an SGX quote)', () => {
    const collateral = {
      ...tdx.collateral,
      pck_crl: sgx.collateral.pck_crl,
      pck_crl_issuer_chain: sgx.collateral.pck_crl_issuer_chain,
    };
    rejectsWith('ATTESTATION_QE_IDENTITY_MISMATCH', () =>
      verifyDcapQuote(sgx.quote, collateral, { root: intelRoot, now: sgx.pinned }),
    );
  });
});

describe('parseCollateral()', () => {
  test('rejects collateral with a missing field or non-hex CRL', () => {
    const missing = Object.fromEntries(
      Object.entries(sgx.collateral).filter(([k]) => k !== 'pck_crl'),
    );
    rejectsWith('ATTESTATION_COLLATERAL_MALFORMED', () => parseCollateral(missing));
    rejectsWith('ATTESTATION_COLLATERAL_MALFORMED', () =>
      parseCollateral({ ...sgx.collateral, root_ca_crl: 'zz' }),
    );
  });
});

describe('DcapVerifier', () => {
  test('verify() labels the result with its scheme and refuses quotes of the other TEE type', async () => {
    const verifier = new DcapVerifier({
      scheme: 'sgx-dcap',
      rootDer: INTEL_SGX_ROOT_CA_DER,
      collateral: () => sgx.collateral,
    });
    const result = await verifier.verify(sgx.quote, { now: sgx.pinned });
    assert.equal(result.scheme, 'sgx-dcap');
    await assert.rejects(verifier.verify(tdx.quote, { now: tdx.pinned }), (error: unknown) =>
      isSemirtError(error, 'ATTESTATION_NO_VERIFIER'),
    );
  });
});
