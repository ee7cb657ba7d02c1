// The README's first command: `semirt up` starts the whole stack and runs encrypted inferences.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from '../support/runtime-process.js';

test('semirt up --once runs encrypted inferences through KeyService and runtime, then stops', () => {
  const dir = mkdtempSync(join(tmpdir(), 'semirt-up-'));
  const result = spawnSync(process.execPath, [CLI, 'up', '--once', '--port', '0', '--dir', dir], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  // TFLM's person_detection_test: the person image scores "person" higher, the other one lower.
  const score = (image: string): [number, number] => {
    const match = new RegExp(`${image} +→ person ([\\d.]+), no person ([\\d.]+)`).exec(
      result.stdout,
    );
    assert.ok(match, `no answer for ${image}: ${result.stdout}`);
    return [Number(match[1]), Number(match[2])];
  };
  const [personYes, personNo] = score('person');
  const [otherYes, otherNo] = score('no_person');
  assert.ok(personYes > personNo && otherNo > otherYes);
  assert.match(
    result.stdout,
    /32 concurrent encrypted requests answered .*all decrypt to the same prediction: true/,
  );
});
