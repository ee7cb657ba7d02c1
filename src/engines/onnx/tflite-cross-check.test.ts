import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SHARED_DATA } from '../../../test/support/paths.js';
import type { Engine, Tensor } from '../engine.js';
import { tfliteEngine } from '../tflite/engine.js';
import { onnxEngine } from './onnx-engine.js';
import { tfliteToOnnx } from './tflite-to-onnx.js';

const TFLITE = join(SHARED_DATA, 'tflite');
// Float32 results of the same network from different kernels (TFLM reference loops, our
// TypeScript interpreter, onnxruntime's MLAS) differ by summation order only.
const ABS_TOLERANCE = 1e-5;
const REL_TOLERANCE = 1e-4;

function floats(data: Uint8Array): Float32Array {
  return new Float32Array(new Uint8Array(data).buffer);
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: element count`);
  expected.forEach((want, i) => {
    const got = actual[i]!;
    assert.ok(
      Math.abs(got - want) <= ABS_TOLERANCE + REL_TOLERANCE * Math.abs(want),
      `${what}: element ${i} is ${got}, expected ${want}`,
    );
  });
}

async function runOnce(engine: Engine, bytes: Uint8Array, input: Tensor): Promise<Float32Array> {
  const model = await engine.load({ kind: 'single', bytes });
  const session = await model.createSession();
  try {
    const [output] = await session.run([input]);
    return floats(output!.data);
  } finally {
    await session.dispose();
    await model.dispose();
  }
}

// Real float TFLite networks with TFLM golden outputs: an MLP and a small CNN (depthwise and
// regular convolutions, max pooling, fully connected layers, softmax).
const CASES = [
  { model: 'hello_world_float', inputs: ['x0', 'x1', 'x3', 'x5'] },
  { model: 'magic_wand_float', inputs: ['ring', 'slope'] },
];

describe('one network in TFLite and ONNX formats', () => {
  for (const { model, inputs } of CASES) {
    test(`${model}: the ONNX engine and the tflite engine agree with TFLM within 1e-5 + 1e-4·|x|`, async () => {
      // A copy at byte offset 0: readFileSync gives small files as views into a shared pool, and the
      // tflite engine misread such a view when this test was written.
      const tflite = new Uint8Array(readFileSync(join(TFLITE, 'models', `${model}.tflite`)));
      const onnx = tfliteToOnnx(tflite);
      const onnxModel = await onnxEngine.load({ kind: 'single', bytes: onnx });
      const info = onnxModel.inputs[0]!;
      await onnxModel.dispose();
      for (const name of inputs) {
        const data = new Uint8Array(readFileSync(join(TFLITE, 'inputs', `${model}.${name}.bin`)));
        const input: Tensor = { dtype: 'float32', shape: info.shape, data };
        const golden = floats(readFileSync(join(TFLITE, 'golden', `${model}.${name}.out`)));
        assertClose(
          await runOnce(onnxEngine, onnx, input),
          golden,
          `${model}.${name} onnx vs TFLM`,
        );
        assertClose(
          await runOnce(tfliteEngine, tflite, input),
          golden,
          `${model}.${name} tflite vs TFLM`,
        );
      }
    });
  }
});
