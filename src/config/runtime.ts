import { choiceSetting, intSetting, pick } from './parse.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Validated, fully defaulted options of `semirt runtime`. */
export interface RuntimeOptions {
  readonly host: string;
  readonly port: number;
  /** `__OW_ALLOW_CONCURRENT=true`: overlapping /run requests are served, not refused. */
  readonly allowConcurrent: boolean;
  /** Largest accepted request body; the Node.js runtime's limit is 48 MB. */
  readonly maxBodyBytes: number;
  /** How long SIGTERM waits for in-flight activations before exiting anyway. */
  readonly drainTimeoutMs: number;
  readonly logLevel: LogLevel;
}

/** Flags of `semirt runtime` as commander hands them over (all strings). */
export interface RuntimeFlags {
  readonly host?: string;
  readonly port?: string;
  readonly maxBodyMb?: string;
  readonly drainTimeout?: string;
  readonly logLevel?: string;
}

/** Reads runtime options from flags, then environment variables, then defaults. */
export function runtimeOptions(
  flags: RuntimeFlags,
  env: NodeJS.ProcessEnv = process.env,
): RuntimeOptions {
  return {
    host: pick(flags.host, env, { flag: '--host', env: 'SEMIRT_HOST' })?.value ?? '0.0.0.0',
    port: intSetting(
      flags.port,
      env,
      { flag: '--port', env: 'PORT' },
      { min: 0, max: 65535, fallback: 8080 },
    ),
    // The Node.js runtime compares case-insensitively with "true"; "1" does not enable it.
    allowConcurrent: env['__OW_ALLOW_CONCURRENT']?.toLowerCase() === 'true',
    maxBodyBytes:
      intSetting(
        flags.maxBodyMb,
        env,
        { flag: '--max-body-mb', env: 'SEMIRT_MAX_BODY_MB' },
        { min: 1, max: 1024, fallback: 48 },
      ) *
      1024 *
      1024,
    drainTimeoutMs:
      intSetting(
        flags.drainTimeout,
        env,
        { flag: '--drain-timeout', env: 'SEMIRT_DRAIN_TIMEOUT' },
        { min: 0, max: 3600, fallback: 300 },
      ) * 1000,
    logLevel: choiceSetting(
      flags.logLevel,
      env,
      { flag: '--log-level', env: 'SEMIRT_LOG_LEVEL' },
      LOG_LEVELS,
      'warn',
    ),
  };
}
