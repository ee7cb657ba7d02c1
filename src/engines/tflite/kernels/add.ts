import type { Kernel } from './kernel.js';
import { prepareAddSub } from './add-sub-common.js';

/** ADD with broadcasting. */
export const add: Kernel = {
  name: 'ADD',
  versions: [1, 5],
  types: ['float32', 'int32', 'int8', 'int16'],
  prepare: (node) => prepareAddSub(node, 1),
};
