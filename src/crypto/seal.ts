import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { constants, openSync, readFileSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { SemirtError } from '../errors.js';
import { decodeBase64 } from './encoding.js';
import { IV_BYTES, TAG_BYTES } from './envelope.js';

const VERSION = 1;
const SEALING_KEY_BYTES = 32;

/**
 * Seals values at rest with AES-256-GCM: `version (1) ‖ iv (12) ‖ ciphertext ‖ tag (16)`. Each
 * value is bound to a context (the identity of its record) through the AAD, so a sealed value
 * copied into another record fails to unseal. Sealing does not stop a whole record from being
 * deleted or replaced by an older copy of itself (rollback).
 */
export class Sealer {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== SEALING_KEY_BYTES) {
      throw new SemirtError(
        'KEY_INVALID',
        `Invalid sealing key: expected ${SEALING_KEY_BYTES} bytes, got ${key.length}`,
      );
    }
    this.#key = Buffer.from(key);
  }

  /** Encrypts a value bound to its record context. */
  seal(plaintext: Uint8Array, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]);
  }

  /** Decrypts a sealed value, refusing one that was altered, moved to another record or sealed under another key. */
  unseal(sealed: Uint8Array, context: string): Buffer {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
      throw new SemirtError(
        'SEALED_RECORD_INVALID',
        `Cannot unseal record ${context}: unknown format or truncated value`,
      );
    }
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const body = sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    const head = decipher.update(body);
    try {
      return Buffer.concat([head, decipher.final()]);
    } catch (cause) {
      head.fill(0);
      throw new SemirtError(
        'SEALED_RECORD_INVALID',
        `Cannot unseal record ${context}: the value was altered, moved from another record, or sealed under another sealing key`,
        { cause },
      );
    }
  }
}

/**
 * Reads the sealing key file (base64 of 32 bytes). When `create` is set and the file does not
 * exist, a new key is written with mode 0600 (exclusively, so two processes cannot race).
 */
export function readSealingKeyFile(path: string, create: boolean): Buffer {
  if (create) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        writeSync(fd, `${randomBytes(SEALING_KEY_BYTES).toString('base64')}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(path, error);
    }
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw fileError(path, error);
  }
  const key = decodeBase64(text, `sealing key file "${path}"`);
  if (key.length !== SEALING_KEY_BYTES) {
    throw new SemirtError(
      'KEY_INVALID',
      `Invalid sealing key file "${path}": expected base64 of ${SEALING_KEY_BYTES} bytes, got ${key.length} bytes`,
    );
  }
  return key;
}

function fileError(path: string, cause: unknown): SemirtError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
  return new SemirtError('INVALID_OPTION', `Cannot read sealing key file "${path}": ${code}`, {
    cause,
  });
}
