import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { SemirtError } from '../errors.js';
import {
  AAD_BYTES,
  ENVELOPE_OVERHEAD,
  IV_BYTES,
  TAG_BYTES,
  authFailure,
  gcmAlgorithm,
  splitEnvelope,
} from './envelope.js';

/** Called as bytes are processed, with the running count and the total. */
export type ProgressCallback = (done: number, total: number) => void;

const CHUNK_BYTES = 1 << 20;

/**
 * Encrypts a file into a binary envelope file, streaming (constant memory). The output appears
 * under its name only when complete (written beside it, synced, then renamed).
 */
export async function encryptFile(
  key: Uint8Array,
  source: string,
  destination: string,
  onProgress?: ProgressCallback,
): Promise<void> {
  const algorithm = gcmAlgorithm(key);
  const total = (await statFile(source)).size;
  const iv = randomBytes(IV_BYTES);
  const aad = Buffer.alloc(AAD_BYTES);
  const cipher = createCipheriv(algorithm, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  await writeAtomically(destination, async (out) => {
    let done = 0;
    for await (const chunk of createReadStream(source, { highWaterMark: CHUNK_BYTES })) {
      const bytes = chunk as Buffer;
      await out.write(cipher.update(bytes));
      done += bytes.length;
      onProgress?.(done, total);
    }
    await out.write(Buffer.concat([cipher.final(), iv, cipher.getAuthTag(), aad]));
  });
}

/**
 * Decrypts a binary envelope file, streaming. Plaintext goes to a temporary file that is
 * renamed into place only after the tag verified, and deleted otherwise.
 */
export async function decryptFile(
  key: Uint8Array,
  source: string,
  destination: string,
  onProgress?: ProgressCallback,
): Promise<void> {
  const algorithm = gcmAlgorithm(key);
  const size = (await statFile(source)).size;
  const trailer = Buffer.alloc(Math.min(size, ENVELOPE_OVERHEAD));
  const input = await open(source, 'r');
  try {
    await input.read(trailer, 0, trailer.length, size - trailer.length);
  } finally {
    await input.close();
  }
  const { iv, tag, aad } = splitEnvelope(trailer);
  const decipher = createDecipheriv(algorithm, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  decipher.setAAD(aad);
  const total = size - ENVELOPE_OVERHEAD;
  await writeAtomically(destination, async (out) => {
    let done = 0;
    if (total > 0) {
      const stream = createReadStream(source, {
        start: 0,
        end: total - 1,
        highWaterMark: CHUNK_BYTES,
      });
      for await (const chunk of stream) {
        const bytes = chunk as Buffer;
        await out.write(decipher.update(bytes));
        done += bytes.length;
        onProgress?.(done, total);
      }
    }
    let last: Buffer;
    try {
      last = decipher.final();
    } catch (cause) {
      throw authFailure(cause);
    }
    await out.write(last);
  });
}

async function statFile(path: string): Promise<{ size: number }> {
  try {
    return await stat(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new SemirtError('INVALID_OPTION', `Cannot read file "${path}": ${code}`, { cause });
  }
}

type FileHandle = Awaited<ReturnType<typeof open>>;

/** Writes a file beside its destination and renames it into place only if `fill` succeeds. */
async function writeAtomically(
  destination: string,
  fill: (out: FileHandle) => Promise<void>,
): Promise<void> {
  const temporary = `${destination}.partial-${randomBytes(6).toString('hex')}`;
  const out = await open(temporary, 'wx', 0o600);
  try {
    await fill(out);
    await out.sync();
  } catch (error) {
    await out.close();
    await unlink(temporary);
    throw error;
  }
  await out.close();
  await rename(temporary, destination);
}
