import {
  constantInts,
  expectArity,
  expectShape,
  fail,
  input,
  output,
  type Kernel,
} from './kernel.js';
import { elementSize, gatherCopy, stridesOf } from './shape-walk.js';

/** TRANSPOSE by a constant permutation. */
export const transpose: Kernel = {
  name: 'TRANSPOSE',
  versions: [1, 6],
  types: ['any'],
  prepare(node) {
    expectArity(node, [2, 2], 1);
    const x = input(node, 0);
    const y = output(node, 0);
    if (x.dtype !== y.dtype) fail(node, 'input and output types differ');
    const perm = constantInts(node, input(node, 1));
    const rank = x.shape.length;
    if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
      fail(node, `permutation [${perm.join(', ')}] is invalid for rank ${rank}`);
    }
    expectShape(
      node,
      y,
      'output',
      perm.map((p) => x.shape[p]!),
    );
    const srcStrides = stridesOf(x.shape);
    const total = y.elements;
    const index = new Int32Array(total);
    const coord = new Array<number>(rank).fill(0);
    for (let n = 0; n < total; n++) {
      let src = 0;
      for (let i = 0; i < rank; i++) src += coord[i]! * srcStrides[perm[i]!]!;
      index[n] = src;
      for (let i = rank - 1; i >= 0; i--) {
        coord[i] = coord[i]! + 1;
        if (coord[i]! < y.shape[i]!) break;
        coord[i] = 0;
      }
    }
    const size = elementSize(x.dtype);
    return {
      scratchBytes: 0,
      bind(v) {
        const xb = v.bytes(x);
        const yb = v.bytes(y);
        return () => {
          gatherCopy(xb, yb, index, size);
        };
      },
    };
  },
};
