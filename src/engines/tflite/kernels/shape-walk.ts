import type { DType } from '../../engine.js';
import { DTYPE_SIZE } from '../../engine.js';

/** Bytes per element of a dtype. */
export function elementSize(dtype: DType): number {
  return DTYPE_SIZE[dtype];
}

/** Row-major strides (in elements) of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  return strides;
}

/**
 * Precomputes, for every output element of a gather-like op, the source element index, from
 * per-dimension start/step in the source and the output dimensions.
 */
export function gatherIndex(
  outDims: readonly number[],
  starts: readonly number[],
  steps: readonly number[],
  srcStrides: readonly number[],
): Int32Array {
  const total = outDims.reduce((a, b) => a * b, 1);
  const index = new Int32Array(total);
  const rank = outDims.length;
  const coord = new Array<number>(rank).fill(0);
  for (let n = 0; n < total; n++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += (starts[i]! + coord[i]! * steps[i]!) * srcStrides[i]!;
    index[n] = src;
    for (let i = rank - 1; i >= 0; i--) {
      coord[i] = coord[i]! + 1;
      if (coord[i]! < outDims[i]!) break;
      coord[i] = 0;
    }
  }
  return index;
}

/** Copies elements by a precomputed source index (element size 1, 2 or 4 bytes). */
export function gatherCopy(
  src: Uint8Array,
  dst: Uint8Array,
  index: Int32Array,
  size: number,
): void {
  const n = index.length;
  if (size === 1) {
    for (let i = 0; i < n; i++) dst[i] = src[index[i]!]!;
    return;
  }
  for (let i = 0; i < n; i++) {
    const s = index[i]! * size;
    const d = i * size;
    for (let k = 0; k < size; k++) dst[d + k] = src[s + k]!;
  }
}
