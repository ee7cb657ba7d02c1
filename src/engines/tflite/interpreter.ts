import { SemirtError } from '../../errors.js';
import type { DType, Model, Session, Tensor, TensorInfo } from '../engine.js';
import { DTYPE_SIZE } from '../engine.js';
import { KERNELS, kernelKey } from './kernels/index.js';
import type { NodeInfo, PreparedNode, SimdBinding, TensorViews } from './kernels/kernel.js';
import { readModel, type ModelDef, type OperatorDef, type TensorDef } from './model-reader.js';
import { ARENA_ALIGNMENT, planArena } from './planner.js';
import { SimdHeap } from './simd.js';

/** What `inspect` shows of a loaded model. */
export interface ModelReport {
  readonly description: string;
  readonly subgraphs: number;
  readonly operators: readonly {
    index: number;
    name: string;
    version: number;
    inputs: number[];
    outputs: number[];
  }[];
  readonly tensors: readonly TensorDef[];
  /** Bytes of the per-session arena: planned activations + variables + scratch. */
  readonly arenaBytes: number;
  readonly activationBytes: number;
  readonly variableBytes: number;
  readonly scratchBytes: number;
  /**
   * Bytes of the model's wasm SIMD heap in each thread that loads it: int8 weight copies for the
   * SIMD kernels plus their run-time scratch, shared by that thread's sessions.
   */
  readonly simdHeapBytes: number;
}

/** Engine-internal load options. */
export interface TfliteLoadOptions {
  /** Use the wasm SIMD kernels where they apply (default true; false forces the JS kernels). */
  readonly simd?: boolean;
}

/** Refuses models whose per-session arena would exceed this (a hostile shape could ask for gigabytes). */
export const MAX_ARENA_BYTES = 512 * 1024 * 1024;

interface PreparedOp {
  readonly def: OperatorDef;
  readonly node: PreparedNode;
}

/** Lists every operator (name and version) the kernel table cannot run, once each. */
function unsupportedOps(model: ModelDef): string[] {
  const missing = new Set<string>();
  for (const op of model.operators) {
    const kernel = KERNELS.get(kernelKey(op.opcode));
    if (
      kernel === undefined ||
      op.opcode.version < kernel.versions[0] ||
      op.opcode.version > kernel.versions[1]
    ) {
      missing.add(`${op.opcode.name} (version ${op.opcode.version})`);
    }
  }
  return [...missing];
}

function toInfo(t: TensorDef): TensorInfo {
  const info: TensorInfo = { name: t.name, dtype: t.dtype, shape: [...t.shape] };
  if (t.quant === undefined) return info;
  return {
    ...info,
    quantization: {
      scale: [...t.quant.scale],
      zeroPoint: [...t.quant.zeroPoint],
      axis: t.quant.axis,
    },
  };
}

/** Constant data as an aligned view: a view into the model bytes when aligned, else a copy. */
function alignedConstant(t: TensorDef, data: Uint8Array): Uint8Array {
  const size = DTYPE_SIZE[t.dtype];
  if (data.byteOffset % size === 0) return data;
  return data.slice();
}

/**
 * A loaded TFLite model: parsed, validated, prepared and planned once. Sessions share its
 * constant tensors (views into the model bytes, which may live in a SharedArrayBuffer).
 */
export class TfliteModel implements Model {
  readonly engine = 'tflite' as const;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly def: ModelDef;
  readonly report: ModelReport;
  readonly #ops: readonly PreparedOp[];
  readonly #constants: ReadonlyMap<number, Uint8Array>;
  readonly #offsets: ReadonlyMap<number, number>;
  readonly #tensorArenaBytes: number;
  readonly #scratchBytes: number;
  readonly #simd: SimdHeap | undefined;
  #sessions = 0;

