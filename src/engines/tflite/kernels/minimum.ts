import type { Kernel } from './kernel.js';
import { prepareMinMax } from './minmax-common.js';

/** MINIMUM with broadcasting. */
export const minimum: Kernel = {
  name: 'MINIMUM',
  versions: [1, 4],
  types: ['float32', 'int32', 'int8', 'int16'],
  prepare: (node) => prepareMinMax(node, (p, q) => (p < q ? p : q)),
};
