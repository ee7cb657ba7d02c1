import {
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  roundHalfAway,
} from '../quantization.js';
import { fail, intView, quantParams, typeRange, type Kernel } from './kernel.js';
import { floatUnary, unaryOperands } from './unary-common.js';

/** RELU: max(x, 0); quantized by requantizing to the output scale, then clamping at zero. */
export const relu: Kernel = {
  name: 'RELU',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare(node) {
    const operands = unaryOperands(node, ['float32', 'int8', 'int16']);
    const { x, y, n } = operands;
    if (x.dtype === 'float32') return floatUnary(operands, (v) => (v > 0 ? v : 0));
    const qx = quantParams(node, x);
    const qy = quantParams(node, y);
    if (x.dtype === 'int16' && (qx.zeroPoint !== 0 || qy.zeroPoint !== 0))
      fail(node, 'int16 zero points must be 0');
    // TFLM divides the float scales in float, and rounds 0 / scale with roundf.
    const { multiplier, shift } = quantizeMultiplier(Math.fround(qx.scale / qy.scale));
    const [lo, hi] = typeRange(y.dtype);
    const min = Math.max(lo, qy.zeroPoint + roundHalfAway(0));
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = intView(v, x);
        const yd = intView(v, y);
        return () => {
          for (let i = 0; i < n; i++) {
            const r =
              qy.zeroPoint +
              multiplyByQuantizedMultiplier(xd[i]! - qx.zeroPoint, multiplier, shift);
            yd[i] = r < min ? min : r > hi ? hi : r;
          }
        };
      },
    };
  },
};
