import {
  expOnNegativeValues,
  getReciprocal,
  reciprocalBitsOverUnit,
  saturatingRoundingMultiplyByPOT,
} from '../fixed-point.js';
import {
  quantizeMultiplier,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
} from '../quantization.js';
import {
  expectArity,
  expectType,
  fail,
  input,
  intView,
  options,
  output,
  quantParams,
  type Kernel,
  type PreparedNode,
} from './kernel.js';

const SCALED_DIFF_INTEGER_BITS = 5;
const ACCUMULATION_INTEGER_BITS = 12;

/** SOFTMAX over the last dimension: float32, and int8 → int8/int16 with gemmlowp fixed-point exp. */
export const softmax: Kernel = {
  name: 'SOFTMAX',
  versions: [1, 3],
  types: ['float32', 'int8 → int8', 'int8 → int16'],
  prepare(node): PreparedNode {
    expectArity(node, [1, 1], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    const beta = options(node).f32(0, 0);
    if (x.elements !== y.elements || x.shape.length === 0)
      fail(node, 'input and output must have the same non-scalar shape');
    const depth = x.shape[x.shape.length - 1]!;
    const outer = depth === 0 ? 0 : x.elements / depth;

    if (x.dtype === 'float32') {
      expectType(node, y, 'output', ['float32']);
      const fbeta = Math.fround(beta);
      return {
        scratchBytes: 0,
        bind(v) {
          const xd = v.f32(x);
          const yd = v.f32(y);
          return () => {
            for (let i = 0; i < outer; i++) {
              const base = i * depth;
              let max = -Infinity;
              for (let c = 0; c < depth; c++) if (xd[base + c]! > max) max = xd[base + c]!;
              let sum = 0;
              for (let c = 0; c < depth; c++) {
                const e = Math.fround(
                  Math.exp(Math.fround(Math.fround(xd[base + c]! - max) * fbeta)),
                );
                yd[base + c] = e;
                sum = Math.fround(sum + e);
              }
              for (let c = 0; c < depth; c++) yd[base + c] = Math.fround(yd[base + c]! / sum);
            }
          };
        },
      };
    }

    expectType(node, x, 'input', ['int8']);
    expectType(node, y, 'output', ['int8', 'int16']);
    const inQ = quantParams(node, x);
    const outQ = quantParams(node, y);
    if (y.dtype === 'int8' && (outQ.zeroPoint !== -128 || outQ.scale !== 1 / 256)) {
      fail(node, 'int8 output must have scale 1/256 and zero point -128');
    }
    if (
      y.dtype === 'int16' &&
      (outQ.zeroPoint !== -32768 || Math.abs(outQ.scale - 1 / 65536) > 0.001 / 65536)
    ) {
      fail(node, 'int16 output must have scale 1/65536 and zero point -32768');
    }
    // PreprocessSoftmaxScaling: beta·scale as a Q5.26 multiplier, capped at 2^31 − 1.
    const real = Math.min(beta * inQ.scale * 2 ** (31 - SCALED_DIFF_INTEGER_BITS), 2 ** 31 - 1);
    const { multiplier, shift: leftShift } = quantizeMultiplier(real);
    if (leftShift < 0) fail(node, 'beta · input scale is too small');
    const diffMin = -Math.floor(
      (((1 << SCALED_DIFF_INTEGER_BITS) - 1) * 2 ** (31 - SCALED_DIFF_INTEGER_BITS)) /
        2 ** leftShift,
    );
    const outBits = y.dtype === 'int8' ? 8 : 16;
    const [outMin, outMax] = y.dtype === 'int8' ? [-128, 127] : [-32768, 32767];
    const leftFactor = 2 ** leftShift;
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = v.i8(x);
        const yd = intView(v, y);
        const expOf = (diff: number): number =>
          expOnNegativeValues(
            saturatingRoundingDoublingHighMul((diff * leftFactor) | 0, multiplier),
            SCALED_DIFF_INTEGER_BITS,
          );
        return () => {
          for (let i = 0; i < outer; i++) {
            const base = i * depth;
            let max = -128;
            for (let c = 0; c < depth; c++) if (xd[base + c]! > max) max = xd[base + c]!;
            let sum = 0;
            for (let c = 0; c < depth; c++) {
              const diff = xd[base + c]! - max;
              if (diff >= diffMin) {
                sum =
                  (sum + saturatingRoundingMultiplyByPOT(expOf(diff), -ACCUMULATION_INTEGER_BITS)) |
                  0;
              }
            }
            const scale = getReciprocal(sum);
            const bitsOverUnit = reciprocalBitsOverUnit(sum, ACCUMULATION_INTEGER_BITS);
            const exponent = bitsOverUnit + 31 - outBits;
            for (let c = 0; c < depth; c++) {
              const diff = xd[base + c]! - max;
              if (diff >= diffMin) {
                const unsat = roundingDivideByPOT(
                  saturatingRoundingDoublingHighMul(scale, expOf(diff)),
                  exponent,
                );
                const shifted = unsat + outMin;
                yd[base + c] = shifted < outMin ? outMin : shifted > outMax ? outMax : shifted;
              } else {
                yd[base + c] = outMin;
              }
            }
          }
        };
      },
    };
  },
};
