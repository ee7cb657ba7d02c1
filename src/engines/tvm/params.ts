import { SemirtError } from '../../errors.js';
import { DTYPE_SIZE, type DType } from '../engine.js';
import { fromDLDataType, toDLDataType } from './dtype.js';
import { MAX_NDIM } from './graph.js';

/**
 * TVM's params file (`relay.save_param_dict` / `tvm.runtime.save_param_dict`), little-endian:
 *   u64 0xF7E58D4F05049CB7 (NDArray list magic), u64 reserved,
 *   u64 name count, then per name: u64 length + UTF-8 bytes,
 *   u64 array count (= name count), then per array:
 *     u64 0xDD5E40F096B4A13F (NDArray magic), u64 reserved,
 *     DLDevice (i32 device_type = 1 CPU, i32 device_id), i32 ndim,
 *     DLDataType (u8 code, u8 bits, u16 lanes), i64 shape[ndim],
 *     i64 data byte size (= elements × ceil(bits / 8)), data bytes.
 */

export const NDARRAY_LIST_MAGIC = 0xf7e58d4f05049cb7n;
export const NDARRAY_MAGIC = 0xdd5e40f096b4a13fn;
const DEVICE_CPU = 1;

/** One named param; `data` is a view into the params file bytes. */
export interface ParamTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

function fail(message: string): never {
  throw new SemirtError('TVM_PARAMS_INVALID', `Cannot load TVM params: ${message}`);
}

/** A bounds-checked little-endian reader; every read names what it was reading. */
class Reader {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.#bytes.byteLength - this.#pos;
  }

  #need(n: number, what: string): number {
    if (n > this.remaining)
      fail(
        `truncated at byte ${this.#pos} while reading ${what} (${n} bytes needed, ${this.remaining} left)`,
      );
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  u64(what: string): bigint {
    return this.#view.getBigUint64(this.#need(8, what), true);
  }

  /** A u64 count or size that must fit in the bytes that remain (each item taking `unit` bytes). */
  size(what: string, unit: number): number {
    const value = this.u64(what);
    if (value > BigInt(Math.floor(this.remaining / unit)))
      fail(`${what} is ${value}, more than the file can hold`);
    return Number(value);
  }

  i64(what: string): bigint {
    return this.#view.getBigInt64(this.#need(8, what), true);
  }

  i32(what: string): number {
    return this.#view.getInt32(this.#need(4, what), true);
  }

  u8(what: string): number {
    return this.#view.getUint8(this.#need(1, what));
  }

  u16(what: string): number {
    return this.#view.getUint16(this.#need(2, what), true);
  }

  bytes(n: number, what: string): Uint8Array {
    const at = this.#need(n, what);
    return this.#bytes.subarray(at, at + n);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readArray(reader: Reader, name: string): ParamTensor {
  const what = (field: string): string => `${field} of param "${name}"`;
  if (reader.u64(what('magic')) !== NDARRAY_MAGIC)
    fail(`${what('magic')} is not the NDArray magic 0xDD5E40F096B4A13F`);
  reader.u64(what('reserved field'));
  const deviceType = reader.i32(what('device type'));
  reader.i32(what('device id'));
  if (deviceType !== DEVICE_CPU)
    fail(`param "${name}" is saved for device type ${deviceType}; params must be CPU tensors (1)`);
  const ndim = reader.i32(what('ndim'));
  if (ndim < 0 || ndim > MAX_NDIM)
    fail(`param "${name}" has ndim ${ndim} (expected 0 to ${MAX_NDIM})`);
  const dl = {
    code: reader.u8(what('dtype code')),
    bits: reader.u8(what('dtype bits')),
    lanes: reader.u16(what('dtype lanes')),
  };
  const dtype = fromDLDataType(dl);
  if (dtype === undefined)
    fail(
      `param "${name}" has unsupported dtype (code ${dl.code}, bits ${dl.bits}, lanes ${dl.lanes})`,
    );
  const shape: number[] = [];
  let elements = 1n;
  for (let i = 0; i < ndim; i++) {
    const d = reader.i64(what(`shape[${i}]`));
    if (d < 0n) fail(`param "${name}" has negative dimension ${d}`);
    elements *= d;
    if (elements > 2n ** 32n) fail(`param "${name}" has more than 2^32 elements`);
    shape.push(Number(d));
  }
  const expected = elements * BigInt(DTYPE_SIZE[dtype]);
  const size = reader.i64(what('data size'));
  if (size !== expected)
    fail(`param "${name}" declares ${size} data bytes, but its shape and dtype need ${expected}`);
  return { dtype, shape, data: reader.bytes(Number(size), what('data')) };
}

/** Parses a params file; the tensors' data are views into `bytes` (no copy). */
export function decodeParams(bytes: Uint8Array): ReadonlyMap<string, ParamTensor> {
  const reader = new Reader(bytes);
  if (reader.u64('the header') !== NDARRAY_LIST_MAGIC)
    fail('the header is not the NDArray-list magic 0xF7E58D4F05049CB7');
  reader.u64('the reserved field');
  const nameCount = reader.size('the name count', 8);
  const names: string[] = [];
  for (let i = 0; i < nameCount; i++) {
    const length = reader.size(`the length of name ${i}`, 1);
    let name: string;
    try {
      name = utf8.decode(reader.bytes(length, `name ${i}`));
    } catch {
      fail(`name ${i} is not valid UTF-8`);
    }
    names.push(name);
  }
  const arrayCount = reader.size('the array count', 8);
  if (arrayCount !== nameCount) fail(`the file has ${nameCount} names but ${arrayCount} arrays`);
  const params = new Map<string, ParamTensor>();
  for (const name of names) {
    if (params.has(name)) fail(`param "${name}" appears twice`);
    params.set(name, readArray(reader, name));
  }
  if (reader.remaining !== 0) fail(`${reader.remaining} unexpected bytes after the last array`);
  return params;
}

/** Writes params in TVM's format (for tooling and tests); the inverse of decodeParams. */
export function encodeParams(params: ReadonlyMap<string, ParamTensor>): Uint8Array {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const u64 = (value: bigint): void => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value, true);
    chunks.push(b);
  };
  u64(NDARRAY_LIST_MAGIC);
  u64(0n);
  u64(BigInt(params.size));
  for (const name of params.keys()) {
    const encoded = encoder.encode(name);
    u64(BigInt(encoded.byteLength));
    chunks.push(encoded);
  }
  u64(BigInt(params.size));
  for (const { dtype, shape, data } of params.values()) {
    u64(NDARRAY_MAGIC);
    u64(0n);
    const head = new DataView(new ArrayBuffer(16));
    const dl = toDLDataType(dtype);
    head.setInt32(0, DEVICE_CPU, true);
    head.setInt32(4, 0, true);
    head.setInt32(8, shape.length, true);
    head.setUint8(12, dl.code);
    head.setUint8(13, dl.bits);
    head.setUint16(14, dl.lanes, true);
    chunks.push(new Uint8Array(head.buffer));
    for (const d of shape) u64(BigInt(d));
    u64(BigInt(data.byteLength));
    chunks.push(data);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
