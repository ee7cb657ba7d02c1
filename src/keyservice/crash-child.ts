/**
 * Test support: a KeyService process for the kill -9 test (store.crash.test.ts). Reads its
 * configuration from the JSON file named by argv[2], serves until killed, and prints the client
 * port as one JSON line once listening.
 */
import { readFileSync } from 'node:fs';
import { Sealer } from '../crypto/seal.js';
import { silentLogger } from '../log/logger.js';
import { startKeyServiceServer } from './server.js';
import { KeyService } from './service.js';
import { KeyStore } from './store.js';
import { pinnedVerifier } from './pins.js';

interface CrashChildConfig {
  readonly dbPath: string;
  readonly sealingKey: string;
  readonly key: string;
  readonly cert: string;
}

const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as CrashChildConfig;
const store = KeyStore.open(config.dbPath, new Sealer(Buffer.from(config.sealingKey, 'base64')));
const logger = silentLogger();
const running = await startKeyServiceServer(
  new KeyService(store, { sesemiCompat: false, logger }),
  {
    host: '127.0.0.1',
    clientPort: 0,
    workerPort: 0,
    credentials: { key: config.key, cert: config.cert },
    verifyWorker: pinnedVerifier(new Map()),
    maxClientBodyBytes: 64 * 1024,
    maxWorkerBodyBytes: 4096,
    maxConnections: 256,
    logger,
  },
);
process.stdout.write(`${JSON.stringify({ clientPort: running.clientPort })}\n`);
