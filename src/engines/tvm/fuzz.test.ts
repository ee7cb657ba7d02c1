import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  helloWorldAotBundle,
  helloWorldBundle,
  helloWorldGraph,
} from '../../../test/fixtures/tvm/bundles.js';
import { isSemirtError } from '../../errors.js';
import { DTYPE_SIZE, type ModelArtifact } from '../engine.js';
import { loadTvmModel } from './tvm-engine.js';

/** A small deterministic PRNG (mulberry32) so that failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Loads (and, when asked, runs) a bundle: it may work, or fail with a SemirtError, nothing else. */
async function loadsOrFailsCleanly(artifact: ModelArtifact, run: boolean): Promise<void> {
  try {
    const model = await loadTvmModel(artifact);
    if (run) {
      const session = await model.createSession();
      const inputs = model.inputs.map((info) => ({
        dtype: info.dtype,
        shape: info.shape,
        data: new Uint8Array(info.shape.reduce((n, d) => n * d, DTYPE_SIZE[info.dtype])),
      }));
      await session.run(inputs);
    }
  } catch (err) {
    assert.ok(isSemirtError(err), `not a SemirtError: ${String(err)}`);
  }
}

const VALUES: unknown[] = [
  -1,
  0,
  1,
  2,
  3,
  9,
  10,
  4294967296,
  1.5,
  '0',
  '1',
  'float32',
  'int8',
  '__nop',
  null,
  true,
  [],
  [0],
  [[0, 0]],
  {},
];

/** Replaces one randomly chosen value anywhere in a JSON tree. */
function mutate(tree: unknown, random: () => number): unknown {
  const paths: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]): void => {
    paths.push(path);
    if (Array.isArray(node))
      node.forEach((child, i) => {
        walk(child, [...path, i]);
      });
    else if (typeof node === 'object' && node !== null)
      for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
  };
  walk(tree, []);
  const path = paths[Math.floor(random() * paths.length)]!;
  const value = VALUES[Math.floor(random() * VALUES.length)];
  if (path.length === 0) return value;
  const copy = structuredClone(tree) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  parent[path.at(-1)!] = value;
  return copy;
}

describe('the TVM engine under random corruption', () => {
  it('graph JSON with one value replaced loads and runs, or fails with a SemirtError (400 cases)', async () => {
    const random = prng(1);
    const bundle = helloWorldBundle();
    for (let i = 0; i < 400; i++) {
      const graphJson = new TextEncoder().encode(JSON.stringify(mutate(helloWorldGraph(), random)));
      await loadsOrFailsCleanly({ ...bundle, graphJson }, true);
    }
  });

  it('an AOT signature with one value replaced loads and runs, or fails with a SemirtError (200 cases)', async () => {
    const random = prng(4);
    const bundle = helloWorldAotBundle();
    const signature = JSON.parse(new TextDecoder().decode(bundle.graphJson)) as unknown;
    for (let i = 0; i < 200; i++) {
      const graphJson = new TextEncoder().encode(JSON.stringify(mutate(signature, random)));
      await loadsOrFailsCleanly({ ...bundle, graphJson }, true);
    }
  });

  it('params with random bytes changed load and run, or fail with a SemirtError (400 cases)', async () => {
    const random = prng(2);
    const bundle = helloWorldBundle();
    for (let i = 0; i < 400; i++) {
      const params = bundle.params.slice();
      for (let k = 0; k < 3; k++)
        params[Math.floor(random() * params.length)] = Math.floor(random() * 256);
      await loadsOrFailsCleanly({ ...bundle, params }, true);
    }
  });

  it('libraries with random bytes changed load, or fail with a SemirtError (200 cases)', async () => {
    // Loading only: a corrupted operator might loop for a long time, which only the pool's deadline bounds.
    const random = prng(3);
    const bundle = helloWorldBundle();
    for (let i = 0; i < 200; i++) {
      const library = bundle.library.slice();
      library[8 + Math.floor(random() * (library.length - 8))] = Math.floor(random() * 256);
      await loadsOrFailsCleanly({ ...bundle, library }, false);
    }
  });
});
