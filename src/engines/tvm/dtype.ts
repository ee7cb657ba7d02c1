import type { DType } from '../engine.js';

/** DLPack's DLDataType: type code (0 int, 1 uint, 2 float, 6 bool), bits, lanes. */
export interface DLDataType {
  readonly code: number;
  readonly bits: number;
  readonly lanes: number;
}

export const DL_INT = 0;
export const DL_UINT = 1;
export const DL_FLOAT = 2;
export const DL_BOOL = 6;

/** The dtypes semirt exchanges, by TVM's dtype string (graph JSON `dltype`). */
const BY_TVM_NAME: ReadonlyMap<string, { dtype: DType; dl: DLDataType }> = new Map([
  ['float32', { dtype: 'float32', dl: { code: DL_FLOAT, bits: 32, lanes: 1 } }],
  ['float64', { dtype: 'float64', dl: { code: DL_FLOAT, bits: 64, lanes: 1 } }],
  ['float16', { dtype: 'float16', dl: { code: DL_FLOAT, bits: 16, lanes: 1 } }],
  ['int8', { dtype: 'int8', dl: { code: DL_INT, bits: 8, lanes: 1 } }],
  ['uint8', { dtype: 'uint8', dl: { code: DL_UINT, bits: 8, lanes: 1 } }],
  ['int16', { dtype: 'int16', dl: { code: DL_INT, bits: 16, lanes: 1 } }],
  ['uint16', { dtype: 'uint16', dl: { code: DL_UINT, bits: 16, lanes: 1 } }],
  ['int32', { dtype: 'int32', dl: { code: DL_INT, bits: 32, lanes: 1 } }],
  ['uint32', { dtype: 'uint32', dl: { code: DL_UINT, bits: 32, lanes: 1 } }],
  ['int64', { dtype: 'int64', dl: { code: DL_INT, bits: 64, lanes: 1 } }],
  // TVM writes booleans as uint1 (one byte per element in memory).
  ['bool', { dtype: 'bool', dl: { code: DL_UINT, bits: 1, lanes: 1 } }],
]);

/** Maps a graph JSON dtype string to semirt's dtype and DLPack's code, or undefined. */
export function fromTvmName(name: string): { dtype: DType; dl: DLDataType } | undefined {
  return BY_TVM_NAME.get(name);
}

/** The DLDataType semirt lays out in wasm memory for a dtype. */
export function toDLDataType(dtype: DType): DLDataType {
  for (const entry of BY_TVM_NAME.values()) if (entry.dtype === dtype) return entry.dl;
  throw new RangeError(`No DLDataType for dtype "${dtype}"`);
}

/** Maps a DLDataType read from a params file to semirt's dtype (newer TVM writes bool as code 6, 8 bits). */
export function fromDLDataType(dl: DLDataType): DType | undefined {
  if (dl.lanes !== 1) return undefined;
  if (dl.code === DL_BOOL && dl.bits === 8) return 'bool';
  for (const entry of BY_TVM_NAME.values()) {
    if (entry.dl.code === dl.code && entry.dl.bits === dl.bits) return entry.dtype;
  }
  return undefined;
}
