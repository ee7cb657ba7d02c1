import { SemirtError } from '../../errors.js';
import type { DType } from '../engine.js';
import { DTYPE_SIZE } from '../engine.js';
import { FlatBuffer, type Table } from './flatbuffer.js';
import {
  CUSTOM_CODE,
  PLACEHOLDER_FOR_GREATER_OP_CODES,
  SLOT,
  TENSOR_TYPES,
  builtinName,
} from './schema.js';

/** Per-tensor or per-channel affine quantization as stored in the file. */
export interface TensorQuant {
  readonly scale: readonly number[];
  readonly zeroPoint: readonly number[];
  readonly axis: number;
}

/** A tensor of the (single) subgraph, as the file declares it. */
export interface TensorDef {
  readonly index: number;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly elements: number;
  readonly bytes: number;
  readonly quant: TensorQuant | undefined;
  /** The constant data (a view into the model bytes), when the tensor has a non-empty buffer. */
  readonly data: Uint8Array | undefined;
  readonly isVariable: boolean;
}

/** One operator code: a builtin (by max(deprecated, builtin)) or a custom op by name. */
export interface OpCodeDef {
  readonly builtin: number;
  readonly custom: string | undefined;
  readonly version: number;
  /** BUILTIN names, or the custom code's name for CUSTOM ops. */
  readonly name: string;
}

/** One operator; tensor index -1 means an omitted optional input. */
export interface OperatorDef {
  readonly index: number;
  readonly opcode: OpCodeDef;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly intermediates: readonly number[];
  readonly options: Table | undefined;
  readonly customOptions: Uint8Array | undefined;
}

