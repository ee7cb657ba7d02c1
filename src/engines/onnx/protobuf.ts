/**
 * A minimal protocol-buffers wire-format reader and writer: enough to recognise an ONNX model
 * by content, to read the TensorProto files of the ONNX conformance data, and to build test
 * models. Field numbers live with the callers; this file knows only the wire format.
 */

/** Wire types of the protocol-buffers encoding. */
export const WireType = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** One decoded field: varints as bigint (int64 needs all 64 bits), the other types as raw bytes. */
export type ProtoField =
  | { readonly field: number; readonly wireType: 0; readonly value: bigint }
  | { readonly field: number; readonly wireType: 1 | 2 | 5; readonly value: Uint8Array };

/** Raised for bytes that are not a well-formed protocol-buffers message. */
export class ProtoFormatError extends Error {
  override readonly name = 'ProtoFormatError';
}

/** Reads a varint at `offset`; returns the value and the offset after it. */
function readVarint(bytes: Uint8Array, offset: number): [bigint, number] {
  let result = 0n;
  for (let shift = 0n, i = offset; i < bytes.length && shift < 70n; i++, shift += 7n) {
    const byte = bytes[i]!;
    result |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [BigInt.asUintN(64, result), i + 1];
  }
  throw new ProtoFormatError(
    `Cannot read varint at byte ${offset}: truncated or longer than 10 bytes`,
  );
}

/** Decodes the fields of one message, in order; throws ProtoFormatError on malformed input. */
export function* readFields(bytes: Uint8Array): Generator<ProtoField> {
  let offset = 0;
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset);
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (field === 0)
      throw new ProtoFormatError(`Cannot read field at byte ${offset}: field number 0`);
    offset = afterKey;
    switch (wireType) {
      case WireType.varint: {
        const [value, next] = readVarint(bytes, offset);
        offset = next;
        yield { field, wireType, value };
        break;
      }
      case WireType.bytes: {
        const [length, start] = readVarint(bytes, offset);
        const end = start + Number(length);
        if (length > BigInt(bytes.length) || end > bytes.length) {
          throw new ProtoFormatError(
            `Cannot read field ${field}: length ${length} runs past the end of the message`,
          );
        }
        offset = end;
        yield { field, wireType, value: bytes.subarray(start, end) };
        break;
      }
      case WireType.fixed64:
      case WireType.fixed32: {
        const end = offset + (wireType === WireType.fixed64 ? 8 : 4);
        if (end > bytes.length) {
          throw new ProtoFormatError(`Cannot read field ${field}: fixed-size value is truncated`);
        }
        yield { field, wireType, value: bytes.subarray(offset, end) };
        offset = end;
        break;
      }
      default:
        throw new ProtoFormatError(
          `Cannot read field ${field} at byte ${offset}: wire type ${wireType} is not supported`,
        );
    }
  }
}

/** Decodes a packed repeated varint field (or a single varint) into bigints. */
export function readPackedVarints(field: ProtoField): bigint[] {
  if (field.wireType === WireType.varint) return [field.value];
  if (field.wireType !== WireType.bytes) {
    throw new ProtoFormatError(`Cannot read field ${field.field}: expected varints`);
  }
  const values: bigint[] = [];
  for (let offset = 0; offset < field.value.length;) {
    const [value, next] = readVarint(field.value, offset);
    values.push(value);
    offset = next;
  }
  return values;
}

/** Builds one message; nested messages are written by passing another writer's bytes. */
export class ProtoWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;

  #push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }

  #varint(value: bigint): void {
    let rest = BigInt.asUintN(64, value);
    const out: number[] = [];
    while (rest >= 0x80n) {
      out.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    out.push(Number(rest));
    this.#push(Uint8Array.from(out));
  }

  #key(field: number, wireType: WireType): void {
    this.#varint(BigInt(field) * 8n + BigInt(wireType));
  }

  /** Writes an integer field (int32, int64, enum, bool); negative values take ten bytes as protobuf says. */
  int(field: number, value: number | bigint): this {
    this.#key(field, WireType.varint);
    this.#varint(BigInt(value));
    return this;
  }

  /** Writes a length-delimited field: bytes, a string (UTF-8) or a nested message. */
  bytes(field: number, value: Uint8Array | string | ProtoWriter): this {
    const data =
      typeof value === 'string'
        ? new TextEncoder().encode(value)
        : value instanceof ProtoWriter
          ? value.finish()
          : value;
    this.#key(field, WireType.bytes);
    this.#varint(BigInt(data.length));
    this.#push(data);
    return this;
  }

  /** Writes a packed repeated integer field. */
  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const value of values) inner.#varint(BigInt(value));
    return this.bytes(field, inner);
  }

  /** Writes a 32-bit float field. */
  float(field: number, value: number): this {
    const data = new Uint8Array(4);
    new DataView(data.buffer).setFloat32(0, value, true);
    this.#key(field, WireType.fixed32);
    this.#push(data);
    return this;
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}
