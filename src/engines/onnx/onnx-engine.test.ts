import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { isSemirtError, type ErrorCode } from '../../errors.js';
import type { DType, Model, Session, Tensor } from '../engine.js';
import { buildMobileNetV1, OnnxGraphBuilder } from './model-builder.js';
import { onnxEngine } from './onnx-engine.js';
import { ENGINES, engineFor } from '../registry.js';

const single = (bytes: Uint8Array) => ({ kind: 'single', bytes }) as const;

function f32(values: readonly number[], shape: readonly number[] = [values.length]): Tensor {
  return { dtype: 'float32', shape, data: new Uint8Array(Float32Array.from(values).buffer) };
}

function floats(tensor: Tensor): number[] {
  const d = tensor.data;
  return [...new Float32Array(d.buffer, d.byteOffset, d.byteLength / 4)];
}

/** Loads a model, runs `use` with one session, and disposes both. */
async function withSession<T>(
  bytes: Uint8Array,
  use: (s: Session, m: Model) => Promise<T>,
): Promise<T> {
  const model = await onnxEngine.load(single(bytes));
  const session = await model.createSession();
  try {
    return await use(session, model);
  } finally {
    await session.dispose();
    await model.dispose();
  }
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isSemirtError(error, code), `expected ${code}, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

// y = relu(x + b) with a dynamic batch dimension.
function reluAddModel(): Uint8Array {
  return new OnnxGraphBuilder('relu_add')
    .input('x', 'float32', ['batch', 3])
    .output('y', 'float32', ['batch', 3])
    .floats('b', [3], Float32Array.of(1, -2, 0.5))
    .node('Add', ['x', 'b'], ['sum'])
    .node('Relu', ['sum'], ['y'])
    .build();
}

describe('onnxEngine.accepts()', () => {
  test('recognises an ONNX ModelProto by content', () => {
    assert.equal(onnxEngine.accepts(single(reluAddModel())), true);
  });

  test('is the engine the registry picks for an ONNX model', () => {
    assert.equal(engineFor(ENGINES, single(reluAddModel()))?.name, 'onnx');
  });

  test('refuses garbage, a TFLite header, an empty buffer and TVM bundles', () => {
    const tflite = new Uint8Array(32);
    tflite.set(new TextEncoder().encode('TFL3'), 4);
    assert.equal(onnxEngine.accepts(single(new TextEncoder().encode('not a model at all'))), false);
    assert.equal(onnxEngine.accepts(single(tflite)), false);
    assert.equal(onnxEngine.accepts(single(new Uint8Array(0))), false);
    const empty = new Uint8Array(0);
    assert.equal(
      onnxEngine.accepts({ kind: 'tvm', graphJson: empty, params: empty, library: empty }),
      false,
    );
  });
});

describe('onnxEngine.load()', () => {
  test('exposes names, dtypes and shapes with dynamic dimensions as -1', async () => {
    const model = await onnxEngine.load(single(reluAddModel()));
    assert.equal(model.engine, 'onnx');
    assert.deepEqual(model.inputs, [{ name: 'x', dtype: 'float32', shape: [-1, 3] }]);
    assert.deepEqual(model.outputs, [{ name: 'y', dtype: 'float32', shape: [-1, 3] }]);
    await model.dispose();
  });

  test('reports an input without a declared shape as [] and runs it with any rank', async () => {
    const bytes = new OnnxGraphBuilder('unranked')
      .input('x', 'float32', undefined)
      .output('y', 'float32', undefined)
      .node('Relu', ['x'], ['y'])
      .build();
    await withSession(bytes, async (session, model) => {
      assert.deepEqual(model.inputs, [{ name: 'x', dtype: 'float32', shape: [] }]);
      const [out] = await session.run([f32([-1, 2, -3, 4, -5, 6], [2, 1, 3])]);
      assert.deepEqual(out!.shape, [2, 1, 3]);
      assert.deepEqual(floats(out!), [0, 2, 0, 4, 0, 6]);
    });
  });

  test('loads from a view over a SharedArrayBuffer', async () => {
    const bytes = reluAddModel();
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.length + 8), 8, bytes.length);
    shared.set(bytes);
    const out = await withSession(shared, (s) => s.run([f32([1, 1, 1], [1, 3])]));
    assert.deepEqual(floats(out[0]!), [2, 0, 1.5]);
  });

  test('rejects bytes that are not a model with MODEL_CORRUPT', async () => {
    await rejectsWith(
      onnxEngine.load(single(new TextEncoder().encode('hello, not a model'))),
      'MODEL_CORRUPT',
      /not an ONNX ModelProto/,
    );
  });

  test('rejects a truncated model with MODEL_CORRUPT', async () => {
    const bytes = buildMobileNetV1({ alpha: 0.25, resolution: 32, classes: 10 });
    await rejectsWith(
      onnxEngine.load(single(bytes.subarray(0, bytes.length - 100))),
      'MODEL_CORRUPT',
      /ONNX/,
    );
  });

  test('rejects a graph that uses an undefined tensor with MODEL_CORRUPT', async () => {
    const bytes = new OnnxGraphBuilder('bad')
      .input('x', 'float32', [2])
      .output('y', 'float32', [2])
      .node('Relu', ['missing'], ['y'])
      .build();
    await rejectsWith(onnxEngine.load(single(bytes)), 'MODEL_CORRUPT', /missing/);
  });

  test('rejects an opset newer than onnxruntime knows with ONNX_OPSET_UNSUPPORTED', async () => {
    const bytes = new OnnxGraphBuilder('future')
      .input('x', 'float32', [2])
      .output('y', 'float32', [2])
      .node('Relu', ['x'], ['y'])
      .build({ opset: 99 });
    await rejectsWith(onnxEngine.load(single(bytes)), 'ONNX_OPSET_UNSUPPORTED', /"ai\.onnx" 99/);
  });

  test('rejects unknown operators and domains with UNSUPPORTED_OPS', async () => {
    const g = () =>
      new OnnxGraphBuilder('ops').input('x', 'float32', [2]).output('y', 'float32', [2]);
    await rejectsWith(
      onnxEngine.load(single(g().node('Frobnicate', ['x'], ['y']).build())),
      'UNSUPPORTED_OPS',
      /Frobnicate/,
    );
    const custom = g()
      .node('Frob', ['x'], ['y'], {}, 'com.example')
      .build({ extraOpsets: { 'com.example': 1 } });
    await rejectsWith(onnxEngine.load(single(custom)), 'UNSUPPORTED_OPS', /com\.example/);
  });

  test('rejects inputs of types semirt tensors cannot carry with ONNX_IO_UNSUPPORTED', async () => {
    const bytes = new OnnxGraphBuilder('strings')
      .input('s', 'string', [1])
      .output('y', 'float32', [1])
      .node('Cast', ['s'], ['y'], { to: { int: 1 } })
      .build();
    await rejectsWith(
      onnxEngine.load(single(bytes)),
      'ONNX_IO_UNSUPPORTED',
      /input "s" is tensor of string/,
    );
  });

  test('rejects a non-positive thread count with a RangeError', async () => {
    await assert.rejects(
      onnxEngine.load(single(reluAddModel()), { intraOpThreads: 0 }),
      RangeError,
    );
  });
});

describe('OnnxSession.run()', () => {
  test('computes the graph for any batch size of a dynamic dimension', async () => {
    await withSession(reluAddModel(), async (session) => {
      const [one] = await session.run([f32([0, 0, 0], [1, 3])]);
      assert.deepEqual(floats(one!), [1, 0, 0.5]);
      const [two] = await session.run([f32([1, 1, 1, -5, 5, -0.5], [2, 3])]);
      assert.deepEqual(two!.shape, [2, 3]);
      assert.deepEqual(floats(two!), [2, 0, 1.5, 0, 3, 0]);
    });
  });

  test('passes every semirt dtype through unchanged', async () => {
    const dtypes: DType[] = [
      'float32',
      'float64',
      'float16',
      'int8',
      'uint8',
      'int16',
      'uint16',
      'int32',
      'uint32',
      'int64',
      'bool',
    ];
    const g = new OnnxGraphBuilder('identity');
    for (const dtype of dtypes) {
      g.input(`in_${dtype}`, dtype, [3])
        .output(`out_${dtype}`, dtype, [3])
        .node('Identity', [`in_${dtype}`], [`out_${dtype}`]);
    }
    await withSession(g.build(), async (session, model) => {
      const inputs = model.inputs.map((info, i): Tensor => {
        const data = Uint8Array.from(
          { length: 3 * (info.dtype === 'bool' ? 1 : [4, 8, 2, 1, 1, 2, 2, 4, 4, 8][i]!) },
          (_, k) => (info.dtype === 'bool' ? k % 2 : (k * 37 + i) & 0x7f),
        );
        return { dtype: info.dtype, shape: [3], data };
      });
      const outputs = await session.run(inputs);
      outputs.forEach((out, i) => {
        assert.equal(out.dtype, dtypes[i]);
        assert.deepEqual(out.data, inputs[i]!.data);
      });
    });
  });

  test('accepts input bytes at an unaligned offset or over a SharedArrayBuffer', async () => {
    await withSession(reluAddModel(), async (session) => {
      // A Buffer, as callers get from base64 decoding: its slice() is a view, not a copy.
      const unaligned = Buffer.alloc(13).subarray(1);
      unaligned.set(new Uint8Array(Float32Array.of(1, 2, 3).buffer));
      const shared = new Uint8Array(new SharedArrayBuffer(12));
      shared.set(new Uint8Array(Float32Array.of(-1, 5, 0).buffer));
      const [a] = await session.run([{ dtype: 'float32', shape: [1, 3], data: unaligned }]);
      const [b] = await session.run([{ dtype: 'float32', shape: [1, 3], data: shared }]);
      assert.deepEqual(floats(a!), [2, 0, 3.5]);
      assert.deepEqual(floats(b!), [0, 3, 0.5]);
    });
  });

  test('rejects a wrong input count, dtype, shape or byte size with INPUT_MISMATCH', async () => {
    await withSession(reluAddModel(), async (session) => {
      await rejectsWith(session.run([]), 'INPUT_MISMATCH', /takes 1 input\(s\) \("x"\), got 0/);
      await rejectsWith(
        session.run([{ dtype: 'int32', shape: [1, 3], data: new Uint8Array(12) }]),
        'INPUT_MISMATCH',
        /input 0 \("x"\) must be float32, got int32/,
      );
      await rejectsWith(
        session.run([f32([1, 2, 3, 4], [1, 4])]),
        'INPUT_MISMATCH',
        /must have shape float32 \[-1, 3\]/,
      );
      await rejectsWith(
        session.run([{ dtype: 'float32', shape: [2, 3], data: new Uint8Array(12) }]),
        'INPUT_MISMATCH',
        /needs 24 bytes, got 12/,
      );
      // The session keeps serving after rejected requests.
      const [ok] = await session.run([f32([0, 0, 0], [1, 3])]);
      assert.deepEqual(floats(ok!), [1, 0, 0.5]);
    });
  });

  test('reports an allocation failure as ONNX_OUT_OF_MEMORY and keeps serving', async () => {
    // ConstantOfShape with a requested 400 GB output makes onnxruntime's allocator fail for real.
    const bytes = new OnnxGraphBuilder('oom')
      .input('n', 'int64', [1])
      .output('y', 'float32', ['n'])
      .node('ConstantOfShape', ['n'], ['y'])
      .build();
    await withSession(bytes, async (session) => {
      const count = (n: bigint): Tensor => ({
        dtype: 'int64',
        shape: [1],
        data: new Uint8Array(BigInt64Array.of(n).buffer),
      });
      await rejectsWith(session.run([count(100_000_000_000n)]), 'ONNX_OUT_OF_MEMORY', /allocate/);
      const [small] = await session.run([count(4n)]);
      assert.deepEqual(small!.shape, [4]);
    });
  });
});

describe('Model.createSession()', () => {
  test('gives independent sessions over one model that answer alike', async () => {
    const model = await onnxEngine.load(single(reluAddModel()));
    const [a, b] = [await model.createSession(), await model.createSession()];
    const [ra, rb] = await Promise.all([
      a.run([f32([3, 3, 3], [1, 3])]),
      b.run([f32([3, 3, 3], [1, 3])]),
    ]);
    assert.deepEqual(floats(ra[0]!), floats(rb[0]!));
    await a.dispose();
    await b.dispose();
    await model.dispose();
    await assert.rejects(model.createSession(), /disposed/);
  });
});

describe('MobileNetV1-shaped network', () => {
  let model: Model;
  let session: Session;
  before(async () => {
    model = await onnxEngine.load(single(buildMobileNetV1()));
    session = await model.createSession();
  });
  after(async () => {
    await session.dispose();
    await model.dispose();
  });

  test('declares the SeSeMI image input and 1001 class probabilities', () => {
    assert.deepEqual(model.inputs, [{ name: 'input', dtype: 'float32', shape: [1, 224, 224, 3] }]);
    assert.deepEqual(model.outputs, [{ name: 'output', dtype: 'float32', shape: [1, 1001] }]);
  });

  test('runs the SeSeMI example image into a probability distribution, the same twice', async () => {
    const request = JSON.parse(
      readFileSync(join(SHARED_DATA, 'sesemi-examples', 'inference_req_nenc.json'), 'utf8'),
    ) as { encrypted_sample: string };
    const image = new Uint8Array(Buffer.from(request.encrypted_sample, 'base64'));
    assert.equal(image.byteLength, 224 * 224 * 3 * 4);
    const input: Tensor = { dtype: 'float32', shape: [1, 224, 224, 3], data: image };
    const [first] = await session.run([input]);
    const [second] = await session.run([input]);
    const probs = floats(first!);
    assert.equal(probs.length, 1001);
    assert.ok(probs.every((p) => p >= 0 && p <= 1));
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    assert.deepEqual(second!.data, first!.data);
  });

  test('gives the same weights for the same seed and different ones for another seed', () => {
    const small = { alpha: 0.25, resolution: 32, classes: 10 };
    assert.deepEqual(buildMobileNetV1(small), buildMobileNetV1(small));
    assert.notDeepEqual(buildMobileNetV1(small), buildMobileNetV1({ ...small, seed: 2 }));
  });
});
