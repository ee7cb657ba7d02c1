import { LOG_LEVELS, type LogLevel } from './runtime.js';
import {
  attestationConfig,
  tcbStatusesSetting,
  type AttestationConfig,
  type AttestationFlags,
  type TcbStatus,
} from './attestation.js';
import { choiceSetting, intSetting, pick } from './parse.js';
import { SemirtError } from '../errors.js';

/** Validated, fully defaulted options of `semirt keyservice`. */
export interface KeyServiceConfig {
  readonly host: string;
  readonly clientPort: number;
  readonly workerPort: number;
  /** The SQLite database file. */
  readonly dbPath: string;
  /** The sealing key file (base64 of 32 bytes), created on first start when missing. */
  readonly sealingKeyFile: string;
  /** Accept SeSeMI's counter-less, fixed-IV requests (replayable; off by default). */
  readonly sesemiCompat: boolean;
  readonly maxConnections: number;
  readonly maxClientBodyBytes: number;
  readonly maxWorkerBodyBytes: number;
  readonly logLevel: LogLevel;
  /** How the KeyService attests itself (RA-TLS on both listeners) and verifies runtimes. */
  readonly attestation: AttestationConfig;
  /** TCB statuses accepted in runtimes' evidence. */
  readonly workerTcbStatuses: readonly TcbStatus[];
}

/** Flags of `semirt keyservice` as commander hands them over. */
export interface KeyServiceFlags extends AttestationFlags {
  readonly host?: string;
  readonly clientPort?: string;
  readonly workerPort?: string;
  readonly db?: string;
  readonly sealingKeyFile?: string;
  readonly sesemiCompat?: boolean;
  readonly maxConnections?: string;
  readonly maxClientBodyKb?: string;
  readonly maxWorkerBodyKb?: string;
  readonly logLevel?: string;
  readonly acceptTcbStatuses?: string;
}

/** Reads KeyService options from flags, then environment variables, then defaults. */
export function keyServiceOptions(
  flags: KeyServiceFlags,
  env: NodeJS.ProcessEnv = process.env,
): KeyServiceConfig {
  const dbPath =
    pick(flags.db, env, { flag: '--db', env: 'SEMIRT_KEYSERVICE_DB' })?.value ?? 'keyservice.db';
  const port = (
    flag: string,
    variable: string,
    fallback: number,
    value: string | undefined,
  ): number => intSetting(value, env, { flag, env: variable }, { min: 0, max: 65535, fallback });
  const compatEnv = env['SEMIRT_KEYSERVICE_SESEMI_COMPAT'];
  if (
    compatEnv !== undefined &&
    compatEnv !== '' &&
    !['true', 'false'].includes(compatEnv.toLowerCase())
  ) {
    throw new SemirtError(
      'INVALID_OPTION',
      `Invalid SEMIRT_KEYSERVICE_SESEMI_COMPAT "${compatEnv}": expected true or false`,
    );
  }
  return {
    host:
      pick(flags.host, env, { flag: '--host', env: 'SEMIRT_KEYSERVICE_HOST' })?.value ?? '0.0.0.0',
    clientPort: port('--client-port', 'SEMIRT_KEYSERVICE_CLIENT_PORT', 13570, flags.clientPort),
    workerPort: port('--worker-port', 'SEMIRT_KEYSERVICE_WORKER_PORT', 13571, flags.workerPort),
    dbPath,
    sealingKeyFile:
      pick(flags.sealingKeyFile, env, {
        flag: '--sealing-key-file',
        env: 'SEMIRT_KEYSERVICE_SEALING_KEY_FILE',
      })?.value ?? `${dbPath}.sealing-key`,
    sesemiCompat: flags.sesemiCompat === true || compatEnv?.toLowerCase() === 'true',
    maxConnections: intSetting(
      flags.maxConnections,
      env,
      { flag: '--max-connections', env: 'SEMIRT_KEYSERVICE_MAX_CONNECTIONS' },
      { min: 1, max: 100_000, fallback: 1024 },
    ),
    maxClientBodyBytes:
      intSetting(
        flags.maxClientBodyKb,
        env,
        { flag: '--max-client-body-kb', env: 'SEMIRT_KEYSERVICE_MAX_CLIENT_BODY_KB' },
        { min: 1, max: 1024, fallback: 64 },
      ) * 1024,
    maxWorkerBodyBytes:
      intSetting(
        flags.maxWorkerBodyKb,
        env,
        { flag: '--max-worker-body-kb', env: 'SEMIRT_KEYSERVICE_MAX_WORKER_BODY_KB' },
        { min: 1, max: 1024, fallback: 4 },
      ) * 1024,
    logLevel: choiceSetting(
      flags.logLevel,
      env,
      { flag: '--log-level', env: 'SEMIRT_LOG_LEVEL' },
      LOG_LEVELS,
      'info',
    ),
    attestation: attestationConfig(flags, env),
    workerTcbStatuses: tcbStatusesSetting(flags.acceptTcbStatuses, env),
  };
}
