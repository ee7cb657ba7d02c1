import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder of semirt's package.json), from sources or from dist/. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (name === 'semirt') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('Cannot find the semirt repository root');
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot();

/** The shared data folder beside the repository (`../shared/data`), present on CI too. */
export const SHARED_DATA = join(REPO_ROOT, '..', 'shared', 'data');
