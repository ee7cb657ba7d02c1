/**
 * LiteRT.js (Google's TFLite runtime in wasm) under Node 20, for side-by-side timings only. It is
 * browser-targeted, so it needs shims (see ../shared/notes/engines-in-node.md): `self`, `require`,
 * `__dirname` and an `importScripts` that evaluates its emscripten loader. Its JavaScript layer
 * maps only float32/int32/uint8 tensors; a copy of its entry module with int8/int16 added to that
 * table is imported instead of the original. Model copies are patched for what it refuses:
 * dynamic batch dimensions in shape_signature, and out-of-range quantized_dimension values.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runInThisContext } from 'node:vm';
import { FlatBuffer } from '../../src/engines/tflite/flatbuffer.js';
import { SLOT } from '../../src/engines/tflite/schema.js';

interface LiteRtTensor {
  toTypedArray(): ArrayBufferView;
  delete(): void;
}
interface LiteRtModel {
  run(inputs: LiteRtTensor[]): Promise<LiteRtTensor[]>;
  delete(): void;
}
interface LiteRtModule {
  loadLiteRt(path: string): Promise<unknown>;
  loadAndCompile(bytes: Uint8Array, options: { accelerator: 'wasm' }): Promise<LiteRtModel>;
  Tensor: new (data: ArrayBufferView, shape: number[]) => LiteRtTensor;
}

/** Loads LiteRT.js once with the Node shims; returns its module. */
export async function loadLiteRtForNode(): Promise<LiteRtModule> {
  const require = createRequire(import.meta.url);
  const coreDir = dirname(require.resolve('@litertjs/core/package.json'));
  const wasmDir = join(coreDir, 'wasm');
  const g = globalThis as Record<string, unknown>;
  g['self'] = globalThis;
  g['require'] = require;
  g['__dirname'] = wasmDir;
  g['importScripts'] = (url: string) => {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    runInThisContext(readFileSync(path, 'utf8'), { filename: path });
  };
  const utilsUrl = pathToFileURL(require.resolve('@litertjs/wasm-utils')).href;
  const source = readFileSync(join(coreDir, 'dist', 'index.js'), 'utf8')
    .replace('from "@litertjs/wasm-utils"', `from ${JSON.stringify(utilsUrl)}`)
    .replace(
      'var DATATYPES = Object.freeze([',
      'var DATATYPES = Object.freeze([\n  { dtype: "int8", typedArrayConstructor: Int8Array, elementType: ElementType.INT8 },\n  { dtype: "int16", typedArrayConstructor: Int16Array, elementType: ElementType.INT16 },',
    );
  const dir = mkdtempSync(join(tmpdir(), 'semirt-litert-'));
  const entry = join(dir, 'index.mjs');
  writeFileSync(entry, source);
  const lrt = (await import(pathToFileURL(entry).href)) as LiteRtModule;
  await lrt.loadLiteRt(`${wasmDir}/`);
  return lrt;
}

/** A copy of a model with dynamic dimensions pinned and quantized_dimension brought in range. */
export function patchForLiteRt(original: Uint8Array): Uint8Array {
  const bytes = original.slice();
  const fb = new FlatBuffer(bytes);
  const view = new DataView(bytes.buffer);
  for (const subgraph of fb.root('Model').tables(SLOT.model.subgraphs, 'subgraphs')) {
    for (const tensor of subgraph.tables(SLOT.subgraph.tensors, 'tensors')) {
      const shape = tensor.i32s(SLOT.tensor.shape, 'shape') ?? [];
      const signature = tensor.vector(7, 4, 'shape_signature');
      if (signature !== undefined) {
        for (let i = 0; i < signature.length; i++) {
          if (view.getInt32(signature.start + 4 * i, true) < 0)
            view.setInt32(signature.start + 4 * i, shape[i] ?? 1, true);
        }
      }
      const quant = tensor.table(SLOT.tensor.quantization, 'quantization');
      const at = quant?.position(SLOT.quantization.quantizedDimension, 4) ?? 0;
      if (at !== 0 && view.getInt32(at, true) >= shape.length) view.setInt32(at, 0, true);
    }
  }
  return bytes;
}
