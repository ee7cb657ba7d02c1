import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { CLI } from '../../../test/support/runtime-process.js';

const DATA = join(SHARED_DATA, 'tflite');

function semirt(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('semirt infer and semirt inspect', () => {
  it('infer writes the golden output and prints the signature and timing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'semirt-infer-'));
    try {
      const out = join(dir, 'out.bin');
      const result = semirt(
        'infer',
        '--model',
        join(DATA, 'models', 'person_detect_int8.tflite'),
        '--input',
        join(DATA, 'inputs', 'person_detect_int8.person.bin'),
        '--output',
        out,
        '--runs',
        '3',
      );
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /input 0: "input" int8\[1, 96, 96, 1\]/);
      assert.match(result.stdout, /first run: [\d.]+ ms/);
      assert.deepEqual(
        readFileSync(out),
        readFileSync(join(DATA, 'golden', 'person_detect_int8.person.out')),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('infer reports a wrong-sized input as one line on stderr with exit code 1', () => {
    const result = semirt(
      'infer',
      '--model',
      join(DATA, 'models', 'person_detect_int8.tflite'),
      '--input',
      join(DATA, 'inputs', 'hello_world_int8.q0.bin'),
    );
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^semirt: Cannot run the model: input 0 \("input"\) must have 9216 bytes/,
    );
  });

  it('inspect prints operators and the arena size', () => {
    const result = semirt('inspect', join(DATA, 'models', 'micro_speech_quantized.tflite'));
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /arena: \d+ bytes per session/);
    assert.match(result.stdout, /#1 DEPTHWISE_CONV_2D v3/);
  });
});
