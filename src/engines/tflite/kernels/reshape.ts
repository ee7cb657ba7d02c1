import { prepareCopy } from './copy-common.js';
import type { Kernel } from './kernel.js';

/** RESHAPE: the output shape is the one the model declares (static shapes). */
export const reshape: Kernel = {
  name: 'RESHAPE',
  versions: [1, 1],
  types: ['any'],
  prepare: prepareCopy,
};
