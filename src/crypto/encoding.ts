import { SemirtError } from '../errors.js';

/** How ciphertexts are written to files and JSON (SeSeMI's tools offered the same three). */
export const ENCODINGS = ['base64', 'hex', 'binary'] as const;
export type Encoding = (typeof ENCODINGS)[number];

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * Decodes standard padded base64, refusing anything else. Node's decoder silently skips invalid
 * characters (which would turn a corrupted value into different bytes) and also reads the URL-safe
 * alphabet: a string of valid standard characters decodes to exactly 3/4 of its length less the
 * padding, so a shorter result, or a '-' or '_', means it was not. (Checked this way rather than
 * with a regular expression, which cost ~7 ms on an 800 KB sample: the main thread's largest
 * cost per inference request.)
 */
export function decodeBase64(text: string, what: string): Buffer {
  if (text.length % 4 === 0 && !text.includes('-') && !text.includes('_')) {
    const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length === (text.length / 4) * 3 - padding) return bytes;
  }
  throw new SemirtError(
    'ENVELOPE_MALFORMED',
    `Invalid ${what}: expected standard padded base64 (${text.length} characters given)`,
  );
}

/** Decodes hex (either case, even length), refusing anything else. */
export function decodeHex(text: string, what: string): Buffer {
  if (!HEX.test(text)) {
    throw new SemirtError(
      'ENVELOPE_MALFORMED',
      `Invalid ${what}: expected an even number of hex digits (${text.length} characters given)`,
    );
  }
  return Buffer.from(text, 'hex');
}

/** Encodes bytes for a file in the given encoding. */
export function encodeBytes(bytes: Uint8Array, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'base64':
      return Buffer.from(Buffer.from(bytes).toString('base64'), 'latin1');
    case 'hex':
      return Buffer.from(Buffer.from(bytes).toString('hex'), 'latin1');
    case 'binary':
      return Buffer.from(bytes);
  }
}

/** Decodes file contents in the given encoding; surrounding whitespace of text encodings is ignored. */
export function decodeBytes(data: Uint8Array, encoding: Encoding, what: string): Buffer {
  switch (encoding) {
    case 'base64':
      return decodeBase64(Buffer.from(data).toString('latin1').trim(), what);
    case 'hex':
      return decodeHex(Buffer.from(data).toString('latin1').trim(), what);
    case 'binary':
      return Buffer.from(data);
  }
}
