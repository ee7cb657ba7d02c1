import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { c as createTar } from 'tar';

/** Builds a gzipped tar archive of the given files with node-tar. */
export function tarGz(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'semirt-tar-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, 'src', name)), { recursive: true });
      writeFileSync(join(dir, 'src', name), content);
    }
    const file = join(dir, 'archive.tgz');
    createTar({ gzip: true, cwd: join(dir, 'src'), file, sync: true }, Object.keys(files));
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
