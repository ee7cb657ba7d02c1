/**
 * Reads the few facts about an ONNX ModelProto that semirt needs before or besides onnxruntime:
 * whether bytes are an ONNX model at all (ONNX has no magic number), the opsets it imports, and
 * which graph inputs declare no shape (onnxruntime reports those like scalars).
 */
import { ProtoFormatError, readFields, WireType } from './protobuf.js';

export interface OpsetImport {
  /** "ai.onnx" for the default domain (stored as ""). */
  readonly domain: string;
  readonly version: number;
}

export interface ModelProtoSummary {
  readonly irVersion: number;
  readonly opsets: readonly OpsetImport[];
  /** Names of graph inputs whose type carries no shape (unknown rank). */
  readonly unrankedInputs: ReadonlySet<string>;
}

const text = new TextDecoder('utf-8', { fatal: true });

/** The sub-message of field `number`, or undefined; the last occurrence wins as in protobuf. */
function subMessage(bytes: Uint8Array, number: number): Uint8Array | undefined {
  let found: Uint8Array | undefined;
  for (const field of readFields(bytes)) {
    if (field.field === number && field.wireType === WireType.bytes) found = field.value;
  }
  return found;
}

function readOpset(bytes: Uint8Array): OpsetImport {
  let domain = '';
  let version = 0;
  for (const field of readFields(bytes)) {
    // OperatorSetIdProto: domain = 1, version = 2.
    if (field.field === 1 && field.wireType === WireType.bytes) domain = text.decode(field.value);
    if (field.field === 2 && field.wireType === WireType.varint) version = Number(field.value);
  }
  return { domain: domain === '' ? 'ai.onnx' : domain, version };
}

/** Tells whether a graph input (ValueInfoProto) is a tensor whose type omits the shape. */
function isUnranked(valueInfo: Uint8Array): boolean {
  // ValueInfoProto.type = 2; TypeProto.tensor_type = 1; TypeProto.Tensor.shape = 2.
  const type = subMessage(valueInfo, 2);
  const tensorType = type && subMessage(type, 1);
  return tensorType !== undefined && subMessage(tensorType, 2) === undefined;
}

function readInputName(valueInfo: Uint8Array): string {
  const name = subMessage(valueInfo, 1);
  return name === undefined ? '' : text.decode(name);
}

/**
 * Summarizes a ModelProto, or answers undefined when the bytes are not one: a well-formed message
 * with an `ir_version` varint (field 1) and a `graph` message (field 7).
 */
export function summarizeModelProto(bytes: Uint8Array): ModelProtoSummary | undefined {
  try {
    let irVersion: number | undefined;
    let graph: Uint8Array | undefined;
    const opsets: OpsetImport[] = [];
    for (const field of readFields(bytes)) {
      // ModelProto: ir_version = 1, graph = 7, opset_import = 8.
      if (field.field === 1 && field.wireType === WireType.varint) irVersion = Number(field.value);
      else if (field.field === 7 && field.wireType === WireType.bytes) graph = field.value;
      else if (field.field === 8 && field.wireType === WireType.bytes)
        opsets.push(readOpset(field.value));
    }
    if (irVersion === undefined || graph === undefined) return undefined;
    const unrankedInputs = new Set<string>();
    for (const field of readFields(graph)) {
      // GraphProto.input = 11.
      if (field.field === 11 && field.wireType === WireType.bytes && isUnranked(field.value)) {
        unrankedInputs.add(readInputName(field.value));
      }
    }
    return { irVersion, opsets, unrankedInputs };
  } catch (error) {
    if (error instanceof ProtoFormatError || error instanceof TypeError) return undefined;
    throw error;
  }
}
