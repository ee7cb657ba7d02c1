// The README's first command: `semirt up` starts the local stack and shows it answering.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from '../support/runtime-process.js';

test('semirt up --once serves the sample action to concurrent activations and stops', () => {
  const dir = mkdtempSync(join(tmpdir(), 'semirt-up-'));
  const result = spawnSync(process.execPath, [CLI, 'up', '--once', '--port', '0', '--dir', dir], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /\/init {5}200 \{"OK":true\}/);
  for (let i = 0; i < 8; i++) {
    assert.match(
      result.stdout,
      new RegExp(`/run {6}200 \\{"greeting":"Hello, \\w+!","activationId":"demo-activation-${i}"`),
    );
  }
});
