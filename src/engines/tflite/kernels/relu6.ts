import type { Kernel } from './kernel.js';
import { prepareFloatUnary } from './unary-common.js';

/** RELU6: min(max(x, 0), 6). */
export const relu6: Kernel = {
  name: 'RELU6',
  versions: [1, 1],
  types: ['float32'],
  prepare: (node) => prepareFloatUnary(node, (x) => (x > 0 ? (x < 6 ? x : 6) : 0)),
};
