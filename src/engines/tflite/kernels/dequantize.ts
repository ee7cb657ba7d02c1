import {
  expectArity,
  expectType,
  fail,
  input,
  output,
  quantParams,
  type Kernel,
} from './kernel.js';

/** DEQUANTIZE: int8/int16 → float32 as scale·(q − zero point), computed in double then rounded. */
export const dequantize: Kernel = {
  name: 'DEQUANTIZE',
  versions: [1, 4],
  types: ['int8/int16 → float32'],
  prepare(node) {
    expectArity(node, [1, 1], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    expectType(node, x, 'input', ['int8', 'int16']);
    expectType(node, y, 'output', ['float32']);
    if (x.elements !== y.elements) fail(node, 'input and output sizes differ');
    const { scale, zeroPoint } = quantParams(node, x);
    const n = x.elements;
    return {
      scratchBytes: 0,
      bind(v) {
        const xd = x.dtype === 'int8' ? v.i8(x) : v.i16(x);
        const yd = v.f32(y);
        return () => {
          for (let i = 0; i < n; i++) yd[i] = scale * (xd[i]! - zeroPoint);
        };
      },
    };
  },
};
