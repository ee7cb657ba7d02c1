import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  helloWorldBundle,
  helloWorldGraph,
  helloWorldParams,
  referenceHelloWorld,
} from '../../../test/fixtures/tvm/bundles.js';
import { SHARED_DATA } from '../../../test/support/paths.js';
import { isSemirtError, type ErrorCode } from '../../errors.js';
import type { Tensor } from '../engine.js';
import { engineFor, ENGINES, loadModel } from '../registry.js';
import { encodeParams } from './params.js';
import { createTvmEngine, loadTvmModel, tvmEngine, type TvmModel } from './tvm-engine.js';

const scalar = (x: number): Tensor => ({
  dtype: 'float32',
  shape: [1, 1],
  data: new Uint8Array(new Float32Array([x]).buffer),
});
const valueOf = (t: Tensor): number => new Float32Array(t.data.slice().buffer)[0]!;
const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const withCode = (code: ErrorCode, message: RegExp) => (err: unknown) =>
  isSemirtError(err, code) && message.test(err.message);

async function helloWorld(): Promise<TvmModel> {
  return loadTvmModel(helloWorldBundle());
}

describe('tvmEngine', () => {
  it('accepts TVM bundles with a wasm library and nothing else', () => {
    assert.equal(tvmEngine.accepts(helloWorldBundle()), true);
    assert.equal(
      tvmEngine.accepts({ ...helloWorldBundle(), library: new Uint8Array([1, 2, 3, 4]) }),
      false,
    );
    assert.equal(tvmEngine.accepts({ kind: 'single', bytes: helloWorldBundle().library }), false);
  });

  it('is the engine the registry picks for a TVM bundle', async () => {
    assert.equal(engineFor(ENGINES, helloWorldBundle()), tvmEngine);
    const model = await loadModel(helloWorldBundle());
    assert.equal(model.engine, 'tvm');
  });

  it('load() rejects a single-file artifact', async () => {
    await assert.rejects(
      tvmEngine.load({ kind: 'single', bytes: new Uint8Array(8) }),
      withCode('MODEL_FORMAT_UNKNOWN', /not a TVM bundle/),
    );
  });

  it('load() describes the inputs and outputs of hello_world', async () => {
    const model = await helloWorld();
    assert.equal(model.engine, 'tvm');
    assert.deepEqual(model.inputs, [
      { name: 'serving_default_dense_input:0', dtype: 'float32', shape: [1, 1] },
    ]);
    assert.deepEqual(model.outputs, [
      { name: 'tvmgen_default_fused_nn_dense_add', dtype: 'float32', shape: [1, 1] },
    ]);
  });

  it('run() matches TFLite Micro golden outputs for the hello_world inputs', async () => {
    const session = await (await helloWorld()).createSession();
    for (const name of ['x0', 'x1', 'x3', 'x5']) {
      const input = new Uint8Array(
        readFileSync(join(SHARED_DATA, 'tflite', 'inputs', `hello_world_float.${name}.bin`)),
      );
      const golden = new Float32Array(
        new Uint8Array(
          readFileSync(join(SHARED_DATA, 'tflite', 'golden', `hello_world_float.${name}.out`)),
        ).buffer,
      );
      const [output] = await session.run([{ dtype: 'float32', shape: [1, 1], data: input }]);
      assert.deepEqual(output!.shape, [1, 1]);
      assert.ok(
        Math.abs(valueOf(output!) - golden[0]!) <= 1e-6,
        `${name}: ${valueOf(output!)} vs ${golden[0]}`,
      );
    }
    await session.dispose();
  });

  it('run() equals the TypeScript reference bit for bit over 200 inputs', async () => {
    const session = await (await helloWorld()).createSession();
    const params = helloWorldParams();
    for (let i = 0; i < 200; i++) {
      const x = Math.fround(-10 + (20 * i) / 199);
      const [output] = await session.run([scalar(x)]);
      assert.equal(valueOf(output!), referenceHelloWorld(params, x), `x = ${x}`);
    }
  });

  it('sessions are independent: interleaved runs do not see each other', async () => {
    const model = await helloWorld();
    const a = model.createTvmSession();
    const b = model.createTvmSession();
    a.setInput(0, scalar(1));
    b.setInput(0, scalar(5));
    a.invoke();
    b.invoke();
    assert.equal(valueOf(a.getOutput(0)), referenceHelloWorld(helloWorldParams(), 1));
    assert.equal(valueOf(b.getOutput(0)), referenceHelloWorld(helloWorldParams(), 5));
  });

  it('setInput() takes an input by name or by index', async () => {
    const session = (await helloWorld()).createTvmSession();
    session.setInput('serving_default_dense_input:0', scalar(3));
    session.invoke();
    const byName = valueOf(session.getOutput(0));
    session.setInput(0, scalar(3));
    session.invoke();
    assert.equal(valueOf(session.getOutput(0)), byName);
    assert.throws(
      () => {
        session.setInput('nope', scalar(3));
      },
      withCode('INPUT_MISMATCH', /the model's inputs are "serving_default_dense_input:0"/),
    );
    assert.throws(
      () => {
        session.setInput(1, scalar(3));
      },
      withCode('INPUT_MISMATCH', /Cannot set TVM input 1/),
    );
    assert.throws(() => session.getOutput(1), RangeError);
  });

  it('run() rejects inputs of the wrong count, dtype, shape or byte length', async () => {
    const session = await (await helloWorld()).createSession();
    const mismatch = withCode('INPUT_MISMATCH', /expected float32 \[1, 1\] \(4 bytes\)/);
    await assert.rejects(session.run([]), withCode('INPUT_MISMATCH', /expected 1 inputs, got 0/));
    await assert.rejects(session.run([{ ...scalar(1), dtype: 'int32' }]), mismatch);
    await assert.rejects(session.run([{ ...scalar(1), shape: [1] }]), mismatch);
    await assert.rejects(session.run([{ ...scalar(1), data: new Uint8Array(8) }]), mismatch);
  });

  it('loads and runs a bundle whose bytes are views over SharedArrayBuffers', async () => {
    const share = (bytes: Uint8Array): Uint8Array => {
      const view = new Uint8Array(
        new SharedArrayBuffer(bytes.byteLength + 16),
        16,
        bytes.byteLength,
      );
      view.set(bytes);
      return view;
    };
    const bundle = helloWorldBundle();
    const model = await tvmEngine.load({
      kind: 'tvm',
      graphJson: share(bundle.graphJson),
      params: share(bundle.params),
      library: share(bundle.library),
    });
    const [output] = await (await model.createSession()).run([scalar(1)]);
    assert.equal(valueOf(output!), referenceHelloWorld(helloWorldParams(), 1));
  });

  it('runs a __nop reshape that aliases the last output', async () => {
    const g = structuredClone(helloWorldGraph()) as Record<string, unknown> & {
      nodes: unknown[];
      attrs: Record<string, [string, unknown[]]>;
    };
    g.nodes.push({
      op: 'tvm_op',
      name: 'reshape_nop',
      attrs: { func_name: '__nop', num_inputs: '1', num_outputs: '1', flatten_data: '0' },
      inputs: [[9, 0, 0]],
    });
    g['node_row_ptr'] = [...(g['node_row_ptr'] as number[]), 11];
    g['heads'] = [[10, 0, 0]];
    g.attrs['dltype']![1].push('float32');
    g.attrs['storage_id']![1].push(3);
    g.attrs['shape']![1].push([1]);
    g.attrs['device_index']![1].push(1);
    const model = await tvmEngine.load({ ...helloWorldBundle(), graphJson: encode(g) });
    const [output] = await (await model.createSession()).run([scalar(1)]);
    assert.deepEqual(output!.shape, [1]);
    assert.equal(valueOf(output!), referenceHelloWorld(helloWorldParams(), 1));
  });

  it('reports the error an operator sets when its arguments are wrong (flatten_data)', async () => {
    const g = structuredClone(helloWorldGraph()) as { nodes: { attrs?: Record<string, string> }[] };
    g.nodes[3]!.attrs!['flatten_data'] = '1';
    const model = await tvmEngine.load({ ...helloWorldBundle(), graphJson: encode(g) });
    const session = await model.createSession();
    await assert.rejects(
      session.run([scalar(1)]),
      withCode(
        'TVM_OPERATOR_FAILED',
        /operator "tvmgen_default_fused_nn_dense_add_nn_relu" \(tvmgen_default_fused_nn_dense_add_nn_relu\) returned -1: dense_add_nn_relu: bad argument p0/,
      ),
    );
  });

  it('load() rejects params that do not match the graph', async () => {
    const params = helloWorldParams();
    params.set('p1', { ...params.get('p1')!, shape: [4, 4] });
    await assert.rejects(
      tvmEngine.load({ ...helloWorldBundle(), params: encodeParams(params) }),
      withCode('TVM_PARAMS_INVALID', /param "p1" has shape \[4, 4\]/),
    );
  });

  it('treats arg nodes without params as inputs', async () => {
    const params = helloWorldParams();
    params.delete('p5');
    const model = await tvmEngine.load({ ...helloWorldBundle(), params: encodeParams(params) });
    assert.deepEqual(
      model.inputs.map((i) => i.name),
      ['serving_default_dense_input:0', 'p5'],
    );
  });

  it('load() rejects a graph that calls a function the library lacks', async () => {
    const g = structuredClone(helloWorldGraph()) as { nodes: { attrs?: Record<string, string> }[] };
    g.nodes[9]!.attrs!['func_name'] = 'tvmgen_default_fused_softmax';
    await assert.rejects(
      tvmEngine.load({ ...helloWorldBundle(), graphJson: encode(g) }),
      withCode('TVM_LIBRARY_INVALID', /"tvmgen_default_fused_softmax"/),
    );
  });

  it('load() rejects graph JSON that is not UTF-8', async () => {
    await assert.rejects(
      tvmEngine.load({ ...helloWorldBundle(), graphJson: new Uint8Array([0x7b, 0xff, 0x7d]) }),
      withCode('TVM_GRAPH_INVALID', /not valid UTF-8/),
    );
  });

  it('load() fails with TVM_MEMORY_LIMIT when the library needs more than the limit', async () => {
    const small = createTvmEngine({ memoryLimitBytes: 65536 });
    await assert.rejects(small.load(helloWorldBundle()), withCode('TVM_MEMORY_LIMIT', /limit/));
  });

  it('createTvmEngine() validates memoryLimitBytes', () => {
    assert.throws(
      () => createTvmEngine({ memoryLimitBytes: 1000 }),
      /memoryLimitBytes must be an integer from 65536 to 4 GiB, got 1000/,
    );
    assert.throws(() => createTvmEngine({ memoryLimitBytes: 2 ** 33 }), RangeError);
  });

  it('a disposed session refuses to run with SESSION_CLOSED', async () => {
    const session = await (await helloWorld()).createSession();
    await session.dispose();
    await assert.rejects(session.run([scalar(1)]), withCode('SESSION_CLOSED', /disposed/));
  });

  it('a model refuses dispose() while sessions are open, and new sessions after dispose()', async () => {
    const model = await helloWorld();
    const session = await model.createSession();
    await assert.rejects(model.dispose(), withCode('SESSION_CLOSED', /1 sessions are still open/));
    await session.dispose();
    await model.dispose();
    await assert.rejects(model.createSession(), withCode('SESSION_CLOSED', /model was disposed/));
  });
});
