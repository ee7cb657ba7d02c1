import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modelFileList, type ModelFiles } from '../engines/engine.js';
import { SemirtError } from '../errors.js';
import { isModelId, MODEL_ID_RULE } from '../model-id.js';

/** The encrypted files of one model, as the store holds them (each an envelope under the model key). */
export type EncryptedModel = ModelFiles<Buffer>;

/** Where encrypted models come from; the filesystem store is the default, others may follow. */
export interface ModelStore {
  /** Reads a model's encrypted files; MODEL_NOT_FOUND when the store has none. */
  read(modelId: string): Promise<EncryptedModel>;
}

/** The file names of a TVM bundle in the store (DESIGN.md §3). */
export const TVM_BUNDLE_SUFFIXES = {
  graphJson: '.graph_json',
  params: '.params_data',
  library: '.wasm',
} as const;

/** The file names of a model in the store: `<model_id>`, or `<model_id>.<ext>` for each file of a TVM bundle. */
export function storeFileNames(
  modelId: string,
  kind: ModelFiles<unknown>['kind'],
): ModelFiles<string> {
  if (kind === 'single') return { kind: 'single', bytes: modelId };
  return {
    kind: 'tvm',
    graphJson: modelId + TVM_BUNDLE_SUFFIXES.graphJson,
    params: modelId + TVM_BUNDLE_SUFFIXES.params,
    library: modelId + TVM_BUNDLE_SUFFIXES.library,
  };
}

/** Checks that a model id can name a store file (see model-id.ts). */
export function checkStoreModelId(modelId: string): string {
  if (!isModelId(modelId)) {
    throw new SemirtError(
      'INFERENCE_REQUEST_INVALID',
      `Invalid "model_type" ${JSON.stringify(modelId.slice(0, 64))}: ${MODEL_ID_RULE}`,
    );
  }
  return modelId;
}

/** A model store in a folder: `<dir>/<model_id>` for one-file models, `<dir>/<model_id>.<ext>` for TVM bundles. */
export class FileModelStore implements ModelStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async read(modelId: string): Promise<EncryptedModel> {
    const id = checkStoreModelId(modelId);
    const single = await this.#file(id);
    if (single !== undefined) return { kind: 'single', bytes: single };
    const bundle = storeFileNames(id, 'tvm');
    const [graphJson, params, library] = await Promise.all(
      modelFileList(bundle).map((name) => this.#file(name)),
    );
    if (graphJson !== undefined && params !== undefined && library !== undefined) {
      return { kind: 'tvm', graphJson, params, library };
    }
    throw new SemirtError(
      'MODEL_NOT_FOUND',
      `Model "${id}" is not in the store: expected a file "${id}" or the TVM bundle ${modelFileList(
        bundle,
      )
        .map((name) => `"${name}"`)
        .join(', ')}`,
    );
  }

  async #file(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.#dir, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') return undefined;
      throw new SemirtError(
        'STORE_READ_FAILED',
        `Cannot read "${name}" from the model store: ${code ?? 'unknown error'}`,
        {
          cause: err,
        },
      );
    }
  }
}
