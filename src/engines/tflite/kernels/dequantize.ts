import { intView, quantParams, type Kernel } from './kernel.js';
import { unaryOperands } from './unary-common.js';

/** DEQUANTIZE: int8/int16 → float32 as scale·(q − zero point), computed in double then rounded. */
export const dequantize: Kernel = {
  name: 'DEQUANTIZE',
  versions: [1, 4],
  types: ['int8/int16 → float32'],
  prepare(node) {
    const { x, y, n } = unaryOperands(node, ['int8', 'int16'], ['float32']);
    const { scale, zeroPoint } = quantParams(node, x);
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = intView(v, x);
        const yd = v.f32(y);
        return () => {
          for (let i = 0; i < n; i++) yd[i] = scale * (xd[i]! - zeroPoint);
        };
      },
    };
  },
};
