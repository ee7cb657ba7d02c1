import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { attestationConfig } from '../config/attestation.js';
import { isSemirtError } from '../errors.js';
import { SHARED_DATA } from '../../test/support/paths.js';
import { parseCollateral } from './collateral.js';
import { INTEL_SGX_ROOT_CA_DER } from './intel-root.js';
import {
  attestationSetup,
  attestationSetupFromConfig,
  type AttestationSetupOptions,
} from './setup.js';
import { SimDcapAuthority } from './sim-dcap.js';
import type { Policy } from './types.js';

const POLICY: Policy = { acceptedTcbStatuses: ['UpToDate'], allowDebug: false };
const MEASUREMENT = 'ef'.repeat(32);
const VECTORS = join(SHARED_DATA, 'attestation', 'phala-dcap-qvl');

let base: string;
let simDir: string;
let gramineDir: string;
let authority: SimDcapAuthority;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'semirt-setup-'));
  simDir = join(base, 'sim');
  authority = await SimDcapAuthority.create(simDir);
  gramineDir = join(base, 'dev-attestation');
  await mkdir(gramineDir);
  await writeFile(join(gramineDir, 'attestation_type'), 'dcap');
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

const refused = (error: unknown): boolean => isSemirtError(error, 'ATTESTATION_SETUP');

describe('attestationSetup()', () => {
  const production = (overrides: Partial<AttestationSetupOptions>): AttestationSetupOptions => ({
    mode: 'production',
    attesterScheme: 'sgx-dcap',
    verifierSchemes: ['sgx-dcap'],
    gramineDeviceDir: gramineDir,
    collateral: { sgx: authority.collateral },
    policy: POLICY,
    ...overrides,
  });

  test('production mode refuses sim-dcap as attester or verifier', async () => {
    await assert.rejects(
      attestationSetup(
        production({ attesterScheme: 'sim-dcap', simDir, simMeasurement: MEASUREMENT }),
      ),
      refused,
    );
    await assert.rejects(
      attestationSetup(production({ verifierSchemes: ['sim-dcap'], simDir })),
      refused,
    );
  });

  test("production mode refuses a root other than Intel's and debug enclaves", async () => {
    await assert.rejects(attestationSetup(production({ rootDer: authority.rootDer })), refused);
    await assert.rejects(
      attestationSetup(production({ policy: { ...POLICY, allowDebug: true } })),
      refused,
    );
  });

  test("production mode with Intel's root, collateral and a Gramine device starts", async () => {
    const collateral = parseCollateral(
      JSON.parse(await readFile(join(VECTORS, 'sgx_quote_collateral.json'), 'utf8')),
    );
    const context = await attestationSetup(
      production({ rootDer: INTEL_SGX_ROOT_CA_DER, collateral: { sgx: collateral } }),
    );
    assert.equal(context.attester.scheme, 'sgx-dcap');
    assert.deepEqual(
      context.verifiers.map((v) => v.scheme),
      ['sgx-dcap'],
    );
  });

  test('refuses sgx-dcap verification without collateral and setups without verifiers', async () => {
    await assert.rejects(attestationSetup(production({ collateral: {} })), refused);
    await assert.rejects(attestationSetup(production({ verifierSchemes: [] })), refused);
  });

  test('simulation mode attests and verifies with the sim-dcap authority', async () => {
    const context = await attestationSetup({
      mode: 'simulation',
      attesterScheme: 'sim-dcap',
      verifierSchemes: ['sim-dcap'],
      simDir,
      simMeasurement: MEASUREMENT,
      policy: POLICY,
    });
    const quote = await context.attester.attest(new Uint8Array(64));
    const evidence = await context.verifiers[0]!.verify(quote, { now: new Date() });
    assert.equal(evidence.measurement, MEASUREMENT);
    assert.equal(evidence.scheme, 'sim-dcap');
  });
});

describe('attestationSetupFromConfig()', () => {
  test('production is the default and refuses sim-dcap named by environment variables', async () => {
    const config = attestationConfig(
      {},
      { SEMIRT_ATTESTER: 'sim-dcap', SEMIRT_SIM_DCAP_DIR: simDir },
    );
    assert.equal(config.mode, 'production');
    await assert.rejects(
      attestationSetupFromConfig(config, { policy: POLICY, simMeasurement: MEASUREMENT }),
      refused,
    );
  });

  test('simulation from flags loads the authority folder', async () => {
    const config = attestationConfig({ attestationMode: 'simulation', simDcapDir: simDir }, {});
    assert.equal(config.attesterScheme, 'sim-dcap');
    const context = await attestationSetupFromConfig(config, {
      policy: POLICY,
      simMeasurement: MEASUREMENT,
    });
    assert.equal(context.mode, 'simulation');
  });

  test('reads the pinned root and collateral files', async () => {
    const config = attestationConfig(
      {
        attestationMode: 'production',
        gramineDir,
        dcapRoot: join(VECTORS, 'TrustedRootCA.der'),
        sgxCollateral: join(VECTORS, 'sgx_quote_collateral.json'),
      },
      {},
    );
    const context = await attestationSetupFromConfig(config, { policy: POLICY });
    assert.equal(context.verifiers[0]?.scheme, 'sgx-dcap');
    await assert.rejects(
      attestationSetupFromConfig(
        { ...config, rootFile: join(base, 'missing.der') },
        { policy: POLICY },
      ),
      refused,
    );
  });
});
