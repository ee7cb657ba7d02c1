import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helloWorldBundle, hostileLibrary } from '../../../test/fixtures/tvm/bundles.js';
import { isSemirtError } from '../../errors.js';
import { compileLibrary } from './library.js';

const HELLO_FUNCTIONS = new Set([
  'tvmgen_default_fused_nn_dense_add_nn_relu',
  'tvmgen_default_fused_nn_dense_add_nn_relu_1',
  'tvmgen_default_fused_nn_dense_add',
]);

// Tiny hand-assembled modules (wasm binary format): header, then sections of id + size + body.
const name = (s: string): number[] => [s.length, ...Buffer.from(s)];
const section = (id: number, body: number[]): number[] => [id, body.length, ...body];
const module = (...sections: number[][]): Uint8Array =>
  new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...sections.flat()]);
const FUNC_TYPE = section(1, [1, 0x60, 0, 0]);
const importMemory = (limits: number[]): number[] => [
  ...name('env'),
  ...name('memory'),
  2,
  ...limits,
];

async function rejects(
  bytes: Uint8Array,
  functions: ReadonlySet<string>,
  message: RegExp,
): Promise<void> {
  await assert.rejects(
    compileLibrary(bytes, functions),
    (err: unknown) => isSemirtError(err, 'TVM_LIBRARY_INVALID') && message.test(err.message),
  );
}

describe('compileLibrary()', () => {
  it('accepts the hello_world library and reads its memory import', async () => {
    const library = await compileLibrary(helloWorldBundle().library, HELLO_FUNCTIONS);
    assert.equal(library.launchesLambdas, true);
    assert.equal(library.maxPages, undefined);
    assert.ok(library.minPages >= 1);
  });

  it('lists every function the graph calls that the library lacks', async () => {
    await rejects(
      hostileLibrary(),
      new Set(['hostile_double', 'nope_b', 'nope_a']),
      /does not export the functions "nope_a", "nope_b"/,
    );
  });

  it('rejects bytes that are not wasm', async () => {
    await rejects(
      new TextEncoder().encode('#!/bin/sh\nrm -rf /\n'),
      HELLO_FUNCTIONS,
      /not a wasm module/,
    );
  });

  it('rejects truncated libraries', async () => {
    const bytes = helloWorldBundle().library;
    for (let n = 0; n < bytes.length; n += 97)
      await rejects(bytes.subarray(0, n), HELLO_FUNCTIONS, /./);
  });

  it('rejects a module that defines its own memory instead of importing it', async () => {
    await rejects(
      module(section(5, [1, 0, 1])),
      new Set(),
      /does not import its memory as "env\.memory"/,
    );
  });

  it('rejects a shared memory import', async () => {
    await rejects(module(section(2, [1, ...importMemory([3, 1, 1])])), new Set(), /shared memory/);
  });

  it('rejects a 64-bit memory import', async () => {
    await rejects(module(section(2, [1, ...importMemory([4, 1])])), new Set(), /64-bit memories/);
  });

  it('reports all unknown imports and missing exports together', async () => {
    const imports = section(2, [
      3,
      ...importMemory([0, 1]),
      ...name('env'),
      ...name('system'),
      0,
      0,
      ...name('wasi_snapshot_preview1'),
      ...name('fd_write'),
      0,
      0,
    ]);
    await rejects(
      module(FUNC_TYPE, imports),
      new Set(),
      /imports function "env\.system", which the host does not provide; imports function "wasi_snapshot_preview1\.fd_write", which the host does not provide; does not export the global "__heap_base"/,
    );
  });

  it('requires the function table when the library launches parallel lambdas', async () => {
    const imports = section(2, [
      2,
      ...importMemory([0, 1]),
      ...name('env'),
      ...name('TVMBackendParallelLaunch'),
      0,
      0,
    ]);
    await rejects(
      module(FUNC_TYPE, imports),
      new Set(),
      /does not export "__indirect_function_table"/,
    );
  });

  it('rejects a module that does not compile', async () => {
    // A valid import section followed by a code section that claims a function body it lacks.
    await rejects(
      module(section(2, [1, ...importMemory([0, 1])]), section(10, [1, 5])),
      new Set(),
      /does not compile/,
    );
  });
});
