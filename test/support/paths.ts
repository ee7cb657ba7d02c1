import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';

/** The repository root (the folder of semirt's package.json), from sources or from dist/. */
export const REPO_ROOT = packageRoot();

/** The shared data folder beside the repository (`../shared/data`), present on CI too. */
export const SHARED_DATA = join(REPO_ROOT, '..', 'shared', 'data');
