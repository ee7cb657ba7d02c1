import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SemirtError } from '../errors.js';

/**
 * The envelope of every semirt ciphertext, identical to SeSeMI's:
 * `ciphertext ‖ iv (12 B) ‖ tag (16 B) ‖ aad (4 B)`, AES-GCM with a 16- or 32-byte key.
 * The 4 AAD bytes are authenticated by the tag; SeSeMI's tools always wrote zeros there.
 */
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const AAD_BYTES = 4;
/** Bytes an envelope adds to its plaintext. */
export const ENVELOPE_OVERHEAD = IV_BYTES + TAG_BYTES + AAD_BYTES;

const ZERO_AAD = new Uint8Array(AAD_BYTES);

export type GcmAlgorithm = 'aes-128-gcm' | 'aes-256-gcm';

/** Checks that a key is an AES-128 or AES-256 key and names its GCM cipher. */
export function gcmAlgorithm(key: Uint8Array, what = 'key'): GcmAlgorithm {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 32) return 'aes-256-gcm';
  throw new SemirtError(
    'KEY_INVALID',
    `Invalid ${what}: expected 16 or 32 bytes (AES-128 or AES-256), got ${key.length}`,
  );
}

/** The parts of an envelope, as views into it (no copies). */
export interface EnvelopeParts {
  readonly ciphertext: Uint8Array;
  readonly iv: Uint8Array;
  readonly tag: Uint8Array;
  readonly aad: Uint8Array;
}

/** Splits an envelope into its parts; rejects one too short to hold the trailer. */
export function splitEnvelope(envelope: Uint8Array): EnvelopeParts {
  if (envelope.length < ENVELOPE_OVERHEAD) {
    throw new SemirtError(
      'ENVELOPE_MALFORMED',
      `Cannot read envelope: it has ${envelope.length} bytes, fewer than the ${ENVELOPE_OVERHEAD}-byte trailer (iv, tag, aad)`,
    );
  }
  const end = envelope.length;
  return {
    ciphertext: envelope.subarray(0, end - ENVELOPE_OVERHEAD),
    iv: envelope.subarray(end - ENVELOPE_OVERHEAD, end - TAG_BYTES - AAD_BYTES),
    tag: envelope.subarray(end - TAG_BYTES - AAD_BYTES, end - AAD_BYTES),
    aad: envelope.subarray(end - AAD_BYTES),
  };
}

/** Tells whether an envelope carries the all-zero IV of SeSeMI's tools (a reused nonce). */
export function hasZeroIv(envelope: Uint8Array): boolean {
  return splitEnvelope(envelope).iv.every((b) => b === 0);
}

/** Encrypts bytes into an envelope under a fresh random IV. */
export function encryptEnvelope(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = ZERO_AAD,
): Buffer {
  const algorithm = gcmAlgorithm(key);
  if (aad.length !== AAD_BYTES) {
    throw new SemirtError(
      'ENVELOPE_MALFORMED',
      `Cannot encrypt: the envelope AAD must be ${AAD_BYTES} bytes, got ${aad.length}`,
    );
  }
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(algorithm, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  return Buffer.concat([head, tail, iv, cipher.getAuthTag(), aad]);
}

/** Decrypts an envelope, always verifying its tag before returning any plaintext. */
export function decryptEnvelope(key: Uint8Array, envelope: Uint8Array): Buffer {
  const algorithm = gcmAlgorithm(key);
  const { ciphertext, iv, tag, aad } = splitEnvelope(envelope);
  const decipher = createDecipheriv(algorithm, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  decipher.setAAD(aad);
  const head = decipher.update(ciphertext);
  try {
    return Buffer.concat([head, decipher.final()]);
  } catch (cause) {
    head.fill(0);
    throw authFailure(cause);
  }
}

/** The error for a tag that does not verify (GCM cannot tell a wrong key from altered data). */
export function authFailure(cause?: unknown): SemirtError {
  return new SemirtError(
    'ENVELOPE_AUTH_FAILED',
    'Cannot decrypt envelope: the authentication tag does not match (wrong key, or the data was altered or truncated)',
    cause === undefined ? undefined : { cause },
  );
}
