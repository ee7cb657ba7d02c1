import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SemirtError } from '../errors.js';
import type { Attester } from './types.js';

/** The pseudo-files Gramine exposes inside an SGX enclave. */
export const GRAMINE_DEVICE_DIR = '/dev/attestation';

/**
 * Gets DCAP quotes from Gramine: write the 64 bytes of report data to
 * `/dev/attestation/user_report_data`, then read `/dev/attestation/quote`. The two steps form one
 * transaction per process, so calls are serialized.
 */
export class GramineAttester implements Attester {
  readonly scheme = 'sgx-dcap' as const;
  readonly #dir: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: { deviceDir?: string } = {}) {
    this.#dir = options.deviceDir ?? GRAMINE_DEVICE_DIR;
  }

  /** Checks that the device exists and speaks DCAP (call at start-up to fail early). */
  async probe(): Promise<void> {
    let type: string;
    try {
      type = (await readFile(join(this.#dir, 'attestation_type'), 'utf8')).trim();
    } catch (error) {
      throw new SemirtError(
        'ATTESTATION_DEVICE',
        `Cannot attest: "${join(this.#dir, 'attestation_type')}" is not readable (not running under Gramine with SGX?)`,
        {
          cause: error,
        },
      );
    }
    if (type !== 'dcap') {
      throw new SemirtError(
        'ATTESTATION_DEVICE',
        `Cannot attest: Gramine's attestation type is "${type}", expected "dcap" (set sgx.remote_attestation = "dcap")`,
      );
    }
  }

  /** Writes the report data and reads back the quote Gramine's quoting enclave made for it. */
  attest(reportData: Uint8Array): Promise<Uint8Array> {
    if (reportData.length !== 64) {
      return Promise.reject(
        new SemirtError(
          'INVALID_OPTION',
          `Invalid report data: expected 64 bytes, got ${reportData.length}`,
        ),
      );
    }
    const run = this.#queue.then(() => this.#quote(reportData));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #quote(reportData: Uint8Array): Promise<Uint8Array> {
    try {
      await writeFile(join(this.#dir, 'user_report_data'), reportData);
      const quote = await readFile(join(this.#dir, 'quote'));
      if (quote.length === 0) throw new RangeError('the quote is empty');
      return new Uint8Array(quote.buffer, quote.byteOffset, quote.byteLength);
    } catch (error) {
      throw new SemirtError(
        'ATTESTATION_DEVICE',
        `Cannot attest through "${this.#dir}": ${error instanceof Error ? error.message : 'unknown error'}`,
        {
          cause: error,
        },
      );
    }
  }
}
