import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { isSemirtError } from '../../errors.js';
import { TfliteModel } from './interpreter.js';

/**
 * Hostile-file fuzzing of the loader: truncations and bit flips of real models must either load
 * (and then run without crashing) or fail with a SemirtError — never another exception, a hang,
 * or an unbounded allocation. A deterministic generator keeps failures reproducible.
 */

const MODELS = [
  'hello_world_int8',
  'network_tester_int8',
  'micro_speech_quantized',
  'magic_wand_float',
];
const MAX_ARENA = 64 * 1024 * 1024;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function tryModel(bytes: Uint8Array, label: string): void {
  let model: TfliteModel;
  try {
    model = TfliteModel.load(bytes);
  } catch (error) {
    assert.ok(isSemirtError(error), `${label}: load threw a non-SemirtError: ${String(error)}`);
    return;
  }
  assert.ok(
    model.report.arenaBytes <= MAX_ARENA,
    `${label}: arena of ${model.report.arenaBytes} bytes`,
  );
  const session = model.openSession();
  try {
    session.runSync(
      model.inputs.map((i) => ({
        dtype: i.dtype,
        shape: i.shape,
        data: new Uint8Array(session.inputBytes(model.inputs.indexOf(i)).byteLength),
      })),
    );
  } catch (error) {
    assert.ok(isSemirtError(error), `${label}: run threw a non-SemirtError: ${String(error)}`);
  }
}

describe('TfliteModel.load() on hostile bytes', () => {
  for (const name of MODELS) {
    const original = new Uint8Array(
      readFileSync(join(SHARED_DATA, 'tflite', 'models', `${name}.tflite`)),
    );
    it(`${name}: every truncation fails cleanly`, () => {
      const step = Math.max(1, Math.floor(original.length / 150));
      for (let n = 0; n < original.length; n += step)
        tryModel(original.slice(0, n), `${name} truncated to ${n}`);
    });
    it(`${name}: random bit flips fail cleanly or still run`, () => {
      const random = rng(name.length * 7919);
      for (let round = 0; round < 150; round++) {
        const copy = original.slice();
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) {
          const at = Math.floor(random() * copy.length);
          copy[at] = copy[at]! ^ (1 << Math.floor(random() * 8));
        }
        tryModel(copy, `${name} flip round ${round}`);
      }
    });
  }
});
