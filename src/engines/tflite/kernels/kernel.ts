import { SemirtError } from '../../../errors.js';
import type { DType } from '../../engine.js';
import type { Table } from '../flatbuffer.js';
import type { OperatorDef, TensorDef } from '../model-reader.js';
import type { SimdExports, SimdHeap } from '../simd.js';
import { Activation, Padding } from '../schema.js';
import { roundHalfAway } from '../quantization.js';

/** What a kernel sees of one operator while preparing it (once per model). */
export interface NodeInfo {
  readonly op: OperatorDef;
  /** Inputs in operator order; undefined for an omitted optional input (index -1). */
  readonly inputs: readonly (TensorDef | undefined)[];
  readonly outputs: readonly TensorDef[];
  readonly intermediates: readonly TensorDef[];
  /** The model's wasm SIMD heap (this thread), or undefined when wasm SIMD is unavailable. */
  readonly simd: SimdHeap | undefined;
}

/** The sealed SIMD heap as kernels see it when binding: its memory, kernels and scratch offset. */
export interface SimdBinding {
  readonly memory: ArrayBuffer;
  readonly exports: SimdExports;
  readonly scratch: number;
}

/** Typed views over one session's tensors; accessors check the dtype when the kernel binds. */
export interface TensorViews {
  f32(t: TensorDef): Float32Array;
  i8(t: TensorDef): Int8Array;
  u8(t: TensorDef): Uint8Array;
  i16(t: TensorDef): Int16Array;
  i32(t: TensorDef): Int32Array;
  /** Raw bytes of any tensor (data movement kernels). */
  bytes(t: TensorDef): Uint8Array;
  /** This session's scratch area, shared by all nodes (they run one at a time). */
  readonly scratch: ArrayBuffer;
  /** The model's SIMD heap, when the node reserved something in it at prepare time. */
  readonly simd: SimdBinding | undefined;
}

/** The view of an int8, int16 or int32 tensor that matches its dtype. */
export function intView(v: TensorViews, t: TensorDef): Int8Array | Int16Array | Int32Array {
  return t.dtype === 'int8' ? v.i8(t) : t.dtype === 'int16' ? v.i16(t) : v.i32(t);
}

/** A prepared operator: derived parameters computed once at load, shared by sessions. */
export interface PreparedNode {
  /** Scratch bytes this node needs while running (the session reserves the maximum). */
  readonly scratchBytes: number;
  /** Binds the node to one session's tensors; the returned function runs it (no allocation). */
  bind(views: TensorViews): () => void;
}

/** One operator implementation: every kernel file exports one of these. */
export interface Kernel {
  /** BuiltinOperator name, or the custom code for CUSTOM ops. */
  readonly name: string;
  /** Op versions this kernel implements (inclusive range). */
  readonly versions: readonly [number, number];
  /** The tensor types it runs, for docs/tflite-ops.md. */
  readonly types: readonly string[];
  /** Parses options, validates tensors and precomputes what the run loop needs. */
  prepare(node: NodeInfo): PreparedNode;
}

/** Fails preparation with MODEL_INVALID, naming the operator. */
export function fail(node: NodeInfo, message: string): never {
  throw new SemirtError(
    'MODEL_INVALID',
    `Cannot prepare operator ${node.op.index} (${node.op.opcode.name}): ${message}`,
  );
}

/** The input at `i`, which must be present. */
export function input(node: NodeInfo, i: number): TensorDef {
  const t = node.inputs[i];
  if (t === undefined) fail(node, `input ${i} is missing`);
  return t;
}

/** The output at `i`, which must be present. */
export function output(node: NodeInfo, i: number): TensorDef {
  const t = node.outputs[i];
  if (t === undefined) fail(node, `output ${i} is missing`);
  return t;
}

