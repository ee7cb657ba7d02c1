import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { SemirtError } from '../errors.js';
import { decodeBase64 } from './encoding.js';
import { gcmAlgorithm } from './envelope.js';

/** Reads an AES key file: the base64 of 16 or 32 bytes, surrounding whitespace ignored. */
export async function readKeyFile(path: string, what: string): Promise<Buffer> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new SemirtError('INVALID_OPTION', `Cannot read ${what} file "${path}": ${code}`, {
      cause,
    });
  }
  let key: Buffer;
  try {
    key = decodeBase64(text, `${what} file "${path}"`);
  } catch {
    throw new SemirtError(
      'KEY_INVALID',
      `Invalid ${what} file "${path}": expected the base64 of a 16- or 32-byte key`,
    );
  }
  gcmAlgorithm(key, `${what} file "${path}"`);
  return key;
}

/** Writes a key file (base64) readable only by its owner; refuses to replace one unless `force`. */
export async function writeKeyFile(path: string, key: Uint8Array, force: boolean): Promise<void> {
  const flags =
    constants.O_WRONLY | constants.O_CREAT | (force ? constants.O_TRUNC : constants.O_EXCL);
  let handle;
  try {
    handle = await open(path, flags, 0o600);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
    const hint = code === 'EEXIST' ? ' (it exists; pass --force to replace it)' : '';
    throw new SemirtError('INVALID_OPTION', `Cannot write key file "${path}": ${code}${hint}`, {
      cause,
    });
  }
  try {
    await handle.writeFile(`${Buffer.from(key).toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
