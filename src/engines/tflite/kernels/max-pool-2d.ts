import type { Kernel } from './kernel.js';
import { preparePool } from './pooling-common.js';

/** MAX_POOL_2D: maximum over each window's in-image elements. */
export const maxPool2d: Kernel = {
  name: 'MAX_POOL_2D',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare: (node) => preparePool(node, 'max'),
};
