/**
 * Test support: a KeyService process for the kill -9 test (src/keyservice/store.crash.test.ts).
 * Reads its configuration from the JSON file named by argv[2], serves until killed, and prints the
 * client port as one JSON line once listening. It lives here, not in src/, so it never ships.
 */
import { readFileSync } from 'node:fs';
import { SimDcapAuthority } from '../../src/attestation/sim-dcap.js';
import { Sealer } from '../../src/crypto/seal.js';
import { silentLogger } from '../../src/log/logger.js';
import { startKeyServiceServer } from '../../src/keyservice/server.js';
import { KeyService } from '../../src/keyservice/service.js';
import { KeyStore } from '../../src/keyservice/store.js';

interface CrashChildConfig {
  readonly dbPath: string;
  readonly sealingKey: string;
  /** The sim-dcap authority folder that checks workers. */
  readonly simDir: string;
  /** The KeyService's RA-TLS credentials (PEM). */
  readonly key: string;
  readonly cert: string;
}

const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as CrashChildConfig;
const authority = await SimDcapAuthority.load(config.simDir);
const store = KeyStore.open(config.dbPath, new Sealer(Buffer.from(config.sealingKey, 'base64')));
const logger = silentLogger();
const running = await startKeyServiceServer(
  new KeyService(store, { sesemiCompat: false, logger }),
  {
    host: '127.0.0.1',
    clientPort: 0,
    workerPort: 0,
    credentials: { key: config.key, cert: config.cert },
    workerCheck: {
      verifiers: [authority.verifier()],
      policy: { acceptedTcbStatuses: ['UpToDate'], allowDebug: false },
    },
    maxClientBodyBytes: 64 * 1024,
    maxWorkerBodyBytes: 4096,
    maxConnections: 256,
    logger,
  },
);
process.stdout.write(`${JSON.stringify({ clientPort: running.clientPort })}\n`);
