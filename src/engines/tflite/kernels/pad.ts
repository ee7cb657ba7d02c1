import { elementSize } from './shape-walk.js';
import {
  constantInts,
  expectArity,
  expectShape,
  fail,
  input,
  output,
  type Kernel,
} from './kernel.js';

/** PAD: surrounds the input with the pad value (0, or the zero point for quantized tensors). */
export const pad: Kernel = {
  name: 'PAD',
  versions: [1, 2],
  types: ['float32', 'int8', 'int16', 'int32'],
  prepare(node) {
    expectArity(node, [2, 2], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    if (!['float32', 'int8', 'int16', 'int32'].includes(x.dtype) || y.dtype !== x.dtype) {
      fail(node, `types ${x.dtype} → ${y.dtype} are not supported`);
    }
    const rank = x.shape.length;
    const paddings = constantInts(node, input(node, 1));
    if (paddings.length !== rank * 2)
      fail(node, `paddings have ${paddings.length} values, expected ${rank * 2}`);
    if (paddings.some((p) => p < 0)) fail(node, 'paddings must not be negative');
    expectShape(
      node,
      y,
      'output',
      x.shape.map((d, i) => d + paddings[2 * i]! + paddings[2 * i + 1]!),
    );
    const size = elementSize(x.dtype);
    const zeroPoint = y.quant?.zeroPoint[0] ?? 0;
    // Copy rows of the innermost dimension: precompute each input row's destination offset.
    const inner = (x.shape[rank - 1] ?? 1) * size;
    const rows = inner === 0 ? 0 : x.bytes / inner;
    const dest = new Int32Array(rows);
    const outStrides = new Array<number>(rank).fill(0);
    let s = size;
    for (let i = rank - 1; i >= 0; i--) {
      outStrides[i] = s;
      s *= y.shape[i]!;
    }
    const coord = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    for (let r = 0; r < rows; r++) {
      let off = rank > 0 ? paddings[2 * (rank - 1)]! * size : 0;
      for (let i = 0; i < rank - 1; i++) off += (coord[i]! + paddings[2 * i]!) * outStrides[i]!;
      dest[r] = off;
      for (let i = rank - 2; i >= 0; i--) {
        coord[i] = coord[i]! + 1;
        if (coord[i]! < x.shape[i]!) break;
        coord[i] = 0;
      }
    }
    return {
      scratchBytes: 0,
      bind(v) {
        const xb = v.bytes(x);
        const yb = v.bytes(y);
        const fill = (): void => {
          if (zeroPoint === 0) {
            yb.fill(0);
          } else if (y.dtype === 'int8') {
            v.i8(y).fill(zeroPoint);
          } else {
            v.i16(y).fill(zeroPoint);
          }
        };
        return () => {
          fill();
          for (let r = 0; r < rows; r++) yb.set(xb.subarray(r * inner, (r + 1) * inner), dest[r]);
        };
      },
    };
  },
};
