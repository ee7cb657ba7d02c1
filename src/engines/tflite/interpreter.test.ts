import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { isSemirtError } from '../../errors.js';
import { TfliteModel } from './interpreter.js';
import { buildModel, f32Bytes } from './model-builder.js';

const MODELS = join(SHARED_DATA, 'tflite', 'models');
const INPUTS = join(SHARED_DATA, 'tflite', 'inputs');
const read = (path: string): Uint8Array => new Uint8Array(readFileSync(path));

describe('TfliteModel and TfliteSession', () => {
  it('load() reports inputs, outputs and an arena no larger than the tensors need', () => {
    const model = TfliteModel.load(read(join(MODELS, 'person_detect_int8.tflite')));
    assert.deepEqual(
      model.inputs.map((i) => [i.dtype, i.shape]),
      [['int8', [1, 96, 96, 1]]],
    );
    assert.deepEqual(
      model.outputs.map((o) => [o.dtype, o.shape]),
      [['int8', [1, 2]]],
    );
    const activations = model.report.tensors
      .filter((t) => t.data === undefined)
      .reduce((s, t) => s + t.bytes, 0);
    assert.ok(
      model.report.activationBytes < activations / 2,
      `planned ${model.report.activationBytes} of ${activations}`,
    );
    assert.equal(
      model.report.arenaBytes,
      model.report.activationBytes + model.report.variableBytes + model.report.scratchBytes,
    );
  });

  it('reset() restores the state of a stateful model; sessions keep separate state', () => {
    const model = TfliteModel.load(read(join(MODELS, 'dtln_noise_suppression_int8.tflite')));
    const input = [
      {
        dtype: 'int8' as const,
        shape: [1, 1, 257],
        data: read(join(INPUTS, 'dtln_noise_suppression_int8.feature_data.bin')),
      },
    ];
    const a = model.openSession();
    const b = model.openSession();
    const first = a.runSync(input)[0]!.data;
    const second = a.runSync(input)[0]!.data;
    assert.notDeepEqual(second, first, 'state carried over between invokes');
    assert.deepEqual(b.runSync(input)[0]!.data, first, 'a second session starts from fresh state');
    a.reset();
    assert.deepEqual(a.runSync(input)[0]!.data, first);
  });

  it('sessions share model bytes held in a SharedArrayBuffer', () => {
    const bytes = read(join(MODELS, 'network_tester_int8.tflite'));
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
    shared.set(bytes);
    const fromShared = TfliteModel.load(shared).openSession();
    const fromPlain = TfliteModel.load(bytes).openSession();
    const input = [
      {
        dtype: 'int8' as const,
        shape: [1, 8, 8, 16],
        data: read(join(INPUTS, 'network_tester_int8.input_data.bin')),
      },
    ];
    assert.deepEqual(fromShared.runSync(input)[0]!.data, fromPlain.runSync(input)[0]!.data);
  });

  it('run() rejects inputs of the wrong count, dtype or size with INPUT_MISMATCH', async () => {
    const session = await TfliteModel.load(
      read(join(MODELS, 'hello_world_int8.tflite')),
    ).createSession();
    const cases = [
      [],
      [{ dtype: 'float32' as const, shape: [1, 1], data: new Uint8Array(4) }],
      [{ dtype: 'int8' as const, shape: [1, 2], data: new Uint8Array(2) }],
    ];
    for (const inputs of cases) {
      await assert.rejects(session.run(inputs), (e: unknown) => isSemirtError(e, 'INPUT_MISMATCH'));
    }
  });

  it('load() lists every unsupported operator and version in one UNSUPPORTED_OPS error', () => {
    const bytes = buildModel({
      tensors: [
        { dtype: 'float32', shape: [4] },
        { dtype: 'float32', shape: [4] },
        { dtype: 'float32', shape: [4] },
        { dtype: 'float32', shape: [4] },
      ],
      inputs: [0],
      outputs: [3],
      operators: [
        { op: 'EXP', inputs: [0], outputs: [1] },
        { op: 'MyCustomOp', custom: true, version: 2, inputs: [1], outputs: [2] },
        { op: 'RELU', version: 9, inputs: [2], outputs: [3] },
      ],
    });
    assert.throws(
      () => TfliteModel.load(bytes),
      (e: unknown) =>
        isSemirtError(e, 'UNSUPPORTED_OPS') &&
        e.message.includes('EXP (version 1)') &&
        e.message.includes('MyCustomOp (version 2)') &&
        e.message.includes('RELU (version 9)'),
    );
  });

  it('load() refuses an operator that writes into a constant tensor', () => {
    const bytes = buildModel({
      tensors: [
        { dtype: 'float32', shape: [2] },
        { dtype: 'float32', shape: [2], data: f32Bytes([1, 2]) },
      ],
      inputs: [0],
      outputs: [1],
      operators: [{ op: 'RELU', inputs: [0], outputs: [1] }],
    });
    assert.throws(
      () => TfliteModel.load(bytes),
      (e: unknown) => isSemirtError(e, 'MODEL_INVALID'),
    );
  });

  it('a disposed session refuses to run and the model refuses to dispose while sessions are open', async () => {
    const model = TfliteModel.load(read(join(MODELS, 'hello_world_float.tflite')));
    const session = await model.createSession();
    await assert.rejects(model.dispose(), (e: unknown) => isSemirtError(e, 'SESSION_CLOSED'));
    await session.dispose();
    await assert.rejects(
      session.run([{ dtype: 'float32', shape: [1, 1], data: new Uint8Array(4) }]),
      (e: unknown) => isSemirtError(e, 'SESSION_CLOSED'),
    );
    await model.dispose();
  });
});
