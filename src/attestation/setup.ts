import { readFile } from 'node:fs/promises';
import type { AttestationConfig } from '../config/attestation.js';
import { SemirtError } from '../errors.js';
import { parseCollateral, type Collateral } from './collateral.js';
import { DcapVerifier } from './dcap.js';
import { GramineAttester } from './gramine.js';
import { INTEL_SGX_ROOT_CA_DER, isIntelSgxRoot } from './intel-root.js';
import { SimDcapAuthority } from './sim-dcap.js';
import type { Attester, Policy, Scheme, Verifier } from './types.js';

export type AttestationMode = 'production' | 'simulation';

/** Validated attestation options (config/attestation.ts builds them from flags and env). */
export interface AttestationSetupOptions {
  mode: AttestationMode;
  /** How this process attests itself: sim-dcap (sim authority) or sgx-dcap (Gramine). */
  attesterScheme: 'sim-dcap' | 'sgx-dcap';
  /** The sim-dcap authority folder; required when attesterScheme or a verifier uses sim-dcap. */
  simDir?: string;
  /** The measurement this process claims under sim-dcap (its runtime measurement), hex. */
  simMeasurement?: string;
  /** Schemes whose evidence this process accepts from peers. */
  verifierSchemes: readonly Scheme[];
  /** Pinned root for sgx-dcap / tdx-dcap verification; Intel's SGX Root CA when omitted. */
  rootDer?: Uint8Array;
  /** Collateral for sgx-dcap / tdx-dcap verification (a PCCS cache); required for those schemes. */
  collateral?: { sgx?: Collateral; tdx?: Collateral };
  /** Gramine's attestation folder (tests pass a fake one). */
  gramineDeviceDir?: string;
  /** The policy this process applies to its peers. */
  policy: Policy;
}

/** What a process needs to check attested peers. */
export interface VerificationContext {
  mode: AttestationMode;
  verifiers: Verifier[];
  policy: Policy;
}

/** What a process needs to speak attested TLS. */
export interface AttestationContext extends VerificationContext {
  attester: Attester;
}

function refuse(detail: string): never {
  throw new SemirtError('ATTESTATION_SETUP', `Cannot start attestation: ${detail}`);
}

/**
 * Builds the attester, verifiers and policy of a process, refusing unsafe combinations up front.
 * Production mode accepts only Intel's SGX Root CA, no sim-dcap (as attester or verifier) and no
 * debug enclaves; simulation mode is for machines without a TEE and proves nothing about hardware.
 */
export async function attestationSetup(
  options: AttestationSetupOptions,
): Promise<AttestationContext> {
  const { attester, ...context } = await setUp(options, true);
  return { ...context, attester: attester! };
}

/**
 * Like attestationSetup, with the same refusals, for a process that checks peers but never
 * attests itself (e.g. `semirt access`, which verifies the KeyService): no attester is built.
 */
export async function verificationSetup(
  options: AttestationSetupOptions,
): Promise<VerificationContext> {
  const { mode, verifiers, policy } = await setUp(options, false);
  return { mode, verifiers, policy };
}

