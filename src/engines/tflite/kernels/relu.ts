import type { Kernel } from './kernel.js';
import { prepareFloatUnary } from './unary-common.js';

/** RELU: max(x, 0). */
export const relu: Kernel = {
  name: 'RELU',
  versions: [1, 1],
  types: ['float32'],
  prepare: (node) => prepareFloatUnary(node, (x) => (x > 0 ? x : 0)),
};
