/**
 * The engine interface every inference engine implements (tflite, onnx, tvm). Tensors cross it
 * as raw little-endian bytes plus dtype and shape, so they can be transferred between worker
 * threads without copies. Model bytes may be views over a SharedArrayBuffer so that sessions in
 * several threads share one copy of the weights where the engine allows it.
 */

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'bool';

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  bool: 1,
};

/** Affine quantization: real = scale * (q - zeroPoint); per channel along `axis` when arrays have more than one entry. */
export interface Quantization {
  readonly scale: readonly number[];
  readonly zeroPoint: readonly number[];
  readonly axis: number;
}

/** A model input or output as the model declares it; a dynamic dimension is -1. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly quantization?: Quantization;
}

/** A concrete tensor: raw little-endian element bytes. */
export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** The files of a model: one file, or a TVM bundle of graph, params and operator library. */
export type ModelFiles<T> =
  | { readonly kind: 'single'; readonly bytes: T }
  | {
      readonly kind: 'tvm';
      readonly graphJson: T;
      readonly params: T;
      readonly library: T;
    };

/** What an engine loads (plaintext model bytes). */
export type ModelArtifact = ModelFiles<Uint8Array>;

/** The same model with `f` applied to each of its files. */
export function mapModelFiles<A, B>(files: ModelFiles<A>, f: (file: A) => B): ModelFiles<B> {
  if (files.kind === 'single') return { kind: 'single', bytes: f(files.bytes) };
  return {
    kind: 'tvm',
    graphJson: f(files.graphJson),
    params: f(files.params),
    library: f(files.library),
  };
}

/** Every file of a model, in a fixed order. */
export function modelFileList<T>(files: ModelFiles<T>): T[] {
  return files.kind === 'single' ? [files.bytes] : [files.graphJson, files.params, files.library];
}

export type EngineName = 'tflite' | 'onnx' | 'tvm';

export interface LoadOptions {
  /** Threads an engine may use inside one session (the pool runs one session per worker). */
  readonly intraOpThreads?: number;
}

export interface Engine {
  readonly name: EngineName;
  /** Tells, from content alone, whether this engine reads the artifact. */
  accepts(artifact: ModelArtifact): boolean;
  /** Parses and validates the artifact; errors are SemirtErrors with catalog codes. */
  load(artifact: ModelArtifact, options?: LoadOptions): Promise<Model>;
}

export interface Model {
  readonly engine: EngineName;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Creates an independent session (own activations and state) over the shared weights. */
  createSession(): Promise<Session>;
  /** Releases what the model holds; sessions must be disposed first. */
  dispose(): Promise<void>;
}

export interface Session {
  /** Runs one inference; inputs in the model's input order. */
  run(inputs: readonly Tensor[]): Promise<Tensor[]>;
  /** Clears state kept between runs (LSTM/SVDF variables); a no-op for stateless models. */
  reset(): void;
  dispose(): Promise<void>;
}
