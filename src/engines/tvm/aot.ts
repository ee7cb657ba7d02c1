import { SemirtError } from '../../errors.js';
import type { TensorInfo } from '../engine.js';
import { tensorLayout, type TensorLayout } from './graph.js';
import { ALIGNMENT, align, withinLimit, type MemoryPlan, type PlannedTensor } from './plan.js';

/**
 * TVM's ahead-of-time executor with the C interface API: the library exports
 * `int32_t tvmgen_<name>_run(struct tvmgen_<name>_inputs*, struct tvmgen_<name>_outputs*)`,
 * each struct one data pointer per input or output in order, and carries its constants and
 * workspace itself (linked params, static pools). TVM's Model Library Format metadata does not
 * record shapes, so semirt reads the entry point's signature from a small JSON in the bundle's
 * graph slot:
 *   {"executor": "aot", "entry": "tvmgen_default_run",
 *    "inputs": [{"name", "dtype", "shape"}, ...], "outputs": [...]}
 */

export interface AotSignature {
  readonly entry: string;
  readonly inputs: readonly (TensorInfo & TensorLayout)[];
  readonly outputs: readonly (TensorInfo & TensorLayout)[];
}

const KEYS = new Set(['executor', 'entry', 'inputs', 'outputs']);

function fail(message: string): never {
  throw new SemirtError('TVM_GRAPH_INVALID', `Cannot load TVM AOT signature: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Tells whether a parsed executor config is an AOT signature rather than graph JSON. */
export function isAotSignature(root: unknown): boolean {
  return isRecord(root) && root['executor'] === 'aot';
}

function tensors(raw: unknown, key: 'inputs' | 'outputs'): (TensorInfo & TensorLayout)[] {
  if (!Array.isArray(raw) || raw.length === 0) fail(`${key} must be a non-empty array`);
  const names = new Set<string>();
  return (raw as unknown[]).map((item, i) => {
    const where = `${key}[${i}]`;
    if (!isRecord(item)) fail(`${where} must be an object`);
    const { name } = item;
    if (typeof name !== 'string' || name.length === 0)
      fail(`${where}.name must be a non-empty string`);
    if (names.has(name)) fail(`two ${key} are named "${name}"`);
    names.add(name);
    return {
      name,
      ...tensorLayout(item['dtype'], item['shape'], `${where}.dtype`, `${where}.shape`, fail),
    };
  });
}

/** Validates a parsed AOT signature; every error is a TVM_GRAPH_INVALID SemirtError. */
export function parseAotSignature(root: unknown): AotSignature {
  if (!isRecord(root) || root['executor'] !== 'aot')
    fail('the top level must be an object with "executor": "aot"');
  for (const key of Object.keys(root)) if (!KEYS.has(key)) fail(`unknown key "${key}"`);
  const { entry } = root;
  if (typeof entry !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(entry)) {
    fail(`entry must be a C identifier, got ${JSON.stringify(entry)}`);
  }
  return {
    entry,
    inputs: tensors(root['inputs'], 'inputs'),
    outputs: tensors(root['outputs'], 'outputs'),
  };
}

/**
 * Lays out an AOT call above `__heap_base`: the inputs and outputs structs (4-byte pointers on
 * wasm32), then one 64-byte aligned block per input and output, then the workspace stack (for
 * libraries built without static pools).
 */
export function planAot(signature: AotSignature, limitBytes: number): MemoryPlan {
  const fits = withinLimit(limitBytes);
  const inputsStruct = 0;
  const outputsStruct = 4 * signature.inputs.length;
  const parallelEnv = align(outputsStruct + 4 * signature.outputs.length, 8);
  let at = parallelEnv + 8;
  const place = (t: TensorInfo & TensorLayout): PlannedTensor => {
    const offset = align(at, ALIGNMENT);
    at = fits(offset + t.byteLength);
    return {
      info: { name: t.name, dtype: t.dtype, shape: t.shape },
      offset,
      byteLength: t.byteLength,
    };
  };
  const inputs = signature.inputs.map(place);
  const outputs = signature.outputs.map(place);
  const workspaceStart = fits(align(at, ALIGNMENT));
  return {
    calls: [
      {
        kind: 'entry',
        opName: signature.entry,
        funcName: signature.entry,
        inputs: inputsStruct,
        outputs: outputsStruct,
      },
    ],
    inputs,
    outputs,
    params: [],
    parallelEnv,
    descriptorBytes: parallelEnv,
    workspaceStart,
    buildDescriptors(base: number): Uint8Array {
      const image = new Uint8Array(parallelEnv);
      const view = new DataView(image.buffer);
      [...inputs, ...outputs].forEach((t, i) => {
        view.setUint32(4 * i, base + t.offset, true);
      });
      return image;
    },
  };
}
