/**
 * TVM engine benchmark, in one run:
 * 1. executor overhead per operator call: a chain of N calls of a trivial packed function
 *    (hostile.c's hostile_double, y = 2x on 4 floats) run by the executor, against the anchor of
 *    calling the same wasm export directly from JavaScript with the same argument layout;
 * 2. end-to-end latency of the hello_world test model (3 fused dense ops): TVM engine
 *    session.run(), graph executor and AOT entry point, beside the same network (same weights)
 *    run by the TFLite engine.
 * Everything is measured in this process, on one thread; figures are medians of batches.
 *
 * Run: `npm run build && node dist/bench/tvm/bench.js` (or `npx tsx bench/tvm/bench.ts`).
 */
import { readFileSync } from 'node:fs';
import type { Session, Tensor } from '../../src/engines/engine.js';
import { tfliteEngine } from '../../src/engines/tflite/engine.js';
import { parseGraph } from '../../src/engines/tvm/graph.js';
import { encodeParams } from '../../src/engines/tvm/params.js';
import { compileLibrary, WASM_PAGE } from '../../src/engines/tvm/library.js';
import { ALIGNMENT, planMemory } from '../../src/engines/tvm/plan.js';
import { loadTvmModel } from '../../src/engines/tvm/tvm-engine.js';
import { wasm, type WasmGlobal } from '../../src/engines/tvm/wasm-api.js';
import {
  chainGraph,
  HELLO_WORLD_TFLITE,
  helloWorldAotBundle,
  helloWorldBundle,
  hostileLibrary,
} from '../../test/fixtures/tvm/bundles.js';

const BATCHES = 21;
const CHAIN = 64;
const fmt = (n: number, digits = 3): string => n.toFixed(digits);

/** Median time per call in microseconds over BATCHES batches; awaits only calls returning promises. */
async function perCallUs(perBatch: number, call: () => unknown): Promise<number> {
  const batch = async (): Promise<void> => {
    for (let i = 0; i < perBatch; i++) {
      const result = call();
      if (result instanceof Promise) await result;
    }
  };
  await batch();
  const times: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const start = performance.now();
    await batch();
    times.push(((performance.now() - start) * 1000) / perBatch);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const vector: Tensor = {
  dtype: 'float32',
  shape: [4],
  data: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer),
};

// --- 1. executor overhead per op call ------------------------------------------------------
// Anchor: the bare export called in a loop, arguments laid out by the same memory plan.
const oneOp = planMemory(
  parseGraph(new TextDecoder().decode(chainGraph('hostile_double', 1))),
  new Map(),
  1 << 24,
);
const library = await compileLibrary(hostileLibrary(), new Set(['hostile_double']));
const memory = new wasm.Memory({ initial: library.minPages, maximum: 256 });
const refuse = (): number => -1;
const instance = new wasm.Instance(library.module, {
  env: {
    memory,
    TVMAPISetLastError: refuse,
    TVMBackendAllocWorkspace: () => 0,
    TVMBackendFreeWorkspace: refuse,
    TVMBackendParallelLaunch: refuse,
  },
});
const heapBase = (instance.exports['__heap_base'] as WasmGlobal).value as number;
const base = Math.ceil(heapBase / ALIGNMENT) * ALIGNMENT;
memory.grow(Math.ceil((base + oneOp.workspaceStart) / WASM_PAGE));
new Uint8Array(memory.buffer).set(oneOp.buildDescriptors(base), base);
const bare = instance.exports['hostile_double'] as (...args: number[]) => number;
const c = oneOp.calls[0]!;
if (c.kind !== 'packed') throw new Error('expected a packed call');
const bareUs = await perCallUs(20000, () =>
  bare(base + c.values, base + c.typeCodes, 2, base + c.retValue, base + c.retTypeCode, 0),
);

const chainModel = await loadTvmModel({
  kind: 'tvm',
  graphJson: chainGraph('hostile_double', CHAIN),
  params: encodeParams(new Map()),
  library: hostileLibrary(),
});
const chainSession = chainModel.createTvmSession();
chainSession.setInput(0, vector);
const invokeUs = await perCallUs(500, () => {
  chainSession.invoke();
});
const runUs = await perCallUs(500, () => chainSession.run([vector]));
const perOpUs = invokeUs / CHAIN;
console.log(`1. executor overhead per op call (chain of ${CHAIN} × hostile_double, 4 floats)`);
console.log(`   anchor: bare wasm export call            ${fmt(bareUs)} µs`);
console.log(
  `   executor invoke(), per op                 ${fmt(perOpUs)} µs  (${fmt(perOpUs / bareUs, 2)}× anchor; overhead ${fmt(perOpUs - bareUs)} µs/op)`,
);
console.log(
  `   run() of the chain (set input, ${CHAIN} ops, copy output) ${fmt(runUs, 2)} µs  (${fmt(runUs / (bareUs * CHAIN), 2)}× ${CHAIN} bare calls)`,
);

// --- 2. hello_world end to end: TVM engine beside the TFLite engine ------------------------
const input: Tensor = {
  dtype: 'float32',
  shape: [1, 1],
  data: new Uint8Array(new Float32Array([1]).buffer),
};
const tvm = await (await loadTvmModel(helloWorldBundle())).createSession();
const tvmAot = await (await loadTvmModel(helloWorldAotBundle())).createSession();
const tflite = await (
  await tfliteEngine.load({
    kind: 'single',
    bytes: new Uint8Array(readFileSync(HELLO_WORLD_TFLITE)),
  })
).createSession();
const value = async (session: Session): Promise<number> =>
  new Float32Array((await session.run([input]))[0]!.data.slice().buffer)[0]!;
const [tvmValue, tfliteValue] = [await value(tvm), await value(tflite)];
const tfliteUs = await perCallUs(2000, () => tflite.run([input]));
const tvmUs = await perCallUs(2000, () => tvm.run([input]));
const aotUs = await perCallUs(2000, () => tvmAot.run([input]));
console.log('2. hello_world end to end (dense 1→16 relu, 16→16 relu, 16→1), session.run()');
console.log(
  `   anchor: TFLite engine                    ${fmt(tfliteUs, 2)} µs  (output ${tfliteValue})`,
);
console.log(
  `   TVM engine, graph executor                ${fmt(tvmUs, 2)} µs  (${fmt(tvmUs / tfliteUs, 2)}× anchor; output ${tvmValue})`,
);
console.log(
  `   TVM engine, AOT entry point               ${fmt(aotUs, 2)} µs  (${fmt(aotUs / tfliteUs, 2)}× anchor)`,
);
