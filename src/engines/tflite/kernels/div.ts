import { getReciprocal, reciprocalBitsOverUnit } from '../fixed-point.js';
import {
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  saturatingRoundingDoublingHighMul,
} from '../quantization.js';
import { Activation } from '../schema.js';
import { binaryNode, prepareBinary } from './elementwise.js';
import {
  activation,
  activationRangeFloat,
  activationRangeQuantized,
  expectType,
  options,
  quantParams,
  type Kernel,
} from './kernel.js';

/** Leading redundant sign bits of an int32 (GCC's __builtin_clrsb; 31 for zero). */
function leadingSignBits(x: number): number {
  return x === 0 ? 31 : Math.clz32(x ^ (x >> 31)) - 1;
}

/**
 * DIV with broadcasting: float32, and int8 through TFLite's reciprocal-based integer division
 * (the divisor's reciprocal in Q0.31, the dividend normalized by its sign-bit headroom).
 */
export const div: Kernel = {
  name: 'DIV',
  versions: [1, 2],
  types: ['float32', 'int8'],
  prepare(node) {
    const bin = prepareBinary(node);
    const { a, b, y } = bin;
    expectType(node, y, 'output', ['float32', 'int8']);
    const act = activation(node, options(node).i8(0, Activation.NONE));
    let f: (p: number, q: number) => number;
    if (y.dtype === 'float32') {
      const [lo, hi] = activationRangeFloat(act);
      f = (p, q) => {
        const r = Math.fround(p / q);
        return r < lo ? lo : r > hi ? hi : r;
      };
    } else {
      const qa = quantParams(node, a);
      const qb = quantParams(node, b);
      const qy = quantParams(node, y);
      const { multiplier, shift } = quantizeMultiplier(
        Math.fround(qa.scale / Math.fround(qb.scale * qy.scale)),
      );
      const [actMin, actMax] = activationRangeQuantized(node, act, y);
      f = (p, q) => {
        let num = p - qa.zeroPoint;
        let den = q - qb.zeroPoint;
        // A zero divisor is undefined in TFLM (a debug check); saturate like an infinite quotient.
        if (den === 0) return num === 0 ? qy.zeroPoint : num > 0 ? actMax : actMin;
        if (den < 0) {
          num = -num;
          den = -den;
        }
        const inverse = getReciprocal(den);
        const recipShift = reciprocalBitsOverUnit(den, 31);
        const headroom = leadingSignBits(num);
        const unscaled = saturatingRoundingDoublingHighMul(Math.imul(num, 2 ** headroom), inverse);
        const r =
          qy.zeroPoint +
          multiplyByQuantizedMultiplier(unscaled, multiplier, shift - recipShift - headroom);
        return r < actMin ? actMin : r > actMax ? actMax : r;
      };
    }
    return binaryNode(bin, f);
  },
};
