import { createHash, randomBytes } from 'node:crypto';
import { gcmAlgorithm } from './envelope.js';

/** Draws a new AES key (an id key, a model key or a request key): 16 or 32 random bytes. */
export function createAesKey(bytes: 16 | 32 = 16): Buffer {
  return randomBytes(bytes);
}

/** The user id SeSeMI derives from an id key: lower-case hex SHA-256 of the key bytes. */
export function userIdOf(idKey: Uint8Array): string {
  gcmAlgorithm(idKey, 'id key');
  return createHash('sha256').update(idKey).digest('hex');
}
