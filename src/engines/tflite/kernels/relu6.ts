import { roundHalfAway } from '../quantization.js';
import { intView, quantParams, typeRange, type Kernel } from './kernel.js';
import { floatUnary, unaryOperands } from './unary-common.js';

/** RELU6: min(max(x, 0), 6); quantized as a clamp in the input's quantization, as TFLM does. */
export const relu6: Kernel = {
  name: 'RELU6',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare(node) {
    const operands = unaryOperands(node, ['float32', 'int8', 'int16']);
    const { x, y, n } = operands;
    if (x.dtype === 'float32') return floatUnary(operands, (v) => (v > 0 ? (v < 6 ? v : 6) : 0));
    const qx = quantParams(node, x);
    const [lo, hi] = typeRange(x.dtype);
    const zero = qx.zeroPoint;
    const six = Math.min(hi, Math.max(lo, roundHalfAway(Math.fround(6 / qx.scale)) + zero));
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = intView(v, x);
        const yd = intView(v, y);
        return () => {
          for (let i = 0; i < n; i++) {
            const value = xd[i]!;
            yd[i] = value < zero ? zero : value > six ? six : value;
          }
        };
      },
    };
  },
};