/** Checks input and output counts. */
export function expectArity(
  node: NodeInfo,
  inputs: readonly [number, number],
  outputs: number,
): void {
  const n = node.inputs.length;
  if (n < inputs[0] || n > inputs[1]) {
    fail(
      node,
      `expected ${inputs[0] === inputs[1] ? inputs[0] : `${inputs[0]} to ${inputs[1]}`} inputs, got ${n}`,
    );
  }
  if (node.outputs.length !== outputs)
    fail(node, `expected ${outputs} outputs, got ${node.outputs.length}`);
}

/** Checks that a tensor has one of the dtypes. */
export function expectType(
  node: NodeInfo,
  t: TensorDef,
  role: string,
  dtypes: readonly DType[],
): void {
  if (!dtypes.includes(t.dtype)) {
    fail(node, `${role} "${t.name}" has type ${t.dtype}, expected ${dtypes.join(' or ')}`);
  }
}

/** Checks that a tensor has a given rank. */
export function expectRank(node: NodeInfo, t: TensorDef, role: string, rank: number): void {
  if (t.shape.length !== rank)
    fail(node, `${role} "${t.name}" has rank ${t.shape.length}, expected ${rank}`);
}

/** Checks that two shapes are equal. */
export function expectShape(
  node: NodeInfo,
  t: TensorDef,
  role: string,
  shape: readonly number[],
): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    fail(
      node,
      `${role} "${t.name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
    );
  }
}

/** The builtin options table (absent options read as defaults). */
export function options(node: NodeInfo): OptionsReader {
  return new OptionsReader(node.op.options);
}

/** Reads builtin option fields with the schema's defaults when the table or field is absent. */
export class OptionsReader {
  readonly #table: Table | undefined;
  constructor(table: Table | undefined) {
    this.#table = table;
  }
  i8(slot: number, fallback: number): number {
    return this.#table?.i8(slot, fallback) ?? fallback;
  }
  i32(slot: number, fallback: number): number {
    return this.#table?.i32(slot, fallback) ?? fallback;
  }
  f32(slot: number, fallback: number): number {
    return this.#table?.f32(slot, fallback) ?? fallback;
  }
  bool(slot: number, fallback: boolean): boolean {
    return this.#table?.bool(slot, fallback) ?? fallback;
  }
  i32s(slot: number): number[] | undefined {
    return this.#table?.i32s(slot, 'option vector');
  }
}

/** Scale and zero point of a per-tensor quantized tensor. */
export function quantParams(node: NodeInfo, t: TensorDef): { scale: number; zeroPoint: number } {
  const q = t.quant;
  const scale = q?.scale[0];
  if (q === undefined || scale === undefined)
    fail(node, `tensor "${t.name}" (${t.dtype}) has no quantization parameters`);
  return { scale, zeroPoint: q.zeroPoint[0] ?? 0 };
}

/** Integer range of a quantized dtype. */
export function typeRange(dtype: DType): [number, number] {
  const ranges: Partial<Record<DType, [number, number]>> = {
    int8: [-128, 127],
    uint8: [0, 255],
    int16: [-32768, 32767],
    int32: [-2147483648, 2147483647],
  };
  return ranges[dtype] ?? [-Infinity, Infinity];
}

/** Checks a fused activation value. */
export function activation(node: NodeInfo, value: number): number {
  if (value < Activation.NONE || value > Activation.RELU6) {
    fail(
      node,
      `fused activation ${value} is not supported (expected NONE, RELU, RELU_N1_TO_1 or RELU6)`,
    );
  }
  return value;
}

/** Float clamp range of a fused activation. */
export function activationRangeFloat(act: number): [number, number] {
  switch (act) {
    case Activation.RELU:
      return [0, Infinity];
    case Activation.RELU6:
      return [0, 6];
    case Activation.RELU_N1_TO_1:
      return [-1, 1];
    default:
      return [-Infinity, Infinity];
  }
}

/** Quantized clamp range of a fused activation (TFLite's CalculateActivationRangeQuantized). */
export function activationRangeQuantized(
  node: NodeInfo,
  act: number,
  out: TensorDef,
): [number, number] {
  const [qmin, qmax] = typeRange(out.dtype);
  const { scale, zeroPoint } = quantParams(node, out);
  // Quantize in float32, as the C code does: round(f / scale) computed on floats.
  const q = (f: number): number =>
    zeroPoint + roundHalfAway(Math.fround(Math.fround(f) / Math.fround(scale)));
  switch (act) {
    case Activation.RELU:
      return [Math.max(qmin, q(0)), qmax];
    case Activation.RELU6:
      return [Math.max(qmin, q(0)), Math.min(qmax, q(6))];
    case Activation.RELU_N1_TO_1:
      return [Math.max(qmin, q(-1)), Math.min(qmax, q(1))];
    default:
      return [qmin, qmax];
  }
}

/** Output size and leading padding of one spatial dimension (TFLite's padding rules). */
export function computePadding(
  padding: number,
  inSize: number,
  filterSize: number,
  stride: number,
  dilation: number,
): { out: number; pad: number; offset: number } {
  const effective = (filterSize - 1) * dilation + 1;
  const out =
    padding === Padding.SAME
      ? Math.floor((inSize + stride - 1) / stride)
      : Math.floor((inSize - effective + stride) / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  return { out: Math.max(out, 0), pad: Math.floor(total / 2), offset: total % 2 };
}

/** Reads a padding option, checking the enum. */
export function paddingOption(node: NodeInfo, value: number): number {
  if (value !== Padding.SAME && value !== Padding.VALID)
    fail(node, `padding ${value} is not SAME or VALID`);
  return value;
}

/** Constant int32/int64 values of a tensor (e.g. bias, shape operands) as numbers. */
export function constantInts(node: NodeInfo, t: TensorDef): number[] {
  const data = t.data;
  if (data === undefined) fail(node, `tensor "${t.name}" must be constant`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = [];
  if (t.dtype === 'int32')
    for (let i = 0; i < t.elements; i++) out.push(view.getInt32(4 * i, true));
  else if (t.dtype === 'int64')
    for (let i = 0; i < t.elements; i++) out.push(Number(view.getBigInt64(8 * i, true)));
  else fail(node, `tensor "${t.name}" has type ${t.dtype}, expected int32 or int64`);
  return out;
}

/** Bias values (int32 or int64) as a Float64Array of exact integers, or zeros when absent. */
export function biasValues(
  node: NodeInfo,
  t: TensorDef | undefined,
  channels: number,
): Float64Array {
  const out = new Float64Array(channels);
  if (t === undefined) return out;
  if (t.elements !== channels)
    fail(node, `bias "${t.name}" has ${t.elements} values, expected ${channels}`);
  const values = constantInts(node, t);
  for (let i = 0; i < channels; i++) {
    const v = values[i]!;
    if (Math.abs(v) > 2 ** 47) fail(node, `bias "${t.name}" value ${v} is out of range`);
    out[i] = v;
  }
  return out;
}

/** Float bias values, or zeros when absent. */
export function floatBias(
  node: NodeInfo,
  t: TensorDef | undefined,
  channels: number,
): Float32Array {
  if (t === undefined) return new Float32Array(channels);
  expectType(node, t, 'bias', ['float32']);
  if (t.elements !== channels)
    fail(node, `bias "${t.name}" has ${t.elements} values, expected ${channels}`);
  if (t.data === undefined) fail(node, `bias "${t.name}" must be constant`);
  return new Float32Array(t.data.slice().buffer);
}

/** Per-channel scales of a weights tensor, broadcasting a per-tensor scale. */
export function channelScales(
  node: NodeInfo,
  t: TensorDef,
  channels: number,
  axis: number,
): number[] {
  const q = t.quant;
  if (q === undefined) fail(node, `weights "${t.name}" have no quantization parameters`);
  if (q.scale.length === 1) return new Array<number>(channels).fill(q.scale[0]!);
  if (q.scale.length !== channels || q.axis !== axis) {
    fail(
      node,
      `weights "${t.name}" have ${q.scale.length} scales on axis ${q.axis}, expected ${channels} on axis ${axis}`,
    );
  }
  return [...q.scale];
}

/** Product of dimensions. */
export function product(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}
