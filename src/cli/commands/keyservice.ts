import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  keyServiceOptions,
  type KeyServiceConfig,
  type KeyServiceFlags,
} from '../../config/keyservice.js';
import { SemirtError } from '../../errors.js';
import { Sealer, readSealingKeyFile } from '../../crypto/seal.js';
import { createLogger } from '../../log/logger.js';
import type { TlsCredentials, VerifyPeer } from '../../keyservice/peer.js';
import { pinnedVerifier, readPinsFile } from '../../keyservice/pins.js';
import { startKeyServiceServer } from '../../keyservice/server.js';
import { KeyService } from '../../keyservice/service.js';
import { KeyStore } from '../../keyservice/store.js';
import { exitOnSignals } from '../signals.js';

function readPem(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new SemirtError('INVALID_OPTION', `Cannot read ${flag} "${path}": ${code}`, { cause });
  }
}

/**
 * The KeyService's identity and its check of workers. Today: a certificate from files and pinned
 * worker certificates. Attestation integration replaces exactly this function:
 * createAttestedCredentials(attester) and verifyAttestedPeer(cert, verifiers, policy).
 */
function identity(config: KeyServiceConfig): {
  credentials: TlsCredentials;
  verifyWorker: VerifyPeer;
} {
  return {
    credentials: {
      cert: readPem(config.tlsCertFile, '--tls-cert'),
      key: readPem(config.tlsKeyFile, '--tls-key'),
    },
    verifyWorker: pinnedVerifier(readPinsFile(config.workerPinsFile)),
  };
}

/** `semirt keyservice`: the KeyService (client port 13570, worker port 13571). */
export function registerKeyService(program: Command): void {
  program
    .command('keyservice')
    .description('Start the KeyService: releases model and request keys only to granted runtimes')
    .option('--host <host>', 'interface to listen on (env SEMIRT_KEYSERVICE_HOST; default all)')
    .option(
      '--client-port <port>',
      "owners' and users' port (env SEMIRT_KEYSERVICE_CLIENT_PORT; default 13570)",
    )
    .option(
      '--worker-port <port>',
      "runtimes' port, mutual TLS (env SEMIRT_KEYSERVICE_WORKER_PORT; default 13571)",
    )
    .option('--db <file>', 'SQLite database (env SEMIRT_KEYSERVICE_DB; default keyservice.db)')
    .option(
      '--sealing-key-file <file>',
      'sealing key, created if missing; keep it off the database volume (env SEMIRT_KEYSERVICE_SEALING_KEY_FILE; default <db>.sealing-key)',
    )
    .option('--tls-cert <file>', 'the KeyService certificate, PEM (env SEMIRT_KEYSERVICE_TLS_CERT)')
    .option('--tls-key <file>', 'its private key, PEM (env SEMIRT_KEYSERVICE_TLS_KEY)')
    .option(
      '--worker-pins <file>',
      'JSON {"<cert sha256>": "<measurement>"} of accepted runtime certificates (env SEMIRT_KEYSERVICE_WORKER_PINS)',
    )
    .option(
      '--sesemi-compat',
      "also accept SeSeMI's counter-less, fixed-IV requests (env SEMIRT_KEYSERVICE_SESEMI_COMPAT=true)",
    )
    .option(
      '--max-connections <n>',
      'connections per listener (env SEMIRT_KEYSERVICE_MAX_CONNECTIONS; default 1024)',
    )
    .option(
      '--max-client-body-kb <kb>',
      'client request limit (env SEMIRT_KEYSERVICE_MAX_CLIENT_BODY_KB; default 64)',
    )
    .option(
      '--max-worker-body-kb <kb>',
      'worker request limit (env SEMIRT_KEYSERVICE_MAX_WORKER_BODY_KB; default 4)',
    )
    .option(
      '--log-level <level>',
      'fatal|error|warn|info|debug|trace|silent (env SEMIRT_LOG_LEVEL; default info)',
    )
    .action(async (flags: KeyServiceFlags) => {
      const config = keyServiceOptions(flags);
      const logger = createLogger(config.logLevel, 'semirt-keyservice');
      const { credentials, verifyWorker } = identity(config);
      const store = KeyStore.open(
        config.dbPath,
        new Sealer(readSealingKeyFile(config.sealingKeyFile, true)),
      );
      const running = await startKeyServiceServer(
        new KeyService(store, { sesemiCompat: config.sesemiCompat, logger }),
        { ...config, credentials, verifyWorker, logger },
      );
      if (config.sesemiCompat)
        logger.warn('SeSeMI compatibility mode: counter-less requests can be replayed');
      exitOnSignals(logger, async () => {
        await running.close();
        store.close();
        return { drained: true };
      });
    });
}
