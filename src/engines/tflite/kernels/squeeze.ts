import { prepareCopy } from './copy-common.js';
import type { Kernel } from './kernel.js';

/** SQUEEZE: drops size-1 dimensions (a copy under static shapes). */
export const squeeze: Kernel = {
  name: 'SQUEEZE',
  versions: [1, 1],
  types: ['any'],
  prepare: prepareCopy,
};
