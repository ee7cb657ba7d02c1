import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { SemirtError } from '../../errors.js';
import { ENCODINGS, decodeBytes, encodeBytes, type Encoding } from '../../crypto/encoding.js';
import { decryptEnvelope, encryptEnvelope } from '../../crypto/envelope.js';
import { decryptFile, encryptFile } from '../../crypto/file-envelope.js';
import { readKeyFile } from '../../crypto/key-file.js';
import { ProgressBar, toolAction } from '../tooling.js';

interface CryptFlags {
  readonly key: string;
  readonly in: string;
  readonly out: string;
  readonly encoding: string;
}

function encodingOf(value: string): Encoding {
  const found = ENCODINGS.find((e) => e === value);
  if (found === undefined) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Invalid --encoding "${value}": expected one of ${ENCODINGS.join(', ')}`,
    );
  }
  return found;
}

async function readInput(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new SemirtError('INVALID_OPTION', `Cannot read --in "${path}": ${code}`, { cause });
  }
}

/** Encrypts or decrypts one file; binary files stream with a progress bar, text encodings go in memory. */
async function crypt(direction: 'encrypt' | 'decrypt', flags: CryptFlags): Promise<void> {
  const encoding = encodingOf(flags.encoding);
  const key = await readKeyFile(flags.key, 'key');
  if (encoding === 'binary') {
    const bar = new ProgressBar(direction === 'encrypt' ? 'encrypting' : 'decrypting');
    const run = direction === 'encrypt' ? encryptFile : decryptFile;
    try {
      await run(key, flags.in, flags.out, (done, total) => {
        bar.update(done, total);
      });
    } finally {
      bar.finish();
    }
    return;
  }
  const input = await readInput(flags.in);
  const output =
    direction === 'encrypt'
      ? encodeBytes(encryptEnvelope(key, input), encoding)
      : decryptEnvelope(key, decodeBytes(input, encoding, `--in "${flags.in}"`));
  await writeFile(flags.out, output, { mode: 0o600 });
}

function register(program: Command, direction: 'encrypt' | 'decrypt'): void {
  const encrypting = direction === 'encrypt';
  program
    .command(direction)
    .description(
      encrypting
        ? 'Encrypt a file into a semirt/SeSeMI envelope (AES-GCM, fresh random IV)'
        : 'Decrypt a semirt/SeSeMI envelope file (the tag is always verified)',
    )
    .requiredOption(
      '--key <file>',
      'AES key file (base64 of 16 or 32 bytes; see `semirt key create`)',
    )
    .requiredOption('--in <file>', encrypting ? 'the plaintext file' : 'the envelope file')
    .requiredOption(
      '--out <file>',
      encrypting ? 'the envelope file to write' : 'the plaintext file to write',
    )
    .option(
      '--encoding <encoding>',
      `how the envelope is written: ${ENCODINGS.join(', ')} (base64 for encrypted_sample, hex as runtime outputs)`,
      'binary',
    )
    .action(toolAction((flags: CryptFlags) => crypt(direction, flags)));
}

/** `semirt encrypt`: encrypt a file into an envelope (base64, hex or binary). */
export function registerEncrypt(program: Command): void {
  register(program, 'encrypt');
}

/** `semirt decrypt`: decrypt an envelope file (base64, hex or binary). */
export function registerDecrypt(program: Command): void {
  register(program, 'decrypt');
}
