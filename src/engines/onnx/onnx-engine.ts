/**
 * The ONNX engine: onnxruntime-node's CPU execution provider behind semirt's engine interface.
 * Models load from in-memory bytes only. Each session owns its copy of the weights (onnxruntime
 * cannot share a session or its initializers between worker threads), so the pool runs one
 * session per worker with one intra-op thread and spinning off (see docs/onnx.md).
 */
import { InferenceSession, Tensor as OrtTensor, env } from 'onnxruntime-node';
import { SemirtError } from '../../errors.js';
import {
  DTYPE_SIZE,
  type DType,
  type Engine,
  type LoadOptions,
  type Model,
  type ModelArtifact,
  type Session,
  type Tensor,
  type TensorInfo,
} from '../engine.js';
import { summarizeModelProto, type ModelProtoSummary } from './model-proto.js';

/** onnxruntime's version, for messages and docs. */
export const ONNXRUNTIME_VERSION = env.versions.common;

// onnxruntime's tensor type names for the semirt dtypes (identical except bool and float16 data).
const ORT_TYPES: Readonly<Record<string, DType>> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  bool: 'bool',
};

type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array;

// float16 travels as its raw bits in a Uint16Array, bool as one byte per element.
const VIEWS: Readonly<
  Record<DType, new (buffer: ArrayBuffer, offset: number, length: number) => TypedArray>
> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
};

/** Session options chosen for the worker pool: a fixed thread count, no spinning, quiet logs. */
function sessionOptions(threads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Failures come back as exceptions and become SemirtErrors; onnxruntime's own log lines
    // would repeat them (with node names) on stderr.
    logSeverityLevel: 4,
    // Spinning threads burn the CPU that other workers' requests need.
    extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } },
  };
}

const RUN_OPTIONS: InferenceSession.RunOptions = { logSeverityLevel: 4 };

