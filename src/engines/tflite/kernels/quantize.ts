import {
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  roundHalfAway,
} from '../quantization.js';
import {
  expectArity,
  expectType,
  fail,
  input,
  output,
  quantParams,
  typeRange,
  type Kernel,
} from './kernel.js';

/** QUANTIZE: float32 → int8/int16, or requantize between int8/int16/int32 scales. */
export const quantize: Kernel = {
  name: 'QUANTIZE',
  versions: [1, 3],
  types: ['float32 → int8/int16', 'int8/int16/int32 → int8/int16/int32'],
  prepare(node) {
    expectArity(node, [1, 1], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    expectType(node, x, 'input', ['float32', 'int8', 'int16', 'int32']);
    expectType(node, y, 'output', ['int8', 'int16', 'int32']);
    if (x.elements !== y.elements) fail(node, 'input and output sizes differ');
    const qy = quantParams(node, y);
    const [lo, hi] = typeRange(y.dtype);
    const n = x.elements;
    if (x.dtype === 'float32') {
      const scale = qy.scale;
      return {
        scratchBytes: 0,
        bind(v) {
          const xd = v.f32(x);
          const yd = y.dtype === 'int8' ? v.i8(y) : y.dtype === 'int16' ? v.i16(y) : v.i32(y);
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
        const xd = x.dtype === 'int8' ? v.i8(x) : x.dtype === 'int16' ? v.i16(x) : v.i32(x);
        const yd = y.dtype === 'int8' ? v.i8(y) : y.dtype === 'int16' ? v.i16(y) : v.i32(y);
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
