/**
 * The one protocol between the pool (main thread) and its workers. Tensor buffers travel in
 * transfer lists; model bytes are views over SharedArrayBuffers, so they are shared, not copied.
 */
import type { EngineName, ModelArtifact, Tensor, TensorInfo } from '../engines/engine.js';
import type { ErrorCode } from '../errors.js';

/** A model as the pool hands it to a worker: its cache key and its (shared) bytes. */
export interface PoolModel {
  readonly key: string;
  readonly artifact: ModelArtifact;
}

export interface WorkerError {
  readonly code: ErrorCode | 'INTERNAL';
  readonly message: string;
}

export type ToWorker =
  /** Load a model and open a session; answered by `loaded` or `load-failed`. */
  | { readonly type: 'load'; readonly model: PoolModel }
  /** Run one inference; the worker loads the model first if it does not hold it yet. */
  | {
      readonly type: 'run';
      readonly jobId: number;
      readonly model: PoolModel;
      readonly inputs: readonly Tensor[];
    }
  /** Dispose the model's session and model; answered by `unloaded`. */
  | { readonly type: 'unload'; readonly modelKey: string };

export interface ModelSignature {
  readonly engine: EngineName;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}

export type FromWorker =
  | {
      readonly type: 'loaded';
      readonly modelKey: string;
      readonly signature: ModelSignature;
      readonly loadMs: number;
    }
  | { readonly type: 'load-failed'; readonly modelKey: string; readonly error: WorkerError }
  | {
      readonly type: 'result';
      readonly jobId: number;
      readonly outputs: readonly Tensor[];
      /** Time spent loading the model in this worker first (0 when it was loaded). */
      readonly loadMs: number;
      readonly inferMs: number;
    }
  | { readonly type: 'failed'; readonly jobId: number; readonly error: WorkerError }
  | { readonly type: 'unloaded'; readonly modelKey: string };

/** Buffers of tensors that can be moved to another thread without detaching anything else. */
export function transferables(tensors: readonly Tensor[]): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const { data } of tensors) {
    const buffer = data.buffer;
    // Only a buffer the tensor owns whole: a view into Node's Buffer pool or a shared buffer
    // must be copied by structured clone instead, or unrelated data would be detached.
    if (
      buffer instanceof ArrayBuffer &&
      data.byteOffset === 0 &&
      data.byteLength === buffer.byteLength &&
      !list.includes(buffer)
    ) {
      list.push(buffer);
    }
  }
  return list;
}