  private constructor(def: ModelDef, options: TfliteLoadOptions) {
    this.def = def;
    const missing = unsupportedOps(def);
    if (missing.length > 0) {
      throw new SemirtError(
        'UNSUPPORTED_OPS',
        `Cannot load the model: ${missing.length === 1 ? 'operator' : 'operators'} ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not supported`,
      );
    }
    if (def.unsupportedTensors.length > 0) {
      throw new SemirtError(
        'MODEL_INVALID',
        `Cannot load the model: unsupported tensor types: ${def.unsupportedTensors.join(', ')}`,
      );
    }
    const tensors = def.tensors;
    const constants = new Map<number, Uint8Array>();
    for (const t of tensors)
      if (t.data !== undefined && !t.isVariable) constants.set(t.index, alignedConstant(t, t.data));
    for (const i of def.inputs) {
      if (constants.has(i))
        throw new SemirtError(
          'MODEL_INVALID',
          `Cannot load the model: input tensor ${i} is constant`,
        );
    }
    const at = (i: number): TensorDef => tensors[i]!;
    const simd = options.simd !== false && SimdHeap.available() ? new SimdHeap() : undefined;
    this.#simd = simd;
    this.#ops = def.operators.map((op): PreparedOp => {
      for (const o of op.outputs) {
        if (o < 0 || constants.has(o)) {
          throw new SemirtError(
            'MODEL_INVALID',
            `Cannot load the model: operator ${op.index} (${op.opcode.name}) writes into constant or missing tensor ${o}`,
          );
        }
      }
      const info: NodeInfo = {
        op,
        inputs: op.inputs.map((i) => (i < 0 ? undefined : at(i))),
        outputs: op.outputs.map(at),
        intermediates: op.intermediates.filter((i) => i >= 0).map(at),
        simd,
      };
      const kernel = KERNELS.get(kernelKey(op.opcode))!;
      return { def: op, node: kernel.prepare(info) };
    });

    // Lifetimes for the planner; variables persist, so they get their own region.
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    const touch = (t: number, step: number): void => {
      if (t < 0 || constants.has(t) || at(t).isVariable) return;
      if (!first.has(t) || first.get(t)! > step) first.set(t, step);
      if (!last.has(t) || last.get(t)! < step) last.set(t, step);
    };
    for (const i of def.inputs) touch(i, -1);
    def.operators.forEach((op, step) => {
      for (const t of [...op.inputs, ...op.outputs, ...op.intermediates]) touch(t, step);
    });
    for (const o of def.outputs) touch(o, def.operators.length);
    const plan = planArena(
      [...first.keys()].map((id) => ({
        id,
        bytes: at(id).bytes,
        first: first.get(id)!,
        last: last.get(id)!,
      })),
    );
    const offsets = new Map(plan.offsets);
    let cursor = plan.size;
    let variableBytes = 0;
    for (const t of tensors) {
      if (!t.isVariable) continue;
      offsets.set(t.index, cursor);
      const size = Math.ceil(t.bytes / ARENA_ALIGNMENT) * ARENA_ALIGNMENT;
      cursor += size;
      variableBytes += size;
    }
    if (cursor > MAX_ARENA_BYTES) {
      throw new SemirtError(
        'MODEL_INVALID',
        `Cannot load the model: its tensors need ${cursor} bytes of arena, above the limit of ${MAX_ARENA_BYTES}`,
      );
    }
    const scratchBytes =
      Math.ceil(Math.max(0, ...this.#ops.map((p) => p.node.scratchBytes)) / ARENA_ALIGNMENT) *
      ARENA_ALIGNMENT;
    this.#constants = constants;
    this.#offsets = offsets;
    this.#tensorArenaBytes = cursor;
    this.#scratchBytes = scratchBytes;
    this.inputs = def.inputs.map((i) => toInfo(at(i)));
    this.outputs = def.outputs.map((i) => toInfo(at(i)));
    this.report = {
      description: def.description,
      subgraphs: def.subgraphCount,
      operators: def.operators.map((op) => ({
        index: op.index,
        name: op.opcode.name,
        version: op.opcode.version,
        inputs: [...op.inputs],
        outputs: [...op.outputs],
      })),
      tensors,
      arenaBytes: cursor + scratchBytes,
      activationBytes: plan.size,
      variableBytes,
      scratchBytes,
      simdHeapBytes: simd?.plannedBytes ?? 0,
    };
  }

  /** Parses, validates and prepares a model from its bytes (which are not copied). */
  static load(bytes: Uint8Array, options: TfliteLoadOptions = {}): TfliteModel {
    // A Node Buffer's slice() is a view, not a copy, and kernels copy constants with slice():
    // read the model through a plain Uint8Array view of the same memory.
    const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new TfliteModel(readModel(plain), options);
  }

  /** Creates a session synchronously (the Engine interface wraps it in a promise). */
  openSession(): TfliteSession {
    this.#sessions++;
    return new TfliteSession(
      this,
      this.#ops,
      this.#constants,
      this.#offsets,
      this.#tensorArenaBytes,
      this.#scratchBytes,
      this.#simd,
      () => {
        this.#sessions--;
      },
    );
  }

  createSession(): Promise<Session> {
    return Promise.resolve(this.openSession());
  }

  dispose(): Promise<void> {
    if (this.#sessions > 0) {
      return Promise.reject(
        new SemirtError(
          'SESSION_CLOSED',
          `Cannot dispose the model: ${this.#sessions} sessions are still open`,
        ),
      );
    }
    return Promise.resolve();
  }
}