export interface ModelDef {
  readonly version: number;
  readonly description: string;
  readonly subgraphCount: number;
  readonly tensors: readonly TensorDef[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly operators: readonly OperatorDef[];
  /** Tensors whose TensorType this engine cannot hold ("tensor N (name): type T"). */
  readonly unsupportedTensors: readonly string[];
}

const FILE_IDENTIFIER = 'TFL3';
/** Largest element count accepted for one tensor (2^31 − 1 bytes worth of int8). */
const MAX_TENSOR_ELEMENTS = 0x7fffffff;

/** Tells whether bytes carry the TFLite file identifier ("TFL3" at offset 4). */
export function hasTfliteIdentifier(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  for (let i = 0; i < 4; i++) if (bytes[4 + i] !== FILE_IDENTIFIER.charCodeAt(i)) return false;
  return true;
}

function invalid(message: string): never {
  throw new SemirtError('MODEL_INVALID', `Cannot load the model: ${message}`);
}

/** Parses and validates a TFLite model (first subgraph; others are counted and must be unused). */
export function readModel(bytes: Uint8Array): ModelDef {
  if (bytes.length < 8) {
    throw new SemirtError(
      'MODEL_CORRUPT',
      `Cannot read the model: ${bytes.length} bytes is too short for a TFLite file`,
    );
  }
  if (!hasTfliteIdentifier(bytes)) {
    throw new SemirtError(
      'MODEL_CORRUPT',
      'Cannot read the model: the file identifier is not "TFL3"',
    );
  }
  const fb = new FlatBuffer(bytes);
  const model = fb.root('Model');
  const version = model.u32(SLOT.model.version, 0);
  if (version !== 3) invalid(`schema version ${version} is not supported (expected 3)`);
  const description = model.string(SLOT.model.description, 'Model.description') ?? '';

  const buffers = model
    .tables(SLOT.model.buffers, 'Model.buffers')
    .map((buffer, i) => readBuffer(fb, buffer, i));
  const opcodes = model.tables(SLOT.model.operatorCodes, 'Model.operator_codes').map(readOpCode);
  const subgraphs = model.tables(SLOT.model.subgraphs, 'Model.subgraphs');
  const main = subgraphs[0];
  if (main === undefined) invalid('the model has no subgraph');

  const tensorTables = main.tables(SLOT.subgraph.tensors, 'SubGraph.tensors');
  const unsupportedTensors: string[] = [];
  const tensors = tensorTables.map((t, i) => readTensor(t, i, buffers, unsupportedTensors));
  const tensorIndex = (value: number, what: string, optional: boolean): number => {
    if (optional && value === -1) return -1;
    if (!Number.isInteger(value) || value < 0 || value >= tensors.length) {
      invalid(`${what} refers to tensor ${value}, but the subgraph has ${tensors.length} tensors`);
    }
    return value;
  };
  const inputs = (main.i32s(SLOT.subgraph.inputs, 'SubGraph.inputs') ?? []).map((t, i) =>
    tensorIndex(t, `subgraph input ${i}`, false),
  );
  const outputs = (main.i32s(SLOT.subgraph.outputs, 'SubGraph.outputs') ?? []).map((t, i) =>
    tensorIndex(t, `subgraph output ${i}`, false),
  );
  const operators = main
    .tables(SLOT.subgraph.operators, 'SubGraph.operators')
    .map((op, index): OperatorDef => {
      const where = `operator ${index}`;
      const opcodeIndex = op.u32(SLOT.operator.opcodeIndex, 0);
      const opcode = opcodes[opcodeIndex];
      if (opcode === undefined)
        invalid(`${where} uses opcode ${opcodeIndex}, but the model has ${opcodes.length}`);
      const list = (slot: number, label: string): number[] =>
        (op.i32s(slot, `Operator.${label}`) ?? []).map((t, k) =>
          tensorIndex(t, `${where} (${opcode.name}) ${label} ${k}`, true),
        );
      return {
        index,
        opcode,
        inputs: list(SLOT.operator.inputs, 'inputs'),
        outputs: list(SLOT.operator.outputs, 'outputs'),
        intermediates: list(SLOT.operator.intermediates, 'intermediates'),
        options: op.table(SLOT.operator.builtinOptions, `Operator.builtin_options of ${where}`),
        customOptions: readCustomOptions(fb, op, where),
      };
    });
  return {
    version,
    description,
    subgraphCount: subgraphs.length,
    unsupportedTensors,
    tensors,
    inputs,
    outputs,
    operators,
  };
}

function readBuffer(fb: FlatBuffer, buffer: Table, index: number): Uint8Array | undefined {
  const what = `Buffer ${index}`;
  const data = buffer.bytes(SLOT.buffer.data, `${what}.data`);
  if (data !== undefined && data.length > 0) return data;
  // Models above 2 GB keep buffers after the flatbuffer: offset/size relative to the file start.
  const offset = buffer.i64(SLOT.buffer.offset, 0);
  const size = buffer.i64(SLOT.buffer.size, 0);
  if (offset > 1 && size > 0) {
    if (offset + size > fb.bytes.length) fb.corrupt(`${what} external data`);
    return fb.bytes.subarray(offset, offset + size);
  }
  return undefined;
}

function readOpCode(code: Table, index: number): OpCodeDef {
  const what = `OperatorCode ${index}`;
  const deprecated = code.i8(SLOT.operatorCode.deprecatedBuiltinCode, 0);
  const builtinField = code.i32(SLOT.operatorCode.builtinCode, 0);
  // Old files fill only deprecated_builtin_code; new ones put a placeholder there for codes ≥ 127.
  const builtin = Math.max(deprecated, builtinField);
  if (builtin < 0) invalid(`${what} has a negative builtin code ${builtin}`);
  if (
    deprecated !== PLACEHOLDER_FOR_GREATER_OP_CODES &&
    deprecated > builtinField &&
    builtinField !== 0
  ) {
    invalid(`${what} has inconsistent builtin codes ${deprecated} and ${builtinField}`);
  }
  const custom = code.string(SLOT.operatorCode.customCode, `${what}.custom_code`);
  const version = code.i32(SLOT.operatorCode.version, 1);
  const name = builtin === CUSTOM_CODE ? (custom ?? 'CUSTOM') : builtinName(builtin);
  return { builtin, custom, version, name };
}

function readCustomOptions(fb: FlatBuffer, op: Table, where: string): Uint8Array | undefined {
  const inline = op.bytes(SLOT.operator.customOptions, `Operator.custom_options of ${where}`);
  if (inline !== undefined) return inline;
  const offset = op.i64(SLOT.operator.largeCustomOptionsOffset, 0);
  const size = op.i64(SLOT.operator.largeCustomOptionsSize, 0);
  if (offset > 1 && size > 0) {
    if (offset + size > fb.bytes.length) fb.corrupt(`large custom options of ${where}`);
    return fb.bytes.subarray(offset, offset + size);
  }
  return undefined;
}

function readTensor(
  t: Table,
  index: number,
  buffers: readonly (Uint8Array | undefined)[],
  unsupported: string[],
): TensorDef {
  const what = `tensor ${index}`;
  const name = t.string(SLOT.tensor.name, `${what} name`) ?? '';
  const type = t.i8(SLOT.tensor.type, 0);
  let dtype = TENSOR_TYPES[type];
  if (dtype === undefined) {
    // Reported after the operator check, so that a model of custom ops names its ops first.
    unsupported.push(`${what} ("${name}"): TensorType ${type}`);
    dtype = 'uint8';
  }
  const shape = t.i32s(SLOT.tensor.shape, `${what} shape`) ?? [];
  let elements = 1;
  for (const dim of shape) {
    if (dim < 0)
      invalid(`${what} ("${name}") has a dynamic dimension in shape [${shape.join(', ')}]`);
    elements *= dim;
    if (elements > MAX_TENSOR_ELEMENTS)
      invalid(`${what} ("${name}") is too large: shape [${shape.join(', ')}]`);
  }
  if (t.has(SLOT.tensor.sparsity))
    invalid(`${what} ("${name}") is sparse, which this engine does not support`);
  const bytes = elements * DTYPE_SIZE[dtype];
  const bufferIndex = t.u32(SLOT.tensor.buffer, 0);
  if (bufferIndex >= buffers.length && bufferIndex !== 0) {
    invalid(
      `${what} ("${name}") refers to buffer ${bufferIndex}, but the model has ${buffers.length}`,
    );
  }
  const data = buffers[bufferIndex];
  if (data !== undefined && data.length !== bytes && TENSOR_TYPES[type] !== undefined) {
    invalid(
      `${what} ("${name}") has ${data.length} bytes of data, expected ${bytes} for ${dtype}[${shape.join(', ')}]`,
    );
  }
  return {
    index,
    name,
    dtype,
    shape,
    elements,
    bytes,
    quant: readQuant(t.table(SLOT.tensor.quantization, `${what} quantization`), what, shape.length),
    data,
    isVariable: t.bool(SLOT.tensor.isVariable, false),
  };
}

function readQuant(q: Table | undefined, what: string, rank: number): TensorQuant | undefined {
  if (q === undefined) return undefined;
  const scale = q.f32s(SLOT.quantization.scale, `${what} quantization scale`) ?? [];
  const zeroPoint = q.i64s(SLOT.quantization.zeroPoint, `${what} quantization zero_point`) ?? [];
  if (scale.length === 0) return undefined;
  if (zeroPoint.length !== scale.length && zeroPoint.length !== 0) {
    invalid(`${what} has ${scale.length} quantization scales but ${zeroPoint.length} zero points`);
  }
  let axis = q.i32(SLOT.quantization.quantizedDimension, 0);
  // TFLM ignores an out-of-range quantized_dimension (person_detect's 1-D biases say 3); kernels
  // that use per-channel parameters check the channel count against the dimension they expect.
  if (axis < 0 || axis >= Math.max(rank, 1)) axis = 0;
  return { scale, zeroPoint: zeroPoint.length === 0 ? scale.map(() => 0) : zeroPoint, axis };
}
