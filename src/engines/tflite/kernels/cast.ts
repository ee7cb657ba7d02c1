import type { DType } from '../../engine.js';
import { expectArity, expectType, fail, input, output, type Kernel } from './kernel.js';

const NUMERIC: readonly DType[] = ['float32', 'int8', 'uint8', 'int16', 'int32', 'bool'];

/** CAST between numeric types: C conversions (truncation toward zero; bool is x != 0). */
export const cast: Kernel = {
  name: 'CAST',
  versions: [1, 1],
  types: ['float32', 'int8', 'uint8', 'int16', 'int32', 'bool'],
  prepare(node) {
    expectArity(node, [1, 1], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    expectType(node, x, 'input', NUMERIC);
    expectType(node, y, 'output', NUMERIC);
    if (x.elements !== y.elements) fail(node, 'input and output sizes differ');
    const n = x.elements;
    const toBool = y.dtype === 'bool';
    return {
      scratchBytes: 0,
      bind(v) {
        const read = (t: typeof x): ArrayLike<number> =>
          t.dtype === 'float32'
            ? v.f32(t)
            : t.dtype === 'int8'
              ? v.i8(t)
              : t.dtype === 'int16'
                ? v.i16(t)
                : t.dtype === 'int32'
                  ? v.i32(t)
                  : v.u8(t);
        const xd = read(x);
        const yd = read(y) as { [i: number]: number };
        return () => {
          // Typed-array stores wrap out-of-range integers; C leaves them undefined.
          for (let i = 0; i < n; i++) yd[i] = toBool ? (xd[i] !== 0 ? 1 : 0) : Math.trunc(xd[i]!);
        };
      },
    };
  },
};
