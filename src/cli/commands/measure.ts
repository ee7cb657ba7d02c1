import type { Command } from 'commander';
import {
  measureRuntime,
  runtimeCodeRoot,
  runtimeMeasuredConfig,
} from '../../attestation/measurement.js';
import { attestationConfig, type AttestationFlags } from '../../config/attestation.js';

/** Flags of `semirt measure`: the runtime's attestation flags, plus where its code is. */
export interface MeasureFlags extends AttestationFlags {
  code?: string;
  manifest?: boolean;
}

/** `semirt measure`: the runtime measurement a model owner puts in the access list. */
export function registerMeasure(program: Command): void {
  program
    .command('measure')
    .description(
      'Print the simulated runtime measurement (SHA-256 of its code manifest and security config)',
    )
    .option('--code <folder>', "the runtime's code tree (default: this installation's)")
    .option('--manifest', 'print the canonical manifest that is hashed, then the measurement')
    .option(
      '--attestation-mode <mode>',
      'production|simulation, as the runtime runs (env SEMIRT_ATTESTATION_MODE; default production)',
    )
    .option('--attester <scheme>', 'sim-dcap|sgx-dcap, as the runtime runs (env SEMIRT_ATTESTER)')
    .option(
      '--accept-schemes <list>',
      'evidence the runtime accepts, comma-separated (env SEMIRT_ACCEPT_SCHEMES)',
    )
    .action(async (flags: MeasureFlags) => {
      const result = await measureRuntime({
        codeRoot: flags.code ?? runtimeCodeRoot(),
        config: runtimeMeasuredConfig(attestationConfig(flags)),
      });
      if (flags.manifest === true) process.stdout.write(result.manifest);
      process.stdout.write(`${result.measurement}\n`);
    });
}
