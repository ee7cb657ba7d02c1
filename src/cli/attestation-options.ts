import type { Command } from 'commander';

/**
 * Adds the attestation flags of config/attestation.ts to a command. `attests` adds those that
 * only matter to a process that attests itself (the attester and Gramine's folder).
 */
export function attestationOptions(command: Command, attests: boolean): Command {
  command
    .option(
      '--attestation-mode <mode>',
      'production|simulation; production refuses sim-dcap (env SEMIRT_ATTESTATION_MODE; default production)',
    )
    .option(
      '--accept-schemes <list>',
      'evidence accepted from peers: sim-dcap,sgx-dcap,tdx-dcap (env SEMIRT_ACCEPT_SCHEMES; default the attester scheme)',
    )
    .option(
      '--sim-dcap-dir <dir>',
      'sim-dcap authority folder, simulation only (env SEMIRT_SIM_DCAP_DIR)',
    )
    .option(
      '--dcap-root <file>',
      "pinned DCAP root, DER (env SEMIRT_DCAP_ROOT; default Intel's SGX Root CA)",
    )
    .option('--sgx-collateral <file>', 'SGX collateral JSON (env SEMIRT_SGX_COLLATERAL)')
    .option('--tdx-collateral <file>', 'TDX collateral JSON (env SEMIRT_TDX_COLLATERAL)')
    .option(
      '--accept-tcb-statuses <list>',
      "TCB statuses accepted in peers' evidence, comma-separated (env SEMIRT_ACCEPT_TCB_STATUSES; default UpToDate)",
    );
  if (attests) {
    command
      .option(
        '--attester <scheme>',
        'sim-dcap|sgx-dcap (env SEMIRT_ATTESTER; default sgx-dcap in production, sim-dcap in simulation)',
      )
      .option(
        '--gramine-dir <dir>',
        "Gramine's attestation folder (env SEMIRT_GRAMINE_DIR; default /dev/attestation)",
      );
  }
  return command;
}
