import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helloWorldGraph, helloWorldParams } from '../../../test/fixtures/tvm/bundles.js';
import { isSemirtError } from '../../errors.js';
import { parseGraph } from './graph.js';
import type { ParamTensor } from './params.js';
import { ALIGNMENT, planMemory, TYPE_CODE_DLTENSOR } from './plan.js';

const LIMIT = 1 << 20;
const graph = parseGraph(JSON.stringify(helloWorldGraph()));

function rejects(
  params: Map<string, ParamTensor>,
  code: 'TVM_PARAMS_INVALID' | 'TVM_GRAPH_INVALID',
  message: RegExp,
): void {
  assert.throws(
    () => planMemory(graph, params, LIMIT),
    (err: unknown) => isSemirtError(err, code) && message.test(err.message),
  );
}

describe('planMemory()', () => {
  const plan = planMemory(graph, helloWorldParams(), LIMIT);

  it('makes the arg nodes without params the inputs, and the heads the outputs', () => {
    assert.deepEqual(
      plan.inputs.map((p) => p.info),
      [{ name: 'serving_default_dense_input:0', dtype: 'float32', shape: [1, 1] }],
    );
    assert.deepEqual(
      plan.outputs.map((p) => p.info),
      [{ name: 'tvmgen_default_fused_nn_dense_add', dtype: 'float32', shape: [1, 1] }],
    );
    assert.equal(plan.params.length, 6);
  });

  it('gives each storage id one 64-byte aligned block, shared by the entries that name it', () => {
    const offsets = [...plan.inputs, ...plan.outputs].map((p) => p.offset);
    for (const offset of offsets) assert.equal(offset % ALIGNMENT, 0);
    // The output (entry 9) reuses storage 3, the first op's output: sized for the larger [1, 16].
    const first = plan.calls[0]!;
    assert.ok(first.kind === 'packed');
    const firstOpOutput = new DataView(plan.buildDescriptors(0).buffer).getUint32(
      first.values + 8 * 3,
      true,
    );
    const dataOfFirstOutput = new DataView(plan.buildDescriptors(0).buffer).getUint32(
      firstOpOutput,
      true,
    );
    assert.equal(dataOfFirstOutput, plan.outputs[0]!.offset);
    assert.ok(plan.workspaceStart >= plan.outputs[0]!.offset + 64);
  });

  it('writes DLTensors with the wasm32 layout, absolute addresses and type code 7', () => {
    const base = 0x10000;
    const image = plan.buildDescriptors(base);
    const view = new DataView(image.buffer);
    const call = plan.calls[1]!; // dense 16x16: (x[1,16], w[16,16], b[16], out[1,16])
    assert.ok(call.kind === 'packed');
    assert.equal(call.funcName, 'tvmgen_default_fused_nn_dense_add_nn_relu_1');
    assert.equal(call.numArgs, 4);
    const tensorAt = (i: number): number => view.getUint32(call.values + 8 * i, true) - base;
    for (let i = 0; i < 4; i++)
      assert.equal(view.getInt32(call.typeCodes + 4 * i, true), TYPE_CODE_DLTENSOR);
    const w = tensorAt(1);
    assert.equal(view.getUint32(w, true) % ALIGNMENT, 0); // data
    assert.ok(view.getUint32(w, true) >= base);
    assert.equal(view.getInt32(w + 4, true), 1); // device_type CPU
    assert.equal(view.getInt32(w + 8, true), 0); // device_id
    assert.equal(view.getInt32(w + 12, true), 2); // ndim
    assert.deepEqual(
      [view.getUint8(w + 16), view.getUint8(w + 17), view.getUint16(w + 18, true)],
      [2, 32, 1],
    );
    const shape = view.getUint32(w + 20, true) - base;
    assert.deepEqual(
      [view.getBigInt64(shape, true), view.getBigInt64(shape + 8, true)],
      [16n, 16n],
    );
    assert.equal(view.getUint32(w + 24, true), 0); // strides
    assert.equal(view.getBigUint64(w + 32, true), 0n); // byte_offset
  });

  it('flattens shapes to one dimension for ops with flatten_data', () => {
    const g = structuredClone(helloWorldGraph()) as { nodes: { attrs?: Record<string, string> }[] };
    g.nodes[6]!.attrs!['flatten_data'] = '1';
    const flat = planMemory(parseGraph(JSON.stringify(g)), helloWorldParams(), LIMIT);
    const view = new DataView(flat.buildDescriptors(0).buffer);
    const call = flat.calls[1]!;
    assert.ok(call.kind === 'packed');
    const w = view.getUint32(call.values + 8, true);
    assert.equal(view.getInt32(w + 12, true), 1);
    assert.equal(view.getBigInt64(view.getUint32(w + 20, true), true), 256n);
  });

  it('rejects a param the graph does not have', () => {
    const params = helloWorldParams();
    params.set('p9', params.get('p0')!);
    rejects(params, 'TVM_PARAMS_INVALID', /param "p9" is not an input node of the graph/);
  });

  it('rejects a param whose dtype or shape differs from the graph', () => {
    const params = helloWorldParams();
    const p0 = params.get('p0')!;
    rejects(
      new Map([...params, ['p0', { ...p0, dtype: 'int32' }]]),
      'TVM_PARAMS_INVALID',
      /param "p0" is int32 but the graph declares float32/,
    );
    rejects(
      new Map([...params, ['p0', { ...p0, shape: [1, 16] }]]),
      'TVM_PARAMS_INVALID',
      /param "p0" has shape \[1, 16\] but the graph declares \[16, 1\]/,
    );
  });

  it('rejects an op that writes the storage of a param', () => {
    const g = structuredClone(helloWorldGraph()) as { attrs: { storage_id: [string, number[]] } };
    g.attrs.storage_id[1][3] = 1; // the first op's output onto p0's storage
    assert.throws(
      () => planMemory(parseGraph(JSON.stringify(g)), helloWorldParams(), LIMIT),
      (err: unknown) =>
        isSemirtError(err, 'TVM_GRAPH_INVALID') &&
        /writes storage 1, which holds a param/.test(err.message),
    );
  });

  it('rejects a plan larger than the memory limit', () => {
    assert.throws(
      () => planMemory(graph, helloWorldParams(), 1024),
      (err: unknown) => isSemirtError(err, 'TVM_MEMORY_LIMIT'),
    );
  });
});
