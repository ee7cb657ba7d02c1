import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isSemirtError } from '../errors.js';
import { pinnedVerifier, readPinsFile } from './pins.js';
import { createTestIdentity } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'semirt-pins-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('readPinsFile() / pinnedVerifier()', () => {
  it('accepts a pinned certificate whether the pin has colons or not, and refuses others', async () => {
    const [pinned, other] = await Promise.all([createTestIdentity('a'), createTestIdentity('b')]);
    const path = join(dir, 'pins.json');
    writeFileSync(
      path,
      JSON.stringify({ [pinned.fingerprint.replace(/:/g, '').toLowerCase()]: 'AA'.repeat(32) }),
    );
    const verify = pinnedVerifier(readPinsFile(path));
    assert.deepEqual(await verify(new X509Certificate(pinned.cert)), {
      measurement: 'aa'.repeat(32),
    });
    await assert.rejects(verify(new X509Certificate(other.cert)), (e) =>
      isSemirtError(e, 'KEYSERVICE_PEER_REJECTED'),
    );
  });

  it('names the file and entry when a pin is malformed', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ 'not-a-fingerprint': 'aa'.repeat(32) }));
    assert.throws(
      () => readPinsFile(path),
      (e) =>
        isSemirtError(e, 'INVALID_OPTION') &&
        e.message.includes(path) &&
        e.message.includes('not-a-fingerprint'),
    );
    writeFileSync(path, JSON.stringify({ ['AB'.repeat(32)]: 'short' }));
    assert.throws(
      () => readPinsFile(path),
      (e) => isSemirtError(e, 'INVALID_OPTION') && /64 or 96 hex digits/.test(e.message),
    );
  });
});
