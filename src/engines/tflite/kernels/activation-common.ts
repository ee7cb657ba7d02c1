import { logisticFixed, tanhFixed } from '../fixed-point.js';
import { logistic16, tanh16 } from '../int16-activations.js';
import {
  frexp,
  multiplyByQuantizedMultiplier,
  roundHalfAway,
  roundingDivideByPOT,
} from '../quantization.js';
import { fail, quantParams, type NodeInfo, type PreparedNode } from './kernel.js';
import { unaryOperands } from './unary-common.js';

const INPUT_INTEGER_BITS = 4;

/** TFLite's float logistic, with its cut-offs. */
export function floatLogistic(v: number): number {
  if (v > 16.619047164916992) return 1;
  if (v < -9) return Math.fround(Math.exp(v));
  return Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-v))));
}

const FLOAT: Readonly<Record<'logistic' | 'tanh', (v: number) => number>> = {
  logistic: floatLogistic,
  tanh: (v: number): number => Math.tanh(v),
};

/**
 * LOGISTIC / TANH: float32; int8 through gemmlowp's Q4 fixed-point functions; int16 through the
 * interpolated sigmoid table. Multipliers are derived exactly as TFLM's Prepare does.
 */
export function prepareSigmoidLike(node: NodeInfo, kind: 'logistic' | 'tanh'): PreparedNode {
  const { x, y, n } = unaryOperands(node, ['float32', 'int8', 'int16']);
  if (x.dtype === 'float32') {
    // Its own loop rather than floatUnary's: this call site then sees only two functions and
    // V8 can inline them; floatUnary's sees every float activation.
    const f = FLOAT[kind];
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = v.f32(x);
        const yd = v.f32(y);
        return () => {
          for (let i = 0; i < n; i++) yd[i] = f(xd[i]!);
        };
      },
    };
  }
  const qx = quantParams(node, x);
  const qy = quantParams(node, y);
  if (x.dtype === 'int8') {
    if (kind === 'logistic' && qy.zeroPoint !== -128)
      fail(node, 'int8 output zero point must be -128');
    const [q, leftShift] = frexp(qx.scale * 2 ** (31 - INPUT_INTEGER_BITS));
    const multiplier = roundHalfAway(q * 2 ** 31);
    const radius = Math.floor(
      (((1 << INPUT_INTEGER_BITS) - 1) * 2 ** (31 - INPUT_INTEGER_BITS)) / 2 ** leftShift,
    );
    const fixed = kind === 'logistic' ? logisticFixed : tanhFixed;
    const outShift = kind === 'logistic' ? 31 - 8 : 31 - 7;
    const outOffset = kind === 'logistic' ? -128 : 0;
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = v.i8(x);
        const yd = v.i8(y);
        return () => {
          for (let i = 0; i < n; i++) {
            const value = xd[i]! - qx.zeroPoint;
            if (value <= -radius) yd[i] = -128;
            else if (value >= radius) yd[i] = 127;
            else {
              const r =
                roundingDivideByPOT(
                  fixed(
                    multiplyByQuantizedMultiplier(value, multiplier, leftShift),
                    INPUT_INTEGER_BITS,
                  ),
                  outShift,
                ) + outOffset;
              yd[i] = r < -128 ? -128 : r > 127 ? 127 : r;
            }
          }
        };
      },
    };
  }
  if (qx.zeroPoint !== 0 || qy.zeroPoint !== 0) fail(node, 'int16 zero points must be 0');
  if (roundHalfAway(Math.log2(qy.scale)) !== -15) fail(node, 'int16 output scale must be 2^-15');
  const log2 = roundHalfAway(Math.log2(qx.scale));
  const pot = Math.abs(Math.log2(qx.scale) - log2) < 1e-3;
  let leftShift = 12 + log2;
  let multiplier = 0;
  const potShiftOk = kind === 'logistic' ? leftShift === 0 : leftShift === 0 || leftShift === 1;
  if (!(pot && potShiftOk)) {
    let m = qx.scale * 4096 * 3;
    leftShift = 0;
    while (m <= 32767 / 2 && leftShift <= 30) {
      leftShift++;
      m *= 2;
    }
    multiplier = Math.trunc(m);
  }
  const f16 = kind === 'logistic' ? logistic16 : tanh16;
  return {
    scratchBytes: 0,
    bind(v) {
      const xd = v.i16(x);
      const yd = v.i16(y);
      return () => {
        for (let i = 0; i < n; i++) yd[i] = f16(xd[i]!, multiplier, leftShift);
      };
    },
  };
}