async function setUp(
  options: AttestationSetupOptions,
  attests: boolean,
): Promise<VerificationContext & { attester?: Attester }> {
  const production = options.mode === 'production';
  const usesSim =
    (attests && options.attesterScheme === 'sim-dcap') ||
    options.verifierSchemes.includes('sim-dcap');
  if (production) {
    if (usesSim)
      refuse(
        'production mode refuses sim-dcap (a local test authority, not Intel); use --attestation-mode simulation on machines without SGX',
      );
    if (options.rootDer !== undefined && !isIntelSgxRoot(options.rootDer)) {
      refuse(
        "production mode accepts only Intel's SGX Root CA as the pinned root, and another certificate was given",
      );
    }
    if (options.policy.allowDebug)
      refuse('production mode refuses debug enclaves (the policy has allowDebug)');
  }
  if (options.verifierSchemes.length === 0)
    refuse('no verifier scheme is configured, so no peer could ever be accepted');

  let authority: SimDcapAuthority | undefined;
  if (usesSim) {
    if (options.simDir === undefined)
      refuse('sim-dcap needs the authority folder (--sim-dcap-dir)');
    authority = await SimDcapAuthority.load(options.simDir);
  }

  let attester: Attester | undefined;
  if (attests && options.attesterScheme === 'sim-dcap') {
    if (options.simMeasurement === undefined)
      refuse('sim-dcap needs the measurement this process claims');
    attester = authority!.attester({ measurement: options.simMeasurement });
  } else if (attests) {
    const gramine = new GramineAttester(
      options.gramineDeviceDir === undefined ? {} : { deviceDir: options.gramineDeviceDir },
    );
    await gramine.probe();
    attester = gramine;
  }

  const verifiers: Verifier[] = options.verifierSchemes.map((scheme) => {
    if (scheme === 'sim-dcap') return authority!.verifier();
    const collateral = scheme === 'sgx-dcap' ? options.collateral?.sgx : options.collateral?.tdx;
    if (collateral === undefined) {
      refuse(
        `${scheme} verification needs collateral for ${scheme === 'sgx-dcap' ? 'SGX' : 'TDX'} (fetching it from a PCCS is not implemented)`,
      );
    }
    return new DcapVerifier({
      scheme,
      rootDer: options.rootDer ?? INTEL_SGX_ROOT_CA_DER,
      collateral: () => collateral,
    });
  });
  return {
    mode: options.mode,
    verifiers,
    policy: options.policy,
    ...(attester === undefined ? {} : { attester }),
  };
}

async function readSetupFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new SemirtError(
      'ATTESTATION_SETUP',
      `Cannot start attestation: the ${what} file "${path}" is not readable`,
      { cause: error },
    );
  }
}

async function readCollateralFile(path: string): Promise<Collateral> {
  const text = (await readSetupFile(path, 'collateral')).toString('utf8');
  try {
    return parseCollateral(JSON.parse(text));
  } catch (error) {
    throw new SemirtError(
      'ATTESTATION_SETUP',
      `Cannot start attestation: the collateral file "${path}" is not valid collateral JSON`,
      { cause: error },
    );
  }
}

/** attestationSetup from configuration (files named by flags or env), for the CLI's processes. */
export async function attestationSetupFromConfig(
  config: AttestationConfig,
  process: { policy: Policy; simMeasurement?: string },
): Promise<AttestationContext> {
  return attestationSetup(await optionsFromConfig(config, process));
}

/** verificationSetup from configuration, for CLI commands that only check peers. */
export async function verificationSetupFromConfig(
  config: AttestationConfig,
  policy: Policy,
): Promise<VerificationContext> {
  return verificationSetup(await optionsFromConfig(config, { policy }));
}

async function optionsFromConfig(
  config: AttestationConfig,
  process: { policy: Policy; simMeasurement?: string },
): Promise<AttestationSetupOptions> {
  const options: AttestationSetupOptions = {
    mode: config.mode,
    attesterScheme: config.attesterScheme,
    verifierSchemes: config.verifierSchemes,
    policy: process.policy,
  };
  if (config.simDir !== undefined) options.simDir = config.simDir;
  if (process.simMeasurement !== undefined) options.simMeasurement = process.simMeasurement;
  if (config.gramineDir !== undefined) options.gramineDeviceDir = config.gramineDir;
  if (config.rootFile !== undefined)
    options.rootDer = await readSetupFile(config.rootFile, 'DCAP root');
  const collateral: { sgx?: Collateral; tdx?: Collateral } = {};
  if (config.sgxCollateralFile !== undefined)
    collateral.sgx = await readCollateralFile(config.sgxCollateralFile);
  if (config.tdxCollateralFile !== undefined)
    collateral.tdx = await readCollateralFile(config.tdxCollateralFile);
  options.collateral = collateral;
  return options;
}
