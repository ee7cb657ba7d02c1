import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { unzipSync } from 'fflate';
import { x as untar } from 'tar';

export type ArchiveKind = 'zip' | 'tar.gz';

/** Detects an archive by its magic bytes, as the Node.js runtime does; undefined when unknown. */
export function detectArchive(bytes: Uint8Array): ArchiveKind | undefined {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)
    return 'zip';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 0x08) return 'tar.gz';
  return undefined;
}

/** Resolves an archive entry name inside `dir`, refusing absolute paths and `..` escapes. */
function entryPath(dir: string, name: string): string {
  const clean = normalize(name);
  if (isAbsolute(clean) || clean === '..' || clean.startsWith(`..${sep}`)) {
    throw new Error(`Archive entry "${name}" points outside the action folder`);
  }
  return join(dir, clean);
}

/** Extracts a zip or tar.gz archive into `dir`; entries that would escape `dir` are refused. */
export async function extractArchive(
  bytes: Uint8Array,
  kind: ArchiveKind,
  dir: string,
): Promise<void> {
  if (kind === 'zip') {
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(bytes);
    } catch (err) {
      throw new Error(`Cannot read the zip archive: ${(err as Error).message}`, { cause: err });
    }
    for (const [name, content] of Object.entries(entries)) {
      const path = entryPath(dir, name);
      if (name.endsWith('/')) {
        await mkdir(path, { recursive: true });
      } else {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, content);
      }
    }
    return;
  }
  // node-tar strips absolute paths and refuses `..` entries unless preservePaths is set.
  await pipeline(Readable.from([bytes]), untar({ cwd: dir, strict: true }));
}
