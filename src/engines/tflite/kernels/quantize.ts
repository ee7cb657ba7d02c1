import {
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  roundHalfAway,
} from '../quantization.js';
import { intView, quantParams, typeRange, type Kernel } from './kernel.js';
import { unaryOperands } from './unary-common.js';

/** QUANTIZE: float32 → int8/int16, or requantize between int8/int16/int32 scales. */
export const quantize: Kernel = {
  name: 'QUANTIZE',
  versions: [1, 3],
  types: ['float32 → int8/int16', 'int8/int16/int32 → int8/int16/int32'],
  prepare(node) {
    const { x, y, n } = unaryOperands(
      node,
      ['float32', 'int8', 'int16', 'int32'],
      ['int8', 'int16', 'int32'],
    );
    const qy = quantParams(node, y);
    const [lo, hi] = typeRange(y.dtype);
    if (x.dtype === 'float32') {
      const scale = qy.scale;
      return {
        scratchBytes: 0,
        bind(v) {
          const xd = v.f32(x);
          const yd = intView(v, y);
          return () => {
            for (let i = 0; i < n; i++) {
              const r = roundHalfAway(Math.fround(xd[i]! / scale)) + qy.zeroPoint;
              yd[i] = r < lo ? lo : r > hi ? hi : r;
            }
          };
        },
      };
    }
    const qx = quantParams(node, x);
    const { multiplier, shift } = quantizeMultiplier(qx.scale / qy.scale);
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = intView(v, x);
        const yd = intView(v, y);
        return () => {
          for (let i = 0; i < n; i++) {
            const r =
              multiplyByQuantizedMultiplier(xd[i]! - qx.zeroPoint, multiplier, shift) +
              qy.zeroPoint;
            yd[i] = r < lo ? lo : r > hi ? hi : r;
          }
        };
      },
    };
  },
};
