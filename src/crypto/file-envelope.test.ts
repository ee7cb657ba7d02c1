import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isSemirtError } from '../errors.js';
import { decryptEnvelope, encryptEnvelope } from './envelope.js';
import { decryptFile, encryptFile } from './file-envelope.js';

const dir = mkdtempSync(join(tmpdir(), 'semirt-file-envelope-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('encryptFile() / decryptFile()', () => {
  it('stream a multi-chunk file into an envelope that decryptEnvelope() reads, and back', async () => {
    const key = randomBytes(32);
    const plain = randomBytes(3 * (1 << 20) + 5);
    writeFileSync(join(dir, 'big.bin'), plain);
    const seen: number[] = [];
    await encryptFile(key, join(dir, 'big.bin'), join(dir, 'big.enc'), (done) => seen.push(done));
    assert.equal(seen.at(-1), plain.length);
    assert.deepEqual(decryptEnvelope(key, readFileSync(join(dir, 'big.enc'))), plain);
    await decryptFile(key, join(dir, 'big.enc'), join(dir, 'big.dec'));
    assert.deepEqual(readFileSync(join(dir, 'big.dec')), plain);
  });

  it('decryptFile() reads an envelope written by encryptEnvelope(), including an empty one', async () => {
    const key = randomBytes(16);
    writeFileSync(join(dir, 'empty.enc'), encryptEnvelope(key, new Uint8Array(0)));
    await decryptFile(key, join(dir, 'empty.enc'), join(dir, 'empty.dec'));
    assert.equal(readFileSync(join(dir, 'empty.dec')).length, 0);
  });

  it('decryptFile() rejects a tampered file and leaves no output or temporary file', async () => {
    const key = randomBytes(16);
    const envelope = encryptEnvelope(key, randomBytes(1000));
    envelope[10]! ^= 1;
    writeFileSync(join(dir, 'bad.enc'), envelope);
    await assert.rejects(decryptFile(key, join(dir, 'bad.enc'), join(dir, 'bad.dec')), (e) =>
      isSemirtError(e, 'ENVELOPE_AUTH_FAILED'),
    );
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.startsWith('bad.dec')),
      [],
    );
  });

  it('decryptFile() rejects a file shorter than the trailer', async () => {
    writeFileSync(join(dir, 'short.enc'), randomBytes(20));
    await assert.rejects(
      decryptFile(randomBytes(16), join(dir, 'short.enc'), join(dir, 'short.dec')),
      (e) => isSemirtError(e, 'ENVELOPE_MALFORMED'),
    );
  });

  it('encryptFile() names a missing input file', async () => {
    await assert.rejects(
      encryptFile(randomBytes(16), join(dir, 'nope'), join(dir, 'nope.enc')),
      (e) => isSemirtError(e, 'INVALID_OPTION') && e.message.includes('ENOENT'),
    );
  });
});
