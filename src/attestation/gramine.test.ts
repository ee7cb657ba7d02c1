import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSemirtError } from '../errors.js';
import { GramineAttester } from './gramine.js';
import { SimDcapAuthority } from './sim-dcap.js';

// A fake /dev/attestation: plain files stand in for Gramine's pseudo-files. The "quote" file is
// written beforehand by a sim-dcap authority for the report data the test will write.
let base: string;
let device: string;
let authority: SimDcapAuthority;
const REPORT_DATA = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'semirt-gramine-'));
  device = join(base, 'attestation');
  authority = await SimDcapAuthority.create(join(base, 'authority'));
  await mkdir(device);
  await writeFile(join(device, 'attestation_type'), 'dcap\n');
  await writeFile(join(device, 'user_report_data'), new Uint8Array(64));
  await writeFile(
    join(device, 'quote'),
    await authority.attester({ measurement: 'cd'.repeat(32) }).attest(REPORT_DATA),
  );
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('GramineAttester', () => {
  test('attest() writes user_report_data and returns the quote the device gives', async () => {
    const attester = new GramineAttester({ deviceDir: device });
    await attester.probe();
    const quote = await attester.attest(REPORT_DATA);
    assert.deepEqual(await readFile(join(device, 'user_report_data')), Buffer.from(REPORT_DATA));
    const evidence = await authority.verifier().verify(quote, { now: new Date() });
    assert.deepEqual(Buffer.from(evidence.reportData), Buffer.from(REPORT_DATA));
  });

  test('probe() refuses a missing device and a non-DCAP attestation type', async () => {
    await assert.rejects(
      new GramineAttester({ deviceDir: join(base, 'none') }).probe(),
      (e: unknown) => isSemirtError(e, 'ATTESTATION_DEVICE'),
    );
    const epid = join(base, 'epid');
    await mkdir(epid);
    await writeFile(join(epid, 'attestation_type'), 'epid');
    await assert.rejects(new GramineAttester({ deviceDir: epid }).probe(), (e: unknown) =>
      isSemirtError(e, 'ATTESTATION_DEVICE'),
    );
  });

  test('attest() fails with ATTESTATION_DEVICE when the device is missing', async () => {
    await assert.rejects(
      new GramineAttester({ deviceDir: join(base, 'none') }).attest(REPORT_DATA),
      (e: unknown) => isSemirtError(e, 'ATTESTATION_DEVICE'),
    );
  });
});
