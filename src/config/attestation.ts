import type { Scheme } from '../attestation/types.js';
import { SemirtError } from '../errors.js';
import { choiceSetting, pick } from './parse.js';

export const ATTESTATION_MODES = ['production', 'simulation'] as const;
const SCHEMES: readonly Scheme[] = ['sim-dcap', 'sgx-dcap', 'tdx-dcap'];

/** Attestation settings as files and choices; attestation/setup.ts loads and checks them. */
export interface AttestationConfig {
  /** Production (the default) refuses sim-dcap, non-Intel roots and debug enclaves. */
  readonly mode: (typeof ATTESTATION_MODES)[number];
  readonly attesterScheme: 'sim-dcap' | 'sgx-dcap';
  readonly verifierSchemes: readonly Scheme[];
  readonly simDir?: string;
  /** DER file of the pinned root for sgx-dcap / tdx-dcap (Intel's when unset). */
  readonly rootFile?: string;
  /** Collateral JSON files (layout of the shared vectors' *_collateral.json). */
  readonly sgxCollateralFile?: string;
  readonly tdxCollateralFile?: string;
  readonly gramineDir?: string;
}

/** Flags of the attestation options as commander hands them over (all strings). */
export interface AttestationFlags {
  readonly attestationMode?: string;
  readonly attester?: string;
  readonly acceptSchemes?: string;
  readonly simDcapDir?: string;
  readonly dcapRoot?: string;
  readonly sgxCollateral?: string;
  readonly tdxCollateral?: string;
  readonly gramineDir?: string;
}

/** Reads attestation settings from flags, then SEMIRT_* environment variables, then defaults. */
export function attestationConfig(
  flags: AttestationFlags,
  env: NodeJS.ProcessEnv = process.env,
): AttestationConfig {
  const mode = choiceSetting(
    flags.attestationMode,
    env,
    { flag: '--attestation-mode', env: 'SEMIRT_ATTESTATION_MODE' },
    ATTESTATION_MODES,
    'production',
  );
  const attesterScheme = choiceSetting(
    flags.attester,
    env,
    { flag: '--attester', env: 'SEMIRT_ATTESTER' },
    ['sim-dcap', 'sgx-dcap'] as const,
    mode === 'production' ? 'sgx-dcap' : 'sim-dcap',
  );
  const accepted = pick(flags.acceptSchemes, env, {
    flag: '--accept-schemes',
    env: 'SEMIRT_ACCEPT_SCHEMES',
  });
  let verifierSchemes: Scheme[] = [attesterScheme];
  if (accepted !== undefined) {
    verifierSchemes = accepted.value.split(',').map((s) => {
      const scheme = SCHEMES.find((known) => known === s.trim().toLowerCase());
      if (scheme === undefined) {
        throw new SemirtError(
          'INVALID_OPTION',
          `Invalid ${accepted.from} "${accepted.value}": expected a comma-separated list of ${SCHEMES.join(', ')}`,
        );
      }
      return scheme;
    });
  }
  const path = (flag: string | undefined, name: string, variable: string): string | undefined =>
    pick(flag, env, { flag: name, env: variable })?.value;
  const config: {
    -readonly [K in keyof AttestationConfig]: AttestationConfig[K];
  } = { mode, attesterScheme, verifierSchemes };
  const simDir = path(flags.simDcapDir, '--sim-dcap-dir', 'SEMIRT_SIM_DCAP_DIR');
  const rootFile = path(flags.dcapRoot, '--dcap-root', 'SEMIRT_DCAP_ROOT');
  const sgxCollateralFile = path(flags.sgxCollateral, '--sgx-collateral', 'SEMIRT_SGX_COLLATERAL');
  const tdxCollateralFile = path(flags.tdxCollateral, '--tdx-collateral', 'SEMIRT_TDX_COLLATERAL');
  const gramineDir = path(flags.gramineDir, '--gramine-dir', 'SEMIRT_GRAMINE_DIR');
  if (simDir !== undefined) config.simDir = simDir;
  if (rootFile !== undefined) config.rootFile = rootFile;
  if (sgxCollateralFile !== undefined) config.sgxCollateralFile = sgxCollateralFile;
  if (tdxCollateralFile !== undefined) config.tdxCollateralFile = tdxCollateralFile;
  if (gramineDir !== undefined) config.gramineDir = gramineDir;
  return config;
}

/** The TCB statuses of Intel's DCAP collateral a policy may accept (Revoked always fails). */
export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

/** Reads the TCB statuses accepted in peers' evidence: a comma-separated list, UpToDate by default. */
export function tcbStatusesSetting(
  flagValue: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): readonly TcbStatus[] {
  const picked = pick(flagValue, env, {
    flag: '--accept-tcb-statuses',
    env: 'SEMIRT_ACCEPT_TCB_STATUSES',
  });
  if (picked === undefined) return ['UpToDate'];
  return picked.value.split(',').map((item) => {
    const status = TCB_STATUSES.find((s) => s.toLowerCase() === item.trim().toLowerCase());
    if (status === undefined) {
      throw new SemirtError(
        'INVALID_OPTION',
        `Invalid ${picked.from} "${picked.value}": expected a comma-separated list of ${TCB_STATUSES.join(', ')}`,
      );
    }
    return status;
  });
}
