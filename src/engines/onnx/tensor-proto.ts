/**
 * ONNX TensorProto decoding: the tensor files of the ONNX conformance data (`input_0.pb`,
 * `output_0.pb`) and the element-type numbers of the ONNX `TensorProto.DataType` enum.
 */
import { DTYPE_SIZE, type DType, type Tensor } from '../engine.js';
import {
  ProtoFormatError,
  readFields,
  readPackedVarints,
  WireType,
  type ProtoField,
} from './protobuf.js';

/** `TensorProto.DataType` numbers of the dtypes semirt tensors carry. */
export const ONNX_DATA_TYPE: Readonly<Record<DType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
};

const DTYPE_OF_ONNX = new Map<number, DType>(
  Object.entries(ONNX_DATA_TYPE).map(([dtype, code]) => [code, dtype as DType]),
);

/** A decoded TensorProto: its name and its value as a semirt tensor. */
export interface NamedTensor {
  readonly name: string;
  readonly tensor: Tensor;
}

/** Concatenates fixed-size payloads (packed or one-per-field). */
function concatFixed(fields: readonly ProtoField[]): Uint8Array {
  const parts = fields.map((f) => {
    if (f.wireType === WireType.varint)
      throw new ProtoFormatError(`Field ${f.field} is not fixed-size`);
    return f.value;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Writes integer-coded values (int32_data, int64_data, uint64_data) as little-endian elements. */
function fromVarints(fields: readonly ProtoField[], dtype: DType): Uint8Array {
  const values = fields.flatMap(readPackedVarints);
  const size = DTYPE_SIZE[dtype];
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((value, i) => {
    // int32_data holds sub-32-bit types widened to int32; the low bytes are the element.
    const bits = BigInt.asUintN(size * 8, value);
    for (let b = 0; b < size; b++)
      view.setUint8(i * size + b, Number((bits >> BigInt(8 * b)) & 0xffn));
  });
  return out;
}

/** Decodes one serialized TensorProto; rejects types semirt tensors cannot carry. */
export function decodeTensorProto(bytes: Uint8Array): NamedTensor {
  const dims: bigint[] = [];
  let dataType = 0;
  let name = '';
  let raw: Uint8Array | undefined;
  const typed = new Map<number, ProtoField[]>();
  for (const field of readFields(bytes)) {
    switch (field.field) {
      case 1:
        dims.push(...readPackedVarints(field));
        break;
      case 2:
        if (field.wireType !== WireType.varint)
          throw new ProtoFormatError('TensorProto.data_type is not a varint');
        dataType = Number(field.value);
        break;
      case 8:
        if (field.wireType !== WireType.bytes)
          throw new ProtoFormatError('TensorProto.name is not a string');
        name = new TextDecoder().decode(field.value);
        break;
      case 9:
        if (field.wireType !== WireType.bytes)
          throw new ProtoFormatError('TensorProto.raw_data is not bytes');
        raw = field.value;
        break;
      case 14:
        if (field.wireType === WireType.varint && field.value !== 0n) {
          throw new ProtoFormatError('TensorProto with external data is not supported');
        }
        break;
      default:
        typed.set(field.field, [...(typed.get(field.field) ?? []), field]);
    }
  }
  const dtype = DTYPE_OF_ONNX.get(dataType);
  if (dtype === undefined)
    throw new ProtoFormatError(`TensorProto data_type ${dataType} is not supported`);
  const shape = dims.map(Number);
  const count = shape.reduce((n, d) => n * d, 1);
  let data: Uint8Array;
  if (raw !== undefined) {
    data = new Uint8Array(raw);
  } else if (dtype === 'float32') {
    data = concatFixed(typed.get(4) ?? []);
  } else if (dtype === 'float64') {
    data = concatFixed(typed.get(10) ?? []);
  } else if (dtype === 'int64') {
    data = fromVarints(typed.get(7) ?? [], dtype);
  } else if (dtype === 'uint32') {
    data = fromVarints(typed.get(11) ?? [], dtype);
  } else {
    data = fromVarints(typed.get(5) ?? [], dtype);
  }
  if (data.length !== count * DTYPE_SIZE[dtype]) {
    throw new ProtoFormatError(
      `TensorProto "${name}" holds ${data.length} bytes; shape [${shape.join(', ')}] of ${dtype} needs ${count * DTYPE_SIZE[dtype]}`,
    );
  }
  return { name, tensor: { dtype, shape, data } };
}
