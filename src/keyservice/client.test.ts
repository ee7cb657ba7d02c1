import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSimAttestation, type SimAttestation } from '../../test/support/keyservice.js';
import { isSemirtError } from '../errors.js';
import { userIdOf } from '../crypto/id-key.js';
import { Sealer } from '../crypto/seal.js';
import { silentLogger } from '../log/logger.js';
import { WorkerKeyClient } from './client.js';
import { startKeyServiceServer, type RunningKeyService } from './server.js';
import { KeyService } from './service.js';
import { KeyStore } from './store.js';

// WorkerKeyClient against a real KeyService on loopback, both sides attested with sim-dcap.

const KEYSERVICE = '22'.repeat(32);
const GRANTED = '11'.repeat(32);
const OTHER = '33'.repeat(32);

const dir = mkdtempSync(join(tmpdir(), 'semirt-worker-client-'));
let sim: SimAttestation;
let store: KeyStore;
let running: RunningKeyService;
const user = randomBytes(16);
const userId = userIdOf(user);
const owner = randomBytes(16);
const modelId = `${userIdOf(owner)}-net`;
const modelKey = randomBytes(32);
const requestKey = randomBytes(16);

before(async () => {
  sim = await createSimAttestation(dir);
  store = KeyStore.open(join(dir, 'ks.db'), new Sealer(randomBytes(32)));
  store.addUser(userIdOf(owner), owner);
  store.addUser(userId, user);
  store.putModelKey(modelId, modelKey);
  store.addGrant(modelId, GRANTED, userId);
  store.putRequestKey(modelId, GRANTED, userId, requestKey);
  const logger = silentLogger();
  running = await startKeyServiceServer(new KeyService(store, { sesemiCompat: false, logger }), {
    host: '127.0.0.1',
    clientPort: 0,
    workerPort: 0,
    credentials: await sim.credentials(KEYSERVICE),
    workerCheck: sim.check(),
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

/** A runtime's client attested with `measurement`, expecting the KeyService's `expected`. */
async function runtimeClient(
  measurement: string,
  options: {
    port?: number;
    expected?: string;
    timeoutMs?: number;
    attestation?: SimAttestation;
  } = {},
): Promise<WorkerKeyClient> {
  const attestation = options.attestation ?? sim;
  return new WorkerKeyClient({
    endpoint: { host: '127.0.0.1', port: options.port ?? running.workerPort },
    credentials: await attestation.credentials(measurement),
    ...sim.check([options.expected ?? KEYSERVICE]),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
}

async function using<T>(client: WorkerKeyClient, use: (c: WorkerKeyClient) => Promise<T>) {
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

describe('WorkerKeyClient with sim-dcap on both sides', () => {
  it('fetchKeys() gets the input and model keys for a runtime whose measurement is granted', async () => {
    await using(await runtimeClient(GRANTED), async (client) => {
      const keys = await client.fetchKeys(userId, modelId);
      assert.deepEqual(keys.inputKey, requestKey);
      assert.deepEqual(keys.modelKey, modelKey);
    });
  });

  it('fetchKeys() is denied (KEYSERVICE_DENIED) for a runtime attested with another measurement', async () => {
    await using(await runtimeClient(OTHER), async (client) => {
      await assert.rejects(
        client.fetchKeys(userId, modelId),
        (e) => isSemirtError(e, 'KEYSERVICE_DENIED') && e.message.includes(OTHER),
      );
    });
  });

  it('fetchKeys() is denied, naming the failed check, when the KeyService refuses the runtime attestation', async () => {
    const elsewhere = await createSimAttestation(join(dir, 'elsewhere'));
    await using(await runtimeClient(GRANTED, { attestation: elsewhere }), async (client) => {
      await assert.rejects(
        client.fetchKeys(userId, modelId),
        (e) => isSemirtError(e, 'KEYSERVICE_DENIED') && /Cannot trust the worker/.test(e.message),
      );
    });
  });

  it('fetchKeys() rejects (KEYSERVICE_PEER_REJECTED) a KeyService with an unexpected measurement', async () => {
    await using(await runtimeClient(GRANTED, { expected: OTHER }), async (client) => {
      await assert.rejects(client.fetchKeys(userId, modelId), (e) => {
        assert.ok(isSemirtError(e, 'KEYSERVICE_PEER_REJECTED'), String(e));
        assert.ok(isSemirtError(e.cause, 'POLICY_MEASUREMENT'));
        return true;
      });
    });
  });
});

/**
 * A TCP relay in front of the worker port that can reset connections at chosen moments. A reset
 * of a kept-alive connection just as a request is sent cannot be caused deterministically
 * otherwise; the TLS sessions still run end to end between the real client and server.
 */
class ResettingRelay {
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  readonly #doomed = new Set<Socket>();
  #resetNew = false;
  connections = 0;

  constructor(targetPort: number) {
    this.#server = createServer((inbound) => {
      this.connections++;
      inbound.on('error', () => undefined);
      if (this.#resetNew) {
        inbound.resetAndDestroy();
        return;
      }
      const outbound = connect(targetPort, '127.0.0.1');
      outbound.on('error', () => undefined);
      this.#open.add(inbound);
      inbound.once('close', () => {
        this.#open.delete(inbound);
        outbound.destroy();
      });
      outbound.once('close', () => inbound.destroy());
      inbound.on('data', (chunk: Buffer) => {
        if (this.#doomed.has(inbound)) {
          inbound.resetAndDestroy();
          return;
        }
        outbound.write(chunk);
      });
      outbound.pipe(inbound);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  /** Resets every connection open now when it next sends data; with `andNew`, new ones at once. */
  resetOpenConnections(andNew = false): void {
    for (const socket of this.#open) this.#doomed.add(socket);
    this.#resetNew = andNew;
  }

  close(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    return new Promise((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}

describe('WorkerKeyClient connection faults', () => {
  it('reuses a kept-alive connection and, when it was reset, retries once on a new connection', async () => {
    const relay = new ResettingRelay(running.workerPort);
    const port = await relay.listen();
    try {
      await using(await runtimeClient(GRANTED, { port }), async (client) => {
        await client.fetchKeys(userId, modelId);
        await client.fetchKeys(userId, modelId);
        assert.equal(relay.connections, 1, 'the second request reused the connection');
        relay.resetOpenConnections();
        assert.deepEqual((await client.fetchKeys(userId, modelId)).modelKey, modelKey);
        assert.equal(relay.connections, 2, 'the retry opened one new connection');
      });
    } finally {
      await relay.close();
    }
  });

  it('fails with KEYSERVICE_UNAVAILABLE when the retry on a new connection is reset too', async () => {
    const relay = new ResettingRelay(running.workerPort);
    const port = await relay.listen();
    try {
      await using(await runtimeClient(GRANTED, { port }), async (client) => {
        await client.fetchKeys(userId, modelId);
        relay.resetOpenConnections(true);
        await assert.rejects(
          client.fetchKeys(userId, modelId),
          (e) => isSemirtError(e, 'KEYSERVICE_UNAVAILABLE') && /reset twice/.test(e.message),
        );
        assert.equal(relay.connections, 2, 'exactly one retry');
      });
    } finally {
      await relay.close();
    }
  });

  it('fails with KEYSERVICE_UNAVAILABLE, without retrying, when the connection is refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await using(await runtimeClient(GRANTED, { port }), async (client) => {
      await assert.rejects(
        client.fetchKeys(userId, modelId),
        (e) => isSemirtError(e, 'KEYSERVICE_UNAVAILABLE') && /ECONNREFUSED/.test(e.message),
      );
    });
  });

  it('fails with KEYSERVICE_UNAVAILABLE when the KeyService does not answer within timeoutMs', async () => {
    // Accepts connections and never speaks: the TLS handshake never completes.
    const held = new Set<Socket>();
    const silent = createServer((socket) => {
      held.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      await using(await runtimeClient(GRANTED, { port, timeoutMs: 200 }), async (client) => {
        await assert.rejects(
          client.fetchKeys(userId, modelId),
          (e) =>
            isSemirtError(e, 'KEYSERVICE_UNAVAILABLE') && /no reply within 200 ms/.test(e.message),
        );
      });
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
