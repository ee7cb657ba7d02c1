import { multiplyByQuantizedMultiplier, quantizeMultiplier } from '../quantization.js';
import { intView, options, quantParams, typeRange, type Kernel } from './kernel.js';
import { unaryOperands } from './unary-common.js';

/** LEAKY_RELU: x for x >= 0, alpha·x otherwise. */
export const leakyRelu: Kernel = {
  name: 'LEAKY_RELU',
  versions: [1, 2],
  types: ['float32', 'int8', 'int16'],
  prepare(node) {
    const { x, y, n } = unaryOperands(node, ['float32', 'int8', 'int16']);
    const alpha = Math.fround(options(node).f32(0, 0));
    if (x.dtype === 'float32') {
      return {
        scratchBytes: 0,
        bind(v) {
          const xd = v.f32(x);
          const yd = v.f32(y);
          return () => {
            for (let i = 0; i < n; i++) {
              const value = xd[i]!;
              yd[i] = value > 0 ? value : Math.fround(value * alpha);
            }
          };
        },
      };
    }
    const qx = quantParams(node, x);
    const qy = quantParams(node, y);
    // TFLM computes both ratios in float before widening to double.
    const alphaQ = quantizeMultiplier(Math.fround(Math.fround(qx.scale * alpha) / qy.scale));
    const identityQ = quantizeMultiplier(Math.fround(qx.scale / qy.scale));
    const negative = alphaQ.multiplier < 0;
    const alphaMultiplier = Math.abs(alphaQ.multiplier);
    const [lo, hi] = typeRange(y.dtype);
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = intView(v, x);
        const yd = intView(v, y);
        return () => {
          for (let i = 0; i < n; i++) {
            const value = xd[i]! - qx.zeroPoint;
            let r = qy.zeroPoint;
            if (value >= 0) {
              r += multiplyByQuantizedMultiplier(value, identityQ.multiplier, identityQ.shift);
            } else {
              const scaled = multiplyByQuantizedMultiplier(value, alphaMultiplier, alphaQ.shift);
              r += negative ? -scaled : scaled;
            }
            yd[i] = r < lo ? lo : r > hi ? hi : r;
          }
        };
      },
    };
  },
};
