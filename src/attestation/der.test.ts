import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  TAG_GENERALIZED_TIME,
  TAG_UTC_TIME,
  decodeOid,
  decodeTime,
  decodeUint,
  encodeOid,
  encodeUint,
  readTlv,
} from './der.js';

describe('DER helpers', () => {
  test('encodeOid() and decodeOid() round-trip, including large first arcs', () => {
    for (const oid of [
      '1.2.840.113741.1.13.1.2.18',
      '2.23.133.5.4.9',
      '2.999.3',
      '0.6.9.42.840.113741.1337.6',
    ]) {
      const tlv = readTlv(encodeOid(oid));
      assert.equal(decodeOid(tlv.value), oid);
    }
  });

  test("decodeOid() reads Gramine's malformed legacy OID as 0.6.9.42.840.113741.1337.6", () => {
    // Gramine passes the OID's own tag and length (06 09) as the first value bytes.
    const value = Buffer.from('06092a864886f84d8a3906', 'hex');
    assert.equal(decodeOid(value), '0.6.9.42.840.113741.1337.6');
  });

  test('decodeUint() round-trips encodeUint() and refuses negative or oversized values', () => {
    for (const n of [0, 1, 127, 128, 255, 65535, 2 ** 40])
      assert.equal(decodeUint(readTlv(encodeUint(n)).value), n);
    assert.throws(() => decodeUint(Uint8Array.of(0x80)), RangeError);
    assert.throws(() => decodeUint(new Uint8Array(8).fill(1)), RangeError);
  });

  test('readTlv() refuses truncated elements and indefinite lengths', () => {
    assert.throws(() => readTlv(Uint8Array.of(0x30, 0x05, 0x01)), RangeError);
    assert.throws(() => readTlv(Uint8Array.of(0x30, 0x80)), RangeError);
    assert.throws(() => readTlv(Uint8Array.of(0x30)), RangeError);
  });

  test('decodeTime() reads UTCTime (with the 1950 pivot) and GeneralizedTime', () => {
    const tlv = (tag: number, text: string) =>
      readTlv(Uint8Array.of(tag, text.length, ...Buffer.from(text)));
    assert.equal(
      decodeTime(tlv(TAG_UTC_TIME, '250619102331Z')).toISOString(),
      '2025-06-19T10:23:31.000Z',
    );
    assert.equal(decodeTime(tlv(TAG_UTC_TIME, '991231235959Z')).getUTCFullYear(), 1999);
    assert.equal(decodeTime(tlv(TAG_GENERALIZED_TIME, '20491231235959Z')).getUTCFullYear(), 2049);
    assert.throws(() => decodeTime(tlv(TAG_UTC_TIME, '2506191023Z')), RangeError);
  });
});
