import { prepareSigmoidLike } from './activation-common.js';
import type { Kernel } from './kernel.js';

/** LOGISTIC: 1 / (1 + e^−x). */
export const logistic: Kernel = {
  name: 'LOGISTIC',
  versions: [1, 3],
  types: ['float32', 'int8', 'int16'],
  prepare: (node) => prepareSigmoidLike(node, 'logistic'),
};
