import type { Kernel } from './kernel.js';
import { prepareFloatUnary } from './unary-common.js';

/** HARD_SWISH: x · relu6(x + 3) / 6. */
export const hardSwish: Kernel = {
  name: 'HARD_SWISH',
  versions: [1, 1],
  types: ['float32'],
  prepare: (node) =>
    prepareFloatUnary(node, (x) => {
      const r = Math.fround(x + 3);
      return Math.fround(Math.fround(x * (r > 0 ? (r < 6 ? r : 6) : 0)) / 6);
    }),
};
