import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { createAttestedCredentials, verifyAttestedPeer } from '../attestation/ra-tls.js';
import { SimDcapAuthority } from '../attestation/sim-dcap.js';
import type { Policy } from '../attestation/types.js';
import { isSemirtError } from '../errors.js';
import { userIdOf } from '../crypto/id-key.js';
import { Sealer } from '../crypto/seal.js';
import { silentLogger } from '../log/logger.js';
import { KeyServiceClient, WorkerKeyClient } from './client.js';
import { REQUEST_TYPES } from './messages.js';
import type { VerifyPeer } from './peer.js';
import { startKeyServiceServer, type RunningKeyService } from './server.js';
import { KeyService } from './service.js';
import { KeyStore } from './store.js';

// The real attestation layer (sim-dcap evidence in RA-TLS certificates) plugged into the
// KeyService's seams: the measurement that drives the access check comes from verified evidence.

const KEYSERVICE = '22'.repeat(32);
const RUNTIME_A = '11'.repeat(32);
const RUNTIME_B = '33'.repeat(32);

const dir = mkdtempSync(join(tmpdir(), 'semirt-ks-attested-'));
let authority: SimDcapAuthority;
let store: KeyStore;
let running: RunningKeyService;

function verifier(allowedMeasurements?: readonly string[]): VerifyPeer {
  const policy: Policy = {
    acceptedTcbStatuses: ['UpToDate'],
    allowDebug: false,
    ...(allowedMeasurements === undefined ? {} : { allowedMeasurements }),
  };
  return (cert) => verifyAttestedPeer(cert, [authority.verifier()], policy);
}

before(async () => {
  authority = await SimDcapAuthority.create(join(dir, 'authority'));
  store = KeyStore.open(join(dir, 'ks.db'), new Sealer(randomBytes(32)));
  const logger = silentLogger();
  running = await startKeyServiceServer(new KeyService(store, { sesemiCompat: false, logger }), {
    host: '127.0.0.1',
    clientPort: 0,
    workerPort: 0,
    credentials: await createAttestedCredentials(authority.attester({ measurement: KEYSERVICE })),
    // Any runtime measurement may connect; the grants decide which ones get keys.
    verifyWorker: verifier(),
    maxClientBodyBytes: 65536,
    maxWorkerBodyBytes: 4096,
    maxConnections: 16,
    logger,
  });
});

after(async () => {
  await running.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

it('KeyService over sim-dcap RA-TLS releases keys only to the runtime whose evidence carries the granted measurement', async () => {
  const client = new KeyServiceClient({
    endpoint: { host: '127.0.0.1', port: running.clientPort },
    verifyServer: verifier([KEYSERVICE]),
  });
  const owner = randomBytes(16);
  const user = randomBytes(16);
  const modelId = `${userIdOf(owner)}-attested`;
  const modelKey = randomBytes(16);
  try {
    await client.register(owner);
    await client.register(user);
    await client.send(owner, { type: REQUEST_TYPES.UPSERT_MODEL_KEY, modelId, modelKey });
    await client.send(owner, {
      type: REQUEST_TYPES.GRANT_MODEL_ACCESS,
      modelId,
      measurement: RUNTIME_A,
      userId: userIdOf(user),
    });
    await client.send(user, {
      type: REQUEST_TYPES.ADD_REQUEST_KEY,
      modelId,
      measurement: RUNTIME_A,
      requestKey: user,
    });
  } finally {
    client.close();
  }
  const worker = async (measurement: string): Promise<WorkerKeyClient> =>
    new WorkerKeyClient({
      endpoint: { host: '127.0.0.1', port: running.workerPort },
      credentials: await createAttestedCredentials(authority.attester({ measurement })),
      verifyServer: verifier([KEYSERVICE]),
    });
  const granted = await worker(RUNTIME_A);
  const other = await worker(RUNTIME_B);
  try {
    assert.deepEqual((await granted.fetchKeys(userIdOf(user), modelId)).modelKey, modelKey);
    await assert.rejects(
      other.fetchKeys(userIdOf(user), modelId),
      (e) => isSemirtError(e, 'KEYSERVICE_DENIED') && e.message.includes(RUNTIME_B),
    );
  } finally {
    granted.close();
    other.close();
  }
  const wrongKeyService = new KeyServiceClient({
    endpoint: { host: '127.0.0.1', port: running.clientPort },
    verifyServer: verifier([RUNTIME_A]),
  });
  try {
    await assert.rejects(wrongKeyService.register(randomBytes(16)), (e) =>
      isSemirtError(e, 'KEYSERVICE_PEER_REJECTED'),
    );
  } finally {
    wrongKeyService.close();
  }
});