function viewOf(
  dtype: DType,
  buffer: ArrayBufferLike,
  byteOffset: number,
  bytes: number,
): ArrayBufferView {
  const n = bytes / DTYPE_SIZE[dtype];
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, n);
    case 'int8':
      return new Int8Array(buffer, byteOffset, n);
    case 'int16':
      return new Int16Array(buffer, byteOffset, n);
    case 'int32':
      return new Int32Array(buffer, byteOffset, n);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, n);
    case 'float64':
      return new Float64Array(buffer, byteOffset, n);
    case 'uint16':
    case 'float16':
      return new Uint16Array(buffer, byteOffset, n);
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer, byteOffset, n);
  }
}

/**
 * One session: its own arena (activations, variable state, scratch) over the model's shared
 * constants. `invoke()` runs the bound operator functions and allocates nothing.
 */
export class TfliteSession implements Session {
  readonly #model: TfliteModel;
  readonly #arena: ArrayBuffer;
  readonly #views = new Map<number, ArrayBufferView>();
  readonly #bytes = new Map<number, Uint8Array>();
  readonly #steps: readonly (() => void)[];
  readonly #onDispose: () => void;
  #disposed = false;

  constructor(
    model: TfliteModel,
    ops: readonly PreparedOp[],
    constants: ReadonlyMap<number, Uint8Array>,
    offsets: ReadonlyMap<number, number>,
    arenaBytes: number,
    scratchBytes: number,
    simd: SimdHeap | undefined,
    onDispose: () => void,
  ) {
    this.#model = model;
    this.#onDispose = onDispose;
    this.#arena = new ArrayBuffer(arenaBytes);
    for (const t of model.def.tensors) {
      const constant = constants.get(t.index);
      const offset = offsets.get(t.index);
      if (constant !== undefined) {
        this.#views.set(t.index, viewOf(t.dtype, constant.buffer, constant.byteOffset, t.bytes));
        this.#bytes.set(t.index, constant);
      } else if (offset !== undefined) {
        this.#views.set(t.index, viewOf(t.dtype, this.#arena, offset, t.bytes));
        this.#bytes.set(t.index, new Uint8Array(this.#arena, offset, t.bytes));
      }
    }
    const sealed = simd?.seal();
    const binding =
      sealed === undefined || simd === undefined
        ? undefined
        : { ...sealed, scratch: simd.scratchOffset };
    const views = this.#tensorViews(new ArrayBuffer(scratchBytes), binding);
    this.#steps = ops.map((op) => op.node.bind(views));
    this.reset();
  }

