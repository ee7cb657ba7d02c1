import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SHARED_DATA } from '../../test/support/paths.js';
import { isSemirtError } from '../errors.js';
import { decodeBase64 } from './encoding.js';
import {
  ENVELOPE_OVERHEAD,
  decryptEnvelope,
  encryptEnvelope,
  hasZeroIv,
  splitEnvelope,
} from './envelope.js';

const EXAMPLES = join(SHARED_DATA, 'sesemi-examples');
const SESEMI_KEY = Buffer.from('H4ZqO2W2ruqtVzRT0QOMAQ==', 'base64');

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EXAMPLES, path), 'utf8')) as Record<string, unknown>;
}

describe('encryptEnvelope() / decryptEnvelope()', () => {
  for (const size of [16, 32] as const) {
    it(`round-trips with a ${size}-byte key`, () => {
      const key = Buffer.alloc(size, 7);
      const plaintext = Buffer.from('hello envelope');
      const envelope = encryptEnvelope(key, plaintext);
      assert.equal(envelope.length, plaintext.length + ENVELOPE_OVERHEAD);
      assert.deepEqual(decryptEnvelope(key, envelope), plaintext);
    });
  }

  it('round-trips an empty plaintext', () => {
    const key = Buffer.alloc(16, 1);
    assert.equal(decryptEnvelope(key, encryptEnvelope(key, new Uint8Array(0))).length, 0);
  });

  it('draws a fresh random IV for every encryption', () => {
    const key = Buffer.alloc(16, 2);
    const a = encryptEnvelope(key, Buffer.from('same'));
    const b = encryptEnvelope(key, Buffer.from('same'));
    assert.notDeepEqual(splitEnvelope(a).iv, splitEnvelope(b).iv);
    assert.equal(hasZeroIv(a), false);
  });

  it('rejects a tampered ciphertext, tag, IV and AAD byte', () => {
    const key = Buffer.alloc(16, 3);
    const envelope = encryptEnvelope(key, Buffer.from('some plaintext bytes'));
    for (const offsetFromEnd of [ENVELOPE_OVERHEAD + 1, 30, 10, 2]) {
      const tampered = Buffer.from(envelope);
      tampered[tampered.length - offsetFromEnd]! ^= 1;
      assert.throws(
        () => decryptEnvelope(key, tampered),
        (e) => isSemirtError(e, 'ENVELOPE_AUTH_FAILED'),
      );
    }
  });

  it('rejects a wrong key', () => {
    const envelope = encryptEnvelope(Buffer.alloc(16, 4), Buffer.from('x'));
    assert.throws(
      () => decryptEnvelope(Buffer.alloc(16, 5), envelope),
      (e) => isSemirtError(e, 'ENVELOPE_AUTH_FAILED') && /wrong key/.test(e.message),
    );
  });

  it('rejects a truncated envelope', () => {
    const key = Buffer.alloc(16, 6);
    const envelope = encryptEnvelope(key, Buffer.from('truncate me'));
    assert.throws(
      () => decryptEnvelope(key, envelope.subarray(0, envelope.length - 1)),
      (e) => isSemirtError(e, 'ENVELOPE_AUTH_FAILED'),
    );
    assert.throws(
      () => decryptEnvelope(key, envelope.subarray(0, 31)),
      (e) => isSemirtError(e, 'ENVELOPE_MALFORMED') && /31 bytes/.test(e.message),
    );
  });

  it('rejects keys that are neither 16 nor 32 bytes', () => {
    for (const size of [0, 15, 24, 33]) {
      assert.throws(
        () => encryptEnvelope(Buffer.alloc(size), Buffer.from('x')),
        (e) => isSemirtError(e, 'KEY_INVALID') && e.message.includes(`got ${size}`),
      );
    }
  });

  it('decrypts the SeSeMI example sample to the unencrypted example bytes', () => {
    const encrypted = decodeBase64(
      readJson('inference_req.json')['encrypted_sample'] as string,
      'encrypted_sample',
    );
    const plain = decodeBase64(
      readJson('inference_req_nenc.json')['encrypted_sample'] as string,
      'sample',
    );
    assert.equal(hasZeroIv(encrypted), true);
    const decrypted = decryptEnvelope(SESEMI_KEY, encrypted);
    assert.equal(decrypted.length, 602_112);
    assert.deepEqual(decrypted, plain);
  });

  it('decrypts the SeSeMI example KeyService payloads to their source fields', () => {
    const upsert = readJson('gen/up_model_key_req.json');
    const payload = JSON.parse(
      decryptEnvelope(SESEMI_KEY, decodeBase64(upsert['payload'] as string, 'payload')).toString(),
    ) as Record<string, unknown>;
    assert.equal(payload['decrypt_key'], 'H4ZqO2W2ruqtVzRT0QOMAQ==');
    assert.match(payload['model_id'] as string, /^2c984d55.*-mobilenet1\.0$/);
  });
});
