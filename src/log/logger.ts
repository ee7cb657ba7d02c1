import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/runtime.js';

export type { Logger };

/**
 * Creates the process logger: JSON lines on stderr, written synchronously so that they keep
 * their order relative to the activation sentinels the proxy writes. Never pass key bytes,
 * plaintext inputs or tokens to it.
 */
export function createLogger(level: LogLevel, name = 'semirt'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything (tests and embedded use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
