import type { Command } from 'commander';
import { PROCESS_ROLES, measureProcess } from '../../attestation/measurement.js';
import { attestationConfig, type AttestationFlags } from '../../config/attestation.js';
import { choiceSetting } from '../../config/parse.js';

/** Flags of `semirt measure`: the process's attestation flags, its role, and where its code is. */
export interface MeasureFlags extends AttestationFlags {
  code?: string;
  manifest?: boolean;
  role?: string;
}

/** `semirt measure`: the runtime measurement a model owner puts in the access list. */
export function registerMeasure(program: Command): void {
  program
    .command('measure')
    .description(
      'Print the simulated measurement of a runtime or KeyService (SHA-256 of its code manifest and security config)',
    )
    .option('--code <folder>', "the runtime's code tree (default: this installation's)")
    .option('--manifest', 'print the canonical manifest that is hashed, then the measurement')
    .option('--role <role>', 'runtime|keyservice: the process to measure (default runtime)')
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
      const result = await measureProcess(
        attestationConfig(flags),
        choiceSetting(flags.role, {}, { flag: '--role' }, PROCESS_ROLES, 'runtime'),
        flags.code,
      );
      if (flags.manifest === true) process.stdout.write(result.manifest);
      process.stdout.write(`${result.measurement}\n`);
    });
}