  #tensorViews(scratch: ArrayBuffer, simd: SimdBinding | undefined): TensorViews {
    const get = <T>(t: TensorDef, ctor: abstract new (...args: never[]) => T, dtype: string): T => {
      const view = this.#views.get(t.index);
      if (!(view instanceof ctor)) {
        throw new SemirtError(
          'MODEL_INVALID',
          `Cannot bind tensor ${t.index} ("${t.name}"): expected ${dtype} data, found ${t.dtype}`,
        );
      }
      return view;
    };
    return {
      f32: (t) => get(t, Float32Array, 'float32'),
      i8: (t) => get(t, Int8Array, 'int8'),
      u8: (t) => get(t, Uint8Array, 'uint8'),
      i16: (t) => get(t, Int16Array, 'int16'),
      i32: (t) => get(t, Int32Array, 'int32'),
      bytes: (t) => {
        const b = this.#bytes.get(t.index);
        if (b === undefined)
          throw new SemirtError(
            'MODEL_INVALID',
            `Cannot bind tensor ${t.index} ("${t.name}"): it has no storage`,
          );
        return b;
      },
      scratch,
      simd,
    };
  }

  /** The raw bytes of input `i` inside the arena: write into it, then call invoke(). */
  inputBytes(i: number): Uint8Array {
    const index = this.#model.def.inputs[i];
    const b = index === undefined ? undefined : this.#bytes.get(index);
    if (b === undefined)
      throw new SemirtError(
        'INPUT_MISMATCH',
        `Cannot access input ${i}: the model has ${this.#model.def.inputs.length} inputs`,
      );
    return b;
  }

  /** The raw bytes of output `i` inside the arena (valid until the next invoke). */
  outputBytes(i: number): Uint8Array {
    const index = this.#model.def.outputs[i];
    const b = index === undefined ? undefined : this.#bytes.get(index);
    if (b === undefined)
      throw new SemirtError(
        'INPUT_MISMATCH',
        `Cannot access output ${i}: the model has ${this.#model.def.outputs.length} outputs`,
      );
    return b;
  }

  /** Runs every operator once over the arena (no allocation). */
  invoke(): void {
    const steps = this.#steps;
    for (let i = 0; i < steps.length; i++) steps[i]!();
  }

  run(inputs: readonly Tensor[]): Promise<Tensor[]> {
    try {
      return Promise.resolve(this.runSync(inputs));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Validates and copies the inputs, invokes, and returns copies of the outputs. */
  runSync(inputs: readonly Tensor[]): Tensor[] {
    if (this.#disposed)
      throw new SemirtError('SESSION_CLOSED', 'Cannot run: the session is disposed');
    const declared = this.#model.inputs;
    if (inputs.length !== declared.length) {
      throw new SemirtError(
        'INPUT_MISMATCH',
        `Cannot run the model: it takes ${declared.length} inputs, got ${inputs.length}`,
      );
    }
    inputs.forEach((tensor, i) => {
      const want = declared[i]!;
      const target = this.inputBytes(i);
      if (tensor.dtype !== want.dtype) {
        throw new SemirtError(
          'INPUT_MISMATCH',
          `Cannot run the model: input ${i} ("${want.name}") must be ${want.dtype}, got ${tensor.dtype}`,
        );
      }
      if (tensor.data.byteLength !== target.byteLength) {
        throw new SemirtError(
          'INPUT_MISMATCH',
          `Cannot run the model: input ${i} ("${want.name}") must have ${target.byteLength} bytes (${want.dtype}[${want.shape.join(', ')}]), got ${tensor.data.byteLength}`,
        );
      }
      const elements = tensor.shape.reduce((a, b) => a * b, 1);
      if (elements * DTYPE_SIZE[want.dtype] !== target.byteLength) {
        throw new SemirtError(
          'INPUT_MISMATCH',
          `Cannot run the model: input ${i} ("${want.name}") has shape [${tensor.shape.join(', ')}], expected [${want.shape.join(', ')}]`,
        );
      }
      target.set(tensor.data);
    });
    this.invoke();
    return this.#model.outputs.map((info, i) => ({
      dtype: info.dtype,
      shape: [...info.shape],
      data: this.outputBytes(i).slice(),
    }));
  }

  reset(): void {
    for (const t of this.#model.def.tensors) {
      if (!t.isVariable) continue;
      const bytes = this.#bytes.get(t.index)!;
      // TFLM resets int8 variables to their zero point and every other type to zero.
      const fill = t.dtype === 'int8' ? (t.quant?.zeroPoint[0] ?? 0) & 0xff : 0;
      bytes.fill(fill);
    }
  }

  dispose(): Promise<void> {
    if (!this.#disposed) {
      this.#disposed = true;
      this.#onDispose();
    }
    return Promise.resolve();
  }
}
