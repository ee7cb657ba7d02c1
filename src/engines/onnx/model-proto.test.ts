import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OnnxGraphBuilder } from './model-builder.js';
import { summarizeModelProto } from './model-proto.js';
import { ProtoWriter } from './protobuf.js';

describe('summarizeModelProto()', () => {
  test('reads the IR version, the opsets (default domain as "ai.onnx") and inputs without a shape', () => {
    const bytes = new OnnxGraphBuilder('g')
      .input('ranked', 'float32', [2])
      .output('y', 'float32', [2])
      .node('Identity', ['ranked'], ['y'])
      .build({ opset: 17, irVersion: 8, extraOpsets: { 'com.microsoft': 1 } });
    const summary = summarizeModelProto(bytes);
    assert.ok(summary);
    assert.deepEqual(summary.opsets, [
      { domain: 'ai.onnx', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ]);
    assert.equal(summary.irVersion, 8);
    assert.deepEqual([...summary.unrankedInputs], []);

    const model = new OnnxGraphBuilder('g')
      .input('free', 'float32', undefined)
      .input('ranked', 'float32', [])
      .output('y', 'float32', undefined)
      .node('Add', ['free', 'ranked'], ['y'])
      .build();
    assert.deepEqual([...(summarizeModelProto(model)?.unrankedInputs ?? [])], ['free']);
  });

  test('answers undefined for bytes that are not a ModelProto', () => {
    assert.equal(summarizeModelProto(new TextEncoder().encode('{"graph": 1}')), undefined);
    assert.equal(summarizeModelProto(new ProtoWriter().int(1, 8).finish()), undefined);
    assert.equal(summarizeModelProto(new Uint8Array(0)), undefined);
  });
});
