import { attestationOptions } from '../attestation-options.js';
import { processAttestation } from '../../attestation/process-attestation.js';
import type { Command } from 'commander';
import { createAttestedCredentials } from '../../attestation/ra-tls.js';
import { keyServiceOptions, type KeyServiceFlags } from '../../config/keyservice.js';
import { Sealer, readSealingKeyFile } from '../../crypto/seal.js';
import { createLogger } from '../../log/logger.js';
import { startKeyServiceServer } from '../../keyservice/server.js';
import { KeyService } from '../../keyservice/service.js';
import { KeyStore } from '../../keyservice/store.js';
import { exitOnSignals } from '../signals.js';
import { toolAction } from '../tooling.js';

/** `semirt keyservice`: the KeyService (client port 13570, worker port 13571). */
export function registerKeyService(program: Command): void {
  const command = program
    .command('keyservice')
    .description('Start the KeyService: releases model and request keys only to granted runtimes')
    .option('--host <host>', 'interface to listen on (env SEMIRT_KEYSERVICE_HOST; default all)')
    .option(
      '--client-port <port>',
      "owners' and users' port (env SEMIRT_KEYSERVICE_CLIENT_PORT; default 13570)",
    )
    .option(
      '--worker-port <port>',
      "runtimes' port, mutually attested TLS (env SEMIRT_KEYSERVICE_WORKER_PORT; default 13571)",
    )
    .option('--db <file>', 'SQLite database (env SEMIRT_KEYSERVICE_DB; default keyservice.db)')
    .option(
      '--sealing-key-file <file>',
      'sealing key, created if missing; keep it off the database volume (env SEMIRT_KEYSERVICE_SEALING_KEY_FILE; default <db>.sealing-key)',
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
    );
  attestationOptions(command, true).action(
    toolAction(async (flags: KeyServiceFlags) => {
      const config = keyServiceOptions(flags);
      const logger = createLogger(config.logLevel, 'semirt-keyservice');
      // No measurement is listed for runtimes: any attested runtime may ask, and the owners'
      // grants decide which verified measurements get keys.
      const attestation = await processAttestation(config.attestation, 'keyservice', {
        acceptedTcbStatuses: config.workerTcbStatuses,
        allowDebug: false,
      });
      const measurement = attestation.simMeasurement;
      const credentials = await createAttestedCredentials(attestation.attester);
      logger.info(
        { mode: attestation.mode, attester: attestation.attester.scheme, measurement },
        'KeyService attested',
      );
      if (attestation.mode === 'simulation')
        logger.warn('simulation mode: sim-dcap evidence proves nothing about hardware');
      const store = KeyStore.open(
        config.dbPath,
        new Sealer(readSealingKeyFile(config.sealingKeyFile, true)),
      );
      const running = await startKeyServiceServer(
        new KeyService(store, { sesemiCompat: config.sesemiCompat, logger }),
        {
          ...config,
          credentials,
          workerCheck: { verifiers: attestation.verifiers, policy: attestation.policy },
          logger,
        },
      );
      if (config.sesemiCompat)
        logger.warn('SeSeMI compatibility mode: counter-less requests can be replayed');
      exitOnSignals(logger, async () => {
        await running.close();
        store.close();
        return { drained: true };
      });
    }),
  );
}
