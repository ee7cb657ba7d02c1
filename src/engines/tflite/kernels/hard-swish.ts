import { quantizeMultiplier, roundingDivideByPOT } from '../quantization.js';
import { fail, quantParams, typeRange, type Kernel } from './kernel.js';
import { floatUnary, unaryOperands } from './unary-common.js';

/** gemmlowp's int16 SaturatingRoundingDoublingHighMul. */
function srdhm16(a: number, b: number): number {
  if (a === -32768 && b === -32768) return 32767;
  const ab = a * b;
  return (Math.trunc((ab + (ab >= 0 ? 1 << 14 : 1 - (1 << 14))) / 32768) << 16) >> 16;
}

/** TFLite's SaturatingDoublingHighMul (rounds toward zero). */
function sdhm16(a: number, b: number): number {
  if (a === -32768 && b === -32768) return 32767;
  return (Math.trunc((a * b) / 32768) << 16) >> 16;
}

function saturatingLeftShift16(value: number, amount: number): number {
  const r = value * 2 ** amount;
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/** TFLite DownScaleInt32ToInt16Multiplier. */
function toInt16Multiplier(m: number): number {
  return m >= 2147483647 - 32768 ? 32767 : (m + 32768) >> 16;
}

/** HARD_SWISH: x · relu6(x + 3) / 6; int8 through TFLite's int16 fixed-point "reluish" path. */
export const hardSwish: Kernel = {
  name: 'HARD_SWISH',
  versions: [1, 1],
  types: ['float32', 'int8'],
  prepare(node) {
    const operands = unaryOperands(node, ['float32', 'int8']);
    const { x, y, n } = operands;
    if (x.dtype === 'float32') {
      return floatUnary(operands, (v) => {
        const r = Math.fround(v + 3);
        return Math.fround(Math.fround(v * (r > 0 ? (r < 6 ? r : 6) : 0)) / 6);
      });
    }
    const qx = quantParams(node, x);
    const qy = quantParams(node, y);
    // Scales are combined in float, as TFLM's Prepare does.
    const hiresScale = Math.fround(Math.fround(1 / 128) * qx.scale);
    const out = quantizeMultiplier(Math.fround(hiresScale / qy.scale));
    const reluish = quantizeMultiplier(Math.fround(hiresScale / Math.fround(3 / 32768)));
    if (out.shift > 0) fail(node, 'the output scale is too small for the int8 HARD_SWISH path');
    const outM = toInt16Multiplier(out.multiplier);
    const reluM = toInt16Multiplier(reluish.multiplier);
    const reluShift = reluish.shift;
    const [lo, hi] = typeRange('int8');
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = v.i8(x);
        const yd = v.i8(y);
        return () => {
          for (let i = 0; i < n; i++) {
            const hires = (xd[i]! - qx.zeroPoint) * 128;
            const preshift = srdhm16(hires, outM);
            let r = hires;
            if (reluShift > 0) r = saturatingLeftShift16(r, reluShift - 1);
            r = srdhm16(r, reluM);
            if (reluShift > 0) r = saturatingLeftShift16(r, 1);
            if (reluShift < 0) r = roundingDivideByPOT(r, -reluShift);
            r = (r + 32768) >> 1;
            let value = roundingDivideByPOT(sdhm16(r, preshift), -out.shift) + qy.zeroPoint;
            value = value > hi ? hi : value < lo ? lo : value;
            yd[i] = value;
          }
        };
      },
    };
  },
};
