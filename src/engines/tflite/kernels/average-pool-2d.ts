import type { Kernel } from './kernel.js';
import { preparePool } from './pooling-common.js';

/** AVERAGE_POOL_2D: mean over each window's in-image elements. */
export const averagePool2d: Kernel = {
  name: 'AVERAGE_POOL_2D',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare: (node) => preparePool(node, 'average'),
};
