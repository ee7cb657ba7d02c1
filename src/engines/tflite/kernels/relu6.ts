import { roundHalfAway } from '../quantization.js';
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

/** RELU6: min(max(x, 0), 6); quantized as a clamp in the input's quantization, as TFLM does. */
export const relu6: Kernel = {
  name: 'RELU6',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare(node) {
    expectArity(node, [1, 1], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    if (x.dtype === 'float32') return prepareFloatUnary(node, (v) => (v > 0 ? (v < 6 ? v : 6) : 0));
    expectType(node, x, 'input', ['int8', 'int16']);
    expectType(node, y, 'output', [x.dtype]);
    if (x.elements !== y.elements) fail(node, 'input and output sizes differ');
    const qx = quantParams(node, x);
    const [lo, hi] = typeRange(x.dtype);
    const zero = qx.zeroPoint;
    const six = Math.min(hi, Math.max(lo, roundHalfAway(Math.fround(6 / qx.scale)) + zero));
    const n = x.elements;
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = x.dtype === 'int8' ? v.i8(x) : v.i16(x);
        const yd = y.dtype === 'int8' ? v.i8(y) : v.i16(y);
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
