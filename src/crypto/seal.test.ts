import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSemirtError } from '../errors.js';
import { Sealer, readSealingKeyFile } from './seal.js';

describe('Sealer', () => {
  const sealer = new Sealer(Buffer.alloc(32, 9));

  it('unseals what it sealed under the same context', () => {
    const sealed = sealer.seal(Buffer.from('secret'), 'user:a');
    assert.deepEqual(sealer.unseal(sealed, 'user:a'), Buffer.from('secret'));
  });

  it('refuses a value moved to another record context', () => {
    const sealed = sealer.seal(Buffer.from('secret'), 'user:a');
    assert.throws(
      () => sealer.unseal(sealed, 'user:b'),
      (e) => isSemirtError(e, 'SEALED_RECORD_INVALID') && e.message.includes('user:b'),
    );
  });

  it('refuses a value sealed under another key, altered or truncated', () => {
    const sealed = sealer.seal(Buffer.from('secret'), 'c');
    assert.throws(
      () => new Sealer(Buffer.alloc(32, 1)).unseal(sealed, 'c'),
      (e) => isSemirtError(e, 'SEALED_RECORD_INVALID'),
    );
    const altered = Buffer.from(sealed);
    altered[15]! ^= 0x80;
    assert.throws(
      () => sealer.unseal(altered, 'c'),
      (e) => isSemirtError(e, 'SEALED_RECORD_INVALID'),
    );
    assert.throws(
      () => sealer.unseal(sealed.subarray(0, 20), 'c'),
      (e) => isSemirtError(e, 'SEALED_RECORD_INVALID'),
    );
  });

  it('rejects a sealing key that is not 32 bytes', () => {
    assert.throws(
      () => new Sealer(Buffer.alloc(16)),
      (e) => isSemirtError(e, 'KEY_INVALID'),
    );
  });
});

describe('readSealingKeyFile()', () => {
  it('creates a 0600 key file once and reads the same key afterwards', () => {
    const dir = mkdtempSync(join(tmpdir(), 'semirt-seal-'));
    try {
      const path = join(dir, 'sealing.key');
      const first = readSealingKeyFile(path, true);
      assert.equal(first.length, 32);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(readSealingKeyFile(path, true), first);
      assert.deepEqual(readSealingKeyFile(path, false), first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the file when it is missing or holds a wrong-length key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'semirt-seal-'));
    try {
      const missing = join(dir, 'missing.key');
      assert.throws(
        () => readSealingKeyFile(missing, false),
        (e) => isSemirtError(e, 'INVALID_OPTION') && e.message.includes(missing),
      );
      const short = join(dir, 'short.key');
      writeFileSync(short, Buffer.alloc(16).toString('base64'));
      assert.throws(
        () => readSealingKeyFile(short, false),
        (e) => isSemirtError(e, 'KEY_INVALID') && e.message.includes('got 16 bytes'),
      );
      assert.equal(readFileSync(short, 'utf8').length > 0, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
