import type { AttestationConfig } from '../config/attestation.js';
import { measureProcess, type ProcessRole } from './measurement.js';
import { attestationSetupFromConfig, type AttestationContext } from './setup.js';
import type { Policy } from './types.js';

/**
 * The attestation of a semirt process (runtime or KeyService): under sim-dcap it claims its own
 * simulated measurement (code manifest + security config + role, as `semirt measure --role`
 * prints); under SGX the quote carries MRENCLAVE and nothing is computed here.
 */
export async function processAttestation(
  config: AttestationConfig,
  role: ProcessRole,
  policy: Policy,
): Promise<AttestationContext & { readonly simMeasurement?: string }> {
  const simMeasurement =
    config.attesterScheme === 'sim-dcap'
      ? (await measureProcess(config, role)).measurement
      : undefined;
  const context = await attestationSetupFromConfig(config, {
    policy,
    ...(simMeasurement === undefined ? {} : { simMeasurement }),
  });
  return simMeasurement === undefined ? context : { ...context, simMeasurement };
}
