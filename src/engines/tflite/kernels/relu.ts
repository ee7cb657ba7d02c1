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
import { prepareFloatUnary } from './unary-common.js';

/** RELU: max(x, 0); quantized by requantizing to the output scale, then clamping at zero. */
export const relu: Kernel = {
  name: 'RELU',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare(node) {
    expectArity(node, [1, 1], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    if (x.dtype === 'float32') return prepareFloatUnary(node, (v) => (v > 0 ? v : 0));
    expectType(node, x, 'input', ['int8', 'int16']);
    expectType(node, y, 'output', [x.dtype]);
    if (x.elements !== y.elements) fail(node, 'input and output sizes differ');
    const qx = quantParams(node, x);
    const qy = quantParams(node, y);
    if (x.dtype === 'int16' && (qx.zeroPoint !== 0 || qy.zeroPoint !== 0))
      fail(node, 'int16 zero points must be 0');
    // TFLM divides the float scales in float, and rounds 0 / scale with roundf.
    const { multiplier, shift } = quantizeMultiplier(Math.fround(qx.scale / qy.scale));
    const [lo, hi] = typeRange(y.dtype);
    const min = Math.max(lo, qy.zeroPoint + roundHalfAway(0));
    const n = x.elements;
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = x.dtype === 'int8' ? v.i8(x) : v.i16(x);
        const yd = y.dtype === 'int8' ? v.i8(y) : v.i16(y);
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