/** onnxruntime's message without source paths and C++ signatures, and bounded in length. */
function ortReason(error: unknown, maxLength = 300): string {
  const message = error instanceof Error ? error.message : String(error);
  const cleaned = message
    .replace(/\S*onnxruntime_src\/\S+:\d+ [^(]*\((?:[^()]|\([^()]*\))*\)\S*\s*/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.length > maxLength ? `${cleaned.slice(0, maxLength - 3)}...` : cleaned;
}

const OUT_OF_MEMORY = /failed to allocate|bad_alloc|out of memory/i;

/** Maps an onnxruntime load failure to a catalog error. */
function loadError(error: unknown, summary: ModelProtoSummary): SemirtError {
  const reason = ortReason(error);
  if (OUT_OF_MEMORY.test(reason)) {
    return new SemirtError(
      'ONNX_OUT_OF_MEMORY',
      `Cannot load ONNX model: out of memory: ${reason}`,
      { cause: error },
    );
  }
  // onnxruntime-node's JavaScript layer refuses element types it has no name for (bfloat16, float8).
  const dataType = /Unsupported data type: (\d+)/.exec(reason);
  if (dataType) {
    return new SemirtError(
      'ONNX_IO_UNSUPPORTED',
      `Cannot load ONNX model: an input or output has ONNX element type ${dataType[1]}, which onnxruntime-node cannot pass to JavaScript`,
      { cause: error },
    );
  }
  if (
    /is under development|official support for domain|upgrade your model to opset/i.test(reason)
  ) {
    const opsets = summary.opsets.map((o) => `"${o.domain}" ${o.version}`).join(', ');
    const limit = /official support for domain (\S+) is till opset (\d+)/.exec(
      ortReason(error, Infinity),
    );
    const supported = limit ? `it supports "${limit[1]}" up to ${limit[2]}` : reason;
    return new SemirtError(
      'ONNX_OPSET_UNSUPPORTED',
      `Cannot load ONNX model: it imports opsets ${opsets}, unknown to onnxruntime ${ONNXRUNTIME_VERSION}: ${supported}`,
      { cause: error },
    );
  }
  if (
    /no op registered|not a registered function\/op|could not find an implementation|not supported|not implemented/i.test(
      reason,
    )
  ) {
    return new SemirtError('UNSUPPORTED_OPS', `Cannot load ONNX model: ${reason}`, {
      cause: error,
    });
  }
  return new SemirtError('MODEL_CORRUPT', `Cannot load ONNX model: ${reason}`, { cause: error });
}

/** onnxruntime rejects views over a SharedArrayBuffer: hand it a plain copy in that case. */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
}

/** Reads a model input or output's metadata as a semirt TensorInfo. */
function tensorInfo(
  meta: InferenceSession.ValueMetadata,
  side: 'input' | 'output',
  unranked: ReadonlySet<string>,
): TensorInfo {
  const dtype = meta.isTensor ? ORT_TYPES[meta.type] : undefined;
  if (!meta.isTensor || dtype === undefined) {
    const what = meta.isTensor
      ? `tensor of ${meta.type}`
      : 'not a tensor (sequence, map or optional)';
    throw new SemirtError(
      'ONNX_IO_UNSUPPORTED',
      `Cannot load ONNX model: ${side} "${meta.name}" is ${what}; semirt tensors carry ${Object.keys(VIEWS).join(', ')}`,
    );
  }
  // A symbolic dimension ("batch") or a missing one is dynamic.
  const shape = unranked.has(meta.name)
    ? []
    : meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
  return { name: meta.name, dtype, shape };
}

function describe(dtype: DType, shape: readonly number[]): string {
  return `${dtype} [${shape.join(', ')}]`;
}

/** Checks one input against the model's declaration; throws INPUT_MISMATCH naming what differs. */
function checkInput(tensor: Tensor, info: TensorInfo, index: number, rankKnown: boolean): void {
  const where = `input ${index} ("${info.name}")`;
  if (tensor.dtype !== info.dtype) {
    throw new SemirtError(
      'INPUT_MISMATCH',
      `Cannot run ONNX model: ${where} must be ${info.dtype}, got ${tensor.dtype}`,
    );
  }
  if (!tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SemirtError(
      'INPUT_MISMATCH',
      `Cannot run ONNX model: ${where} has an invalid shape [${tensor.shape.join(', ')}]`,
    );
  }
  const shapeFits =
    !rankKnown ||
    (tensor.shape.length === info.shape.length &&
      info.shape.every((d, i) => d === -1 || d === tensor.shape[i]));
  if (!shapeFits) {
    throw new SemirtError(
      'INPUT_MISMATCH',
      `Cannot run ONNX model: ${where} must have shape ${describe(info.dtype, info.shape)} (-1 is any size), got [${tensor.shape.join(', ')}]`,
    );
  }
  const expected = tensor.shape.reduce((n, d) => n * d, 1) * DTYPE_SIZE[info.dtype];
  if (tensor.data.byteLength !== expected) {
    throw new SemirtError(
      'INPUT_MISMATCH',
      `Cannot run ONNX model: ${where} of shape ${describe(tensor.dtype, tensor.shape)} needs ${expected} bytes, got ${tensor.data.byteLength}`,
    );
  }
}

/** Wraps a semirt tensor for onnxruntime, copying only when the bytes are misaligned or shared. */
function toOrt(tensor: Tensor): OrtTensor {
  const size = DTYPE_SIZE[tensor.dtype];
  const bytes =
    tensor.data.byteOffset % size === 0 && tensor.data.buffer instanceof ArrayBuffer
      ? tensor.data
      : new Uint8Array(tensor.data); // a copy (Buffer#slice would give a view)
  const view = new VIEWS[tensor.dtype](
    bytes.buffer as ArrayBuffer,
    bytes.byteOffset,
    bytes.byteLength / size,
  );
  return new OrtTensor(tensor.dtype, view as never, tensor.shape);
}

/** Reads an onnxruntime output as a semirt tensor (a view over its bytes, no copy). */
function fromOrt(value: OrtTensor, info: TensorInfo): Tensor {
  const dtype = ORT_TYPES[value.type];
  if (dtype === undefined) {
    throw new SemirtError(
      'ONNX_IO_UNSUPPORTED',
      `Cannot run ONNX model: output "${info.name}" came back as ${value.type}`,
    );
  }
  const data = value.data as TypedArray;
  return {
    dtype,
    shape: [...value.dims],
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

class OnnxSession implements Session {
  readonly #session: InferenceSession;
  readonly #model: OnnxModel;
  #disposed = false;

  constructor(session: InferenceSession, model: OnnxModel) {
    this.#session = session;
    this.#model = model;
  }

  async run(inputs: readonly Tensor[]): Promise<Tensor[]> {
    if (this.#disposed) throw new Error('Cannot run ONNX session: it is disposed');
    const declared = this.#model.inputs;
    if (inputs.length !== declared.length) {
      throw new SemirtError(
        'INPUT_MISMATCH',
        `Cannot run ONNX model: it takes ${declared.length} input(s) (${declared.map((i) => `"${i.name}"`).join(', ')}), got ${inputs.length}`,
      );
    }
    const feeds: Record<string, OrtTensor> = {};
    declared.forEach((info, i) => {
      const tensor = inputs[i]!;
      checkInput(tensor, info, i, !this.#model.unranked.has(info.name));
      feeds[info.name] = toOrt(tensor);
    });
    let results: InferenceSession.OnnxValueMapType;
    try {
      results = await this.#session.run(feeds, RUN_OPTIONS);
    } catch (error) {
      const reason = ortReason(error);
      const code = OUT_OF_MEMORY.test(reason) ? 'ONNX_OUT_OF_MEMORY' : 'ONNX_RUN_FAILED';
      throw new SemirtError(code, `Cannot run ONNX model: ${reason}`, { cause: error });
    }
    return this.#model.outputs.map((info) => fromOrt(results[info.name] as OrtTensor, info));
  }

  /** ONNX graphs keep no state between runs. */
  reset(): void {}

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#session.release();
  }
}

class OnnxModel implements Model {
  readonly engine = 'onnx' as const;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Inputs that declare no shape: any rank is accepted. */
  readonly unranked: ReadonlySet<string>;
  readonly #bytes: Uint8Array;
  readonly #options: InferenceSession.SessionOptions;
  readonly #summary: ModelProtoSummary;
  /** The session created while validating at load, handed to the first createSession(). */
  #first: InferenceSession | undefined;
  #disposed = false;

  constructor(
    bytes: Uint8Array,
    options: InferenceSession.SessionOptions,
    summary: ModelProtoSummary,
    first: InferenceSession,
  ) {
    this.#bytes = bytes;
    this.#options = options;
    this.#summary = summary;
    this.#first = first;
    this.unranked = new Set([...first.inputNames].filter((n) => summary.unrankedInputs.has(n)));
    this.inputs = first.inputMetadata.map((m) => tensorInfo(m, 'input', this.unranked));
    this.outputs = first.outputMetadata.map((m) => tensorInfo(m, 'output', new Set()));
  }

  async createSession(): Promise<Session> {
    if (this.#disposed) throw new Error('Cannot create ONNX session: the model is disposed');
    const first = this.#first;
    this.#first = undefined;
    return new OnnxSession(
      first ?? (await createOrtSession(this.#bytes, this.#options, this.#summary)),
      this,
    );
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    await this.#first?.release();
    this.#first = undefined;
  }
}

async function createOrtSession(
  bytes: Uint8Array,
  options: InferenceSession.SessionOptions,
  summary: ModelProtoSummary,
): Promise<InferenceSession> {
  try {
    // The copy (if any) is dropped once the session has parsed it.
    return await InferenceSession.create(plainBytes(bytes), options);
  } catch (error) {
    throw loadError(error, summary);
  }
}

/** The ONNX engine (onnxruntime-node, CPU). */
export const onnxEngine: Engine = {
  name: 'onnx',

  accepts(artifact: ModelArtifact): boolean {
    return artifact.kind === 'single' && summarizeModelProto(artifact.bytes) !== undefined;
  },

  async load(artifact: ModelArtifact, options: LoadOptions = {}): Promise<Model> {
    const summary = artifact.kind === 'single' ? summarizeModelProto(artifact.bytes) : undefined;
    if (artifact.kind !== 'single' || summary === undefined) {
      throw new SemirtError(
        'MODEL_CORRUPT',
        'Cannot load ONNX model: the bytes are not an ONNX ModelProto (no ir_version and graph)',
      );
    }
    const threads = options.intraOpThreads ?? 1;
    if (!Number.isSafeInteger(threads) || threads < 1) {
      throw new RangeError(
        `Cannot load ONNX model: intraOpThreads must be a positive integer, got ${threads}`,
      );
    }
    const sessionOpts = sessionOptions(threads);
    const first = await createOrtSession(artifact.bytes, sessionOpts, summary);
    try {
      return new OnnxModel(artifact.bytes, sessionOpts, summary, first);
    } catch (error) {
      await first.release();
      throw error;
    }
  },
};
