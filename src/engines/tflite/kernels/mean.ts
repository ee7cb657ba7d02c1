import { multiplyByQuantizedMultiplier, quantizeMultiplier } from '../quantization.js';
import {
  constantInts,
  expectArity,
  expectType,
  fail,
  input,
  intView,
  options,
  output,
  quantParams,
  typeRange,
  type Kernel,
} from './kernel.js';
import { stridesOf } from './shape-walk.js';

/**
 * MEAN over constant axes. float32 sums in float in input order; int8/int16 sum raw values,
 * then fold 1/count into the multiplier the way TFLM's QuantizedMeanOrSum does (the 2025 code).
 */
export const mean: Kernel = {
  name: 'MEAN',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare(node) {
    expectArity(node, [2, 2], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    expectType(node, x, 'input', ['float32', 'int8', 'int16']);
    expectType(node, y, 'output', [x.dtype]);
    const rank = x.shape.length;
    const axes = new Set<number>();
    for (const a of constantInts(node, input(node, 1))) {
      const axis = a < 0 ? a + rank : a;
      if (axis < 0 || axis >= rank) fail(node, `axis ${a} is out of range for rank ${rank}`);
      axes.add(axis);
    }
    const keepDims = options(node).bool(0, false);
    const outDims = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const kept = keepDims ? outDims : x.shape.filter((_, i) => !axes.has(i));
    if (kept.reduce((p, d) => p * d, 1) !== y.elements)
      fail(node, `output has ${y.elements} elements, expected shape [${kept.join(', ')}]`);
    const count = x.shape.reduce((p, d, i) => (axes.has(i) ? p * d : p), 1);
    // Output slot of every input element, in input order.
    const outStrides = stridesOf(outDims);
    const slot = new Int32Array(x.elements);
    const coord = new Array<number>(rank).fill(0);
    for (let e = 0; e < x.elements; e++) {
      let o = 0;
      for (let i = 0; i < rank; i++) if (!axes.has(i)) o += coord[i]! * outStrides[i]!;
      slot[e] = o;
      for (let i = rank - 1; i >= 0; i--) {
        coord[i] = coord[i]! + 1;
        if (coord[i]! < x.shape[i]!) break;
        coord[i] = 0;
      }
    }
    const outputs = y.elements;
    if (x.dtype === 'float32') {
      return {
        scratchBytes: outputs * 4,
        bind(v) {
          const xd = v.f32(x);
          const yd = v.f32(y);
          const sum = new Float32Array(v.scratch, 0, outputs);
          return () => {
            sum.fill(0);
            for (let e = 0; e < xd.length; e++) sum[slot[e]!] = sum[slot[e]!]! + xd[e]!;
            for (let o = 0; o < outputs; o++) yd[o] = count > 0 ? sum[o]! / count : 0;
          };
        },
      };
    }
    const qx = quantParams(node, x);
    const qy = quantParams(node, y);
    const base = quantizeMultiplier(qx.scale / qy.scale);
    // Divide the multiplier by count with as many extra bits as fit (64-bit integer math).
    let extra = 63 - (64 - bitLength(BigInt(count)));
    extra = Math.min(extra, 32, 31 + base.shift);
    const multiplier =
      count > 0 ? Number((BigInt(base.multiplier) << BigInt(extra)) / BigInt(count)) : 0;
    const shift = base.shift - extra;
    const [lo, hi] = typeRange(y.dtype);
    return {
      scratchBytes: outputs * 4,
      bind(v) {
        const xd = intView(v, x);
        const yd = intView(v, y);
        const sum = new Int32Array(v.scratch, 0, outputs);
        return () => {
          sum.fill(0);
          for (let e = 0; e < xd.length; e++) sum[slot[e]!] = (sum[slot[e]!]! + xd[e]!) | 0;
          for (let o = 0; o < outputs; o++) {
            const shifted = (sum[o]! - qx.zeroPoint * count) | 0;
            const r = multiplyByQuantizedMultiplier(shifted, multiplier, shift) + qy.zeroPoint;
            yd[o] = r < lo ? lo : r > hi ? hi : r;
          }
        };
      },
    };
  },
};

/** Bits needed to represent a positive integer (64 − leading zeros of its uint64). */
function bitLength(n: bigint): number {
  return n.toString(2).length;
}
