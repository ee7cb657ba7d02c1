import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { parseCollateral } from '../../attestation/collateral.js';
import { verifyDcapQuote } from '../../attestation/dcap.js';
import { SimDcapAuthority } from '../../attestation/sim-dcap.js';
import { SemirtError, isSemirtError } from '../../errors.js';

/** Flags of `semirt attest verify` as commander hands them over. */
export interface AttestVerifyFlags {
  quote: string;
  collateral: string;
  root: string;
  at?: string;
}

/** The JSON `semirt attest verify` prints: the verified fields, or the failed check's code. */
export type AttestVerifyOutput =
  | { ok: true; result: Record<string, unknown> }
  | { ok: false; error: { code: string; message: string } };

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new SemirtError('INVALID_OPTION', `Cannot read ${what} "${path}"`, { cause: error });
  }
}

/** Verifies a quote file against collateral and a root file; never throws for a failed check. */
export async function attestVerify(flags: AttestVerifyFlags): Promise<AttestVerifyOutput> {
  try {
    const at = flags.at === undefined ? new Date() : new Date(flags.at);
    if (Number.isNaN(at.getTime())) {
      throw new SemirtError(
        'INVALID_OPTION',
        `Invalid --at "${flags.at ?? ''}": expected an ISO 8601 time`,
      );
    }
    const quote = await readInput(flags.quote, '--quote');
    const collateralText = (await readInput(flags.collateral, '--collateral')).toString('utf8');
    let collateralJson: unknown;
    try {
      collateralJson = JSON.parse(collateralText);
    } catch (error) {
      throw new SemirtError(
        'ATTESTATION_COLLATERAL_MALFORMED',
        `Cannot read --collateral "${flags.collateral}": not JSON`,
        {
          cause: error,
        },
      );
    }
    let root: X509Certificate;
    try {
      root = new X509Certificate(await readInput(flags.root, '--root'));
    } catch (error) {
      if (isSemirtError(error)) throw error;
      throw new SemirtError('INVALID_OPTION', `Invalid --root "${flags.root}": not a certificate`, {
        cause: error,
      });
    }
    const result = verifyDcapQuote(quote, parseCollateral(collateralJson), { root, now: at });
    return {
      ok: true,
      result: {
        ...result,
        reportData: Buffer.from(result.reportData).toString('hex'),
        verifiedAt: at.toISOString(),
      },
    };
  } catch (error) {
    if (!isSemirtError(error)) throw error;
    return { ok: false, error: { code: error.code, message: error.message } };
  }
}

/** `semirt attest`: check DCAP quotes by hand and create a sim-dcap authority. */
export function registerAttest(program: Command): void {
  const attest = program
    .command('attest')
    .description('Attestation tools: verify DCAP quotes, create a sim-dcap authority');
  attest
    .command('verify')
    .description(
      'Verify a DCAP quote (SGX v3 / TDX v4) and print the result as JSON; exits 1 when it fails',
    )
    .requiredOption('--quote <file>', 'the quote (binary)')
    .requiredOption(
      '--collateral <json>',
      'collateral JSON (tcb_info, qe_identity, CRLs in hex DER, issuer chains)',
    )
    .requiredOption('--root <der>', "the pinned root certificate (DER), e.g. Intel's SGX Root CA")
    .option('--at <time>', 'verification time, ISO 8601 (default: now)')
    .action(async (flags: AttestVerifyFlags) => {
      const output = await attestVerify(flags);
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
      if (!output.ok) process.exitCode = 1;
    });
  attest
    .command('sim-init')
    .description(
      'Create a sim-dcap test authority folder (root.der, collateral.json, authority.json) if absent',
    )
    .requiredOption('--dir <folder>', 'the authority folder')
    .action(async (flags: { dir: string }) => {
      const authority = await SimDcapAuthority.ensure(flags.dir);
      process.stdout.write(
        `sim-dcap authority ready in ${authority.dir} (pin ${authority.dir}/root.der; never in production)\n`,
      );
    });
}
