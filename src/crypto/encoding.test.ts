import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSemirtError } from '../errors.js';
import { decodeBase64, decodeBytes, decodeHex, encodeBytes } from './encoding.js';

describe('decodeBase64() / decodeHex()', () => {
  it('decode valid text', () => {
    assert.deepEqual(decodeBase64('AAEC', 'x'), Buffer.from([0, 1, 2]));
    assert.deepEqual(decodeHex('00FFaa', 'x'), Buffer.from([0, 255, 170]));
  });

  it('refuse characters that Node would silently skip, naming the field', () => {
    assert.throws(
      () => decodeBase64('AA!C', 'payload'),
      (e) => isSemirtError(e, 'ENVELOPE_MALFORMED') && e.message.includes('payload'),
    );
    assert.throws(
      () => decodeBase64('AAE', 'x'),
      (e) => isSemirtError(e, 'ENVELOPE_MALFORMED'),
    );
    assert.throws(
      () => decodeHex('abc', 'x'),
      (e) => isSemirtError(e, 'ENVELOPE_MALFORMED'),
    );
    assert.throws(
      () => decodeHex('zz', 'x'),
      (e) => isSemirtError(e, 'ENVELOPE_MALFORMED'),
    );
  });
});

describe('encodeBytes() / decodeBytes()', () => {
  for (const encoding of ['base64', 'hex', 'binary'] as const) {
    it(`round-trip in ${encoding}`, () => {
      const bytes = Buffer.from([0, 1, 2, 250, 251]);
      assert.deepEqual(decodeBytes(encodeBytes(bytes, encoding), encoding, 'x'), bytes);
    });
  }

  it('decodeBytes() ignores a trailing newline of text encodings', () => {
    assert.deepEqual(decodeBytes(Buffer.from('AAEC\n'), 'base64', 'x'), Buffer.from([0, 1, 2]));
  });
});
