import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { tarGz } from '../../test/support/tar.js';
import { detectArchive, extractArchive } from './archive.js';

describe('detectArchive()', () => {
  test('tells zip and tar.gz apart by magic bytes', () => {
    assert.equal(detectArchive(zipSync({ a: strToU8('x') })), 'zip');
    assert.equal(detectArchive(tarGz({ a: 'x' })), 'tar.gz');
    assert.equal(detectArchive(strToU8('plain')), undefined);
    assert.equal(detectArchive(new Uint8Array(0)), undefined);
  });
});

describe('extractArchive()', () => {
  test('writes nested zip entries under the folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'semirt-archive-test-'));
    await extractArchive(zipSync({ 'a/b/c.txt': strToU8('deep') }), 'zip', dir);
    assert.equal(await readFile(join(dir, 'a', 'b', 'c.txt'), 'utf8'), 'deep');
  });

  test('refuses zip entries that climb out of the folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'semirt-archive-test-'));
    for (const name of ['../x.js', 'a/../../x.js', '/etc/x.js']) {
      await assert.rejects(extractArchive(zipSync({ [name]: strToU8('x') }), 'zip', dir), {
        message: `Archive entry "${name}" points outside the action folder`,
      });
    }
  });

  test('explains a corrupt zip', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'semirt-archive-test-'));
    const bytes = zipSync({ 'a.txt': strToU8('x'.repeat(100)) }).slice(0, 40);
    await assert.rejects(extractArchive(bytes, 'zip', dir), /Cannot read the zip archive/);
  });
});
