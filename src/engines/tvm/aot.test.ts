import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  helloWorldAotBundle,
  helloWorldBundle,
  helloWorldParams,
  hostileLibrary,
  referenceHelloWorld,
} from '../../../test/fixtures/tvm/bundles.js';
import { isSemirtError, type ErrorCode } from '../../errors.js';
import type { Tensor } from '../engine.js';
import { isAotSignature, parseAotSignature, planAot } from './aot.js';
import { ALIGNMENT } from './plan.js';
import { encodeParams } from './params.js';
import { loadTvmModel } from './tvm-engine.js';

const scalar = (x: number): Tensor => ({
  dtype: 'float32',
  shape: [1, 1],
  data: new Uint8Array(new Float32Array([x]).buffer),
});
const valueOf = (t: Tensor): number => new Float32Array(t.data.slice().buffer)[0]!;
const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const withCode = (code: ErrorCode, message: RegExp) => (err: unknown) =>
  isSemirtError(err, code) && message.test(err.message);

const SIGNATURE = {
  executor: 'aot',
  entry: 'tvmgen_default_run',
  inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1] }],
  outputs: [{ name: 'y', dtype: 'int8', shape: [3] }],
};

describe('parseAotSignature()', () => {
  it('reads the entry point and its inputs and outputs', () => {
    assert.equal(isAotSignature(SIGNATURE), true);
    assert.equal(isAotSignature({ nodes: [] }), false);
    const signature = parseAotSignature(SIGNATURE);
    assert.equal(signature.entry, 'tvmgen_default_run');
    assert.deepEqual(signature.outputs, [{ name: 'y', dtype: 'int8', shape: [3], byteLength: 3 }]);
  });

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown key', { ...SIGNATURE, params: [] }, /unknown key "params"/],
    [
      'an entry that is not a C identifier',
      { ...SIGNATURE, entry: 'run(); evil' },
      /entry must be a C identifier/,
    ],
    ['no inputs', { ...SIGNATURE, inputs: [] }, /inputs must be a non-empty array/],
    [
      'two outputs with one name',
      { ...SIGNATURE, outputs: [SIGNATURE.outputs[0], SIGNATURE.outputs[0]] },
      /two outputs are named "y"/,
    ],
    [
      'an unknown dtype',
      { ...SIGNATURE, inputs: [{ name: 'x', dtype: 'complex64', shape: [1] }] },
      /inputs\[0\]\.dtype "complex64" is not a supported dtype/,
    ],
    [
      'a negative dimension',
      { ...SIGNATURE, inputs: [{ name: 'x', dtype: 'float32', shape: [-1] }] },
      /inputs\[0\]\.shape\[0\] must be an integer/,
    ],
    [
      'a tensor over 4 GiB',
      { ...SIGNATURE, inputs: [{ name: 'x', dtype: 'float32', shape: [65536, 65536] }] },
      /inputs\[0\]\.shape \[65536, 65536\] exceeds 4 GiB/,
    ],
    [
      'a nameless output',
      { ...SIGNATURE, outputs: [{ dtype: 'float32', shape: [1] }] },
      /outputs\[0\]\.name must be a non-empty string/,
    ],
  ];
  for (const [what, signature, message] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseAotSignature(signature), withCode('TVM_GRAPH_INVALID', message));
    });
  }
});

describe('planAot()', () => {
  it('points the inputs and outputs structs at 64-byte aligned blocks', () => {
    const plan = planAot(parseAotSignature(SIGNATURE), 1 << 20);
    const base = 0x20000;
    const view = new DataView(plan.buildDescriptors(base).buffer);
    const call = plan.calls[0]!;
    assert.ok(call.kind === 'entry');
    assert.equal(view.getUint32(call.inputs, true), base + plan.inputs[0]!.offset);
    assert.equal(view.getUint32(call.outputs, true), base + plan.outputs[0]!.offset);
    for (const t of [...plan.inputs, ...plan.outputs]) assert.equal(t.offset % ALIGNMENT, 0);
    assert.ok(plan.outputs[0]!.offset >= plan.inputs[0]!.offset + 4);
  });
});

describe('the TVM engine with an AOT library', () => {
  it('runs hello_world through tvmgen_default_run, equal to the graph executor and the reference', async () => {
    const aot = await loadTvmModel(helloWorldAotBundle());
    assert.deepEqual(aot.inputs, [
      { name: 'serving_default_dense_input:0', dtype: 'float32', shape: [1, 1] },
    ]);
    assert.deepEqual(aot.outputs, [{ name: 'output', dtype: 'float32', shape: [1, 1] }]);
    const aotSession = await aot.createSession();
    const graphSession = await (await loadTvmModel(helloWorldBundle())).createSession();
    const params = helloWorldParams();
    for (let i = 0; i < 50; i++) {
      const x = Math.fround(-8 + (16 * i) / 49);
      const [fromAot] = await aotSession.run([scalar(x)]);
      const [fromGraph] = await graphSession.run([scalar(x)]);
      assert.equal(valueOf(fromAot!), referenceHelloWorld(params, x), `x = ${x}`);
      assert.equal(valueOf(fromAot!), valueOf(fromGraph!));
    }
  });

  it('accepts an empty NDArray list as params', async () => {
    await loadTvmModel({ ...helloWorldAotBundle(), params: encodeParams(new Map()) });
  });

  it('rejects params for an AOT model, whose constants are linked', async () => {
    await assert.rejects(
      loadTvmModel({ ...helloWorldAotBundle(), params: helloWorldBundle().params }),
      withCode(
        'TVM_PARAMS_INVALID',
        /carries its constants in the library, but the params file holds 6/,
      ),
    );
  });

  it('rejects an entry point whose arity is not (inputs, outputs)', async () => {
    const signature = {
      ...SIGNATURE,
      entry: 'hostile_double',
      outputs: [{ name: 'y', dtype: 'float32', shape: [4] }],
    };
    await assert.rejects(
      loadTvmModel({
        kind: 'tvm',
        graphJson: encode(signature),
        params: new Uint8Array(0),
        library: hostileLibrary(),
      }),
      withCode(
        'TVM_LIBRARY_INVALID',
        /"hostile_double" takes 6 parameters, not the AOT entry point's 2/,
      ),
    );
  });

  it('rejects a library without the entry point', async () => {
    const signature = { ...SIGNATURE, entry: 'tvmgen_other_run' };
    await assert.rejects(
      loadTvmModel({ ...helloWorldAotBundle(), graphJson: encode(signature) }),
      withCode('TVM_LIBRARY_INVALID', /does not export the functions "tvmgen_other_run"/),
    );
  });
});
