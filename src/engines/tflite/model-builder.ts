import { Builder } from 'flatbuffers';
import type { DType } from '../engine.js';
import { SLOT, TENSOR_TYPE_OF, builtinCode } from './schema.js';

/**
 * Writes small TFLite models for tests (one subgraph): the counterpart of the reader, so kernel
 * tests can build exactly the operator and tensors they need.
 */

export interface BuildTensor {
  readonly name?: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Constant contents (raw little-endian bytes). */
  readonly data?: Uint8Array;
  readonly scale?: readonly number[];
  readonly zeroPoint?: readonly number[];
  readonly axis?: number;
  readonly variable?: boolean;
}

/** One builtin-options field: slot, kind and value. */
export type OptionField =
  | { readonly slot: number; readonly int8: number }
  | { readonly slot: number; readonly int32: number }
  | { readonly slot: number; readonly float32: number }
  | { readonly slot: number; readonly bool: boolean }
  | { readonly slot: number; readonly int32s: readonly number[] };

export interface BuildOperator {
  /** Builtin name (e.g. 'CONV_2D') or, with `custom`, the custom code. */
  readonly op: string;
  readonly custom?: boolean;
  readonly version?: number;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly options?: readonly OptionField[];
}

export interface BuildModel {
  readonly tensors: readonly BuildTensor[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly operators: readonly BuildOperator[];
}

function intVector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]!);
  return b.endVector();
}

function floatVector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]!);
  return b.endVector();
}

function longVector(b: Builder, values: readonly number[]): number {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i]!));
  return b.endVector();
}

function offsetVector(b: Builder, offsets: readonly number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]!);
  return b.endVector();
}

/** Serializes a model description into TFLite flatbuffer bytes. */
export function buildModel(model: BuildModel): Uint8Array {
  const b = new Builder(1024);
  // Buffer 0 is the conventional empty buffer; constants get one buffer each.
  const buffers: number[] = [];
  b.startObject(3);
  buffers.push(b.endObject());
  const tensorBuffer = model.tensors.map((t) => {
    if (t.data === undefined) return 0;
    b.startVector(1, t.data.length, 16);
    for (let i = t.data.length - 1; i >= 0; i--) b.addInt8(t.data[i]!);
    const data = b.endVector();
    b.startObject(3);
    b.addFieldOffset(SLOT.buffer.data, data, 0);
    buffers.push(b.endObject());
    return buffers.length - 1;
  });
  const tensors = model.tensors.map((t, i) => {
    const name = b.createString(t.name ?? `t${i}`);
    const shape = intVector(b, t.shape);
    let quant = 0;
    if (t.scale !== undefined) {
      const scale = floatVector(b, t.scale);
      const zp = longVector(b, t.zeroPoint ?? t.scale.map(() => 0));
      b.startObject(7);
      b.addFieldOffset(SLOT.quantization.scale, scale, 0);
      b.addFieldOffset(SLOT.quantization.zeroPoint, zp, 0);
      b.addFieldInt32(SLOT.quantization.quantizedDimension, t.axis ?? 0, 0);
      quant = b.endObject();
    }
    b.startObject(8);
    b.addFieldOffset(SLOT.tensor.shape, shape, 0);
    b.addFieldInt8(SLOT.tensor.type, TENSOR_TYPE_OF[t.dtype], 0);
    b.addFieldInt32(SLOT.tensor.buffer, tensorBuffer[i]!, 0);
    b.addFieldOffset(SLOT.tensor.name, name, 0);
    if (quant !== 0) b.addFieldOffset(SLOT.tensor.quantization, quant, 0);
    if (t.variable === true) b.addFieldInt8(SLOT.tensor.isVariable, 1, 0);
    return b.endObject();
  });
  const codes: string[] = [];
  const codeOf = (op: BuildOperator): number => {
    const key = `${op.custom === true ? 'custom:' : ''}${op.op}@${op.version ?? 1}`;
    if (!codes.includes(key)) codes.push(key);
    return codes.indexOf(key);
  };
  const operators = model.operators.map((op) => {
    const inputs = intVector(b, op.inputs);
    const outputs = intVector(b, op.outputs);
    let options = 0;
    if (op.options !== undefined) {
      const vectors = op.options.map((f) => ('int32s' in f ? intVector(b, f.int32s) : 0));
      b.startObject(16);
      op.options.forEach((f, k) => {
        if ('int8' in f) b.addFieldInt8(f.slot, f.int8, null);
        else if ('int32' in f) b.addFieldInt32(f.slot, f.int32, null);
        else if ('float32' in f) b.addFieldFloat32(f.slot, f.float32, null);
        else if ('bool' in f) b.addFieldInt8(f.slot, f.bool ? 1 : 0, null);
        else b.addFieldOffset(f.slot, vectors[k]!, 0);
      });
      options = b.endObject();
    }
    b.startObject(9);
    b.addFieldInt32(SLOT.operator.opcodeIndex, codeOf(op), 0);
    b.addFieldOffset(SLOT.operator.inputs, inputs, 0);
    b.addFieldOffset(SLOT.operator.outputs, outputs, 0);
    if (options !== 0) {
      // The union tag is not the op's real options type: our reader never consults it, and these
      // files are only for our own tests.
      b.addFieldInt8(SLOT.operator.builtinOptionsType, 1, 0);
      b.addFieldOffset(SLOT.operator.builtinOptions, options, 0);
    }
    return b.endObject();
  });
  const opcodes = codes.map((key) => {
    const [head, version] = key.split('@') as [string, string];
    const custom = head.startsWith('custom:');
    const customName = custom ? b.createString(head.slice('custom:'.length)) : 0;
    const code = custom ? builtinCode('CUSTOM') : builtinCode(head);
    b.startObject(4);
    b.addFieldInt8(SLOT.operatorCode.deprecatedBuiltinCode, Math.min(code, 127), 0);
    if (customName !== 0) b.addFieldOffset(SLOT.operatorCode.customCode, customName, 0);
    b.addFieldInt32(SLOT.operatorCode.version, Number(version), 1);
    b.addFieldInt32(SLOT.operatorCode.builtinCode, code, 0);
    return b.endObject();
  });
  const tensorsVec = offsetVector(b, tensors);
  const inputsVec = intVector(b, model.inputs);
  const outputsVec = intVector(b, model.outputs);
  const opsVec = offsetVector(b, operators);
  b.startObject(5);
  b.addFieldOffset(SLOT.subgraph.tensors, tensorsVec, 0);
  b.addFieldOffset(SLOT.subgraph.inputs, inputsVec, 0);
  b.addFieldOffset(SLOT.subgraph.outputs, outputsVec, 0);
  b.addFieldOffset(SLOT.subgraph.operators, opsVec, 0);
  const subgraph = b.endObject();
  const subgraphs = offsetVector(b, [subgraph]);
  const opcodesVec = offsetVector(b, opcodes);
  const buffersVec = offsetVector(b, buffers);
  const description = b.createString('semirt test model');
  b.startObject(5);
  b.addFieldInt32(SLOT.model.version, 3, 0);
  b.addFieldOffset(SLOT.model.operatorCodes, opcodesVec, 0);
  b.addFieldOffset(SLOT.model.subgraphs, subgraphs, 0);
  b.addFieldOffset(SLOT.model.description, description, 0);
  b.addFieldOffset(SLOT.model.buffers, buffersVec, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array().slice();
}

/** Raw bytes of float32 values. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Raw bytes of int32 values. */
export function i32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}
