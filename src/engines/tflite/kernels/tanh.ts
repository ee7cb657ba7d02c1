import { prepareSigmoidLike } from './activation-common.js';
import type { Kernel } from './kernel.js';

/** TANH. */
export const tanh: Kernel = {
  name: 'TANH',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare: (node) => prepareSigmoidLike(node, 'tanh'),
};
