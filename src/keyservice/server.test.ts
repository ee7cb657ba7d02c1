import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSimAttestation, type SimAttestation } from '../../test/support/keyservice.js';
import { SHARED_DATA } from '../../test/support/paths.js';
import type { AttestedCredentials, PeerCheck } from '../attestation/ra-tls.js';
import { isSemirtError } from '../errors.js';
import { encryptEnvelope } from '../crypto/envelope.js';
import { userIdOf } from '../crypto/id-key.js';
import { Sealer } from '../crypto/seal.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { KeyServiceClient, WorkerKeyClient, type Endpoint } from './client.js';
import { REQUEST_TYPES } from './messages.js';
import { startKeyServiceServer, type RunningKeyService } from './server.js';
import { KeyService } from './service.js';
import { KeyStore } from './store.js';

// Every party holds sim-dcap RA-TLS credentials: the KeyService and the runtimes verify each
// other's quotes with the production verifier, and the access check uses the verified measurement.

const EXAMPLES = join(SHARED_DATA, 'sesemi-examples');
const SESEMI_KEY = Buffer.from('H4ZqO2W2ruqtVzRT0QOMAQ==', 'base64');
const SESEMI_USER = userIdOf(SESEMI_KEY);
const SESEMI_MEASUREMENT = '89be6ad515c32baea88e319ffe23ead9a83760960dae33119162dedbd1ac232c';
const MEASUREMENT_A = 'aa'.repeat(32);
const MEASUREMENT_B = 'bb'.repeat(32);
const KEYSERVICE_MEASUREMENT = 'ee'.repeat(32);

const dir = mkdtempSync(join(tmpdir(), 'semirt-keyservice-'));
let sim: SimAttestation;
let keyService: AttestedCredentials;
let workerA: AttestedCredentials;
let workerB: AttestedCredentials;
let stranger: AttestedCredentials;
/** What runtimes and clients check the KeyService against. */
let keyServiceCheck: PeerCheck;

before(async () => {
  sim = await createSimAttestation(dir);
  keyService = await sim.credentials(KEYSERVICE_MEASUREMENT);
  workerA = await sim.credentials(MEASUREMENT_A);
  workerB = await sim.credentials(MEASUREMENT_B);
  stranger = await sim.credentials(SESEMI_MEASUREMENT);
  keyServiceCheck = sim.check([KEYSERVICE_MEASUREMENT]);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  readonly store: KeyStore;
  readonly running: RunningKeyService;
  readonly clientEndpoint: Endpoint;
  readonly workerEndpoint: Endpoint;
  client(): KeyServiceClient;
  worker(identity: AttestedCredentials): WorkerKeyClient;
  close(): Promise<void>;
}

const sealingKey = randomBytes(32);

async function startHarness(
  dbName: string,
  sesemiCompat: boolean,
  logger: Logger = silentLogger(),
): Promise<Harness> {
  const store = KeyStore.open(join(dir, dbName), new Sealer(sealingKey));
  const running = await startKeyServiceServer(new KeyService(store, { sesemiCompat, logger }), {
    host: '127.0.0.1',
    clientPort: 0,
    workerPort: 0,
    credentials: keyService,
    // Any runtime that attests may connect; grants decide which measurements get keys.
    workerCheck: sim.check(),
    maxClientBodyBytes: 64 * 1024,
    maxWorkerBodyBytes: 4096,
    maxConnections: 64,
    logger,
  });
  const opened: { close(): void }[] = [];
  const clientEndpoint = { host: '127.0.0.1', port: running.clientPort };
  const workerEndpoint = { host: '127.0.0.1', port: running.workerPort };
  return {
    store,
    running,
    clientEndpoint,
    workerEndpoint,
    client() {
      const c = new KeyServiceClient({ endpoint: clientEndpoint, ...keyServiceCheck });
      opened.push(c);
      return c;
    },
    worker(identity) {
      const w = new WorkerKeyClient({
        endpoint: workerEndpoint,
        credentials: identity,
        ...keyServiceCheck,
      });
      opened.push(w);
      return w;
    },
    async close() {
      for (const c of opened) c.close();
      await running.close();
      store.close();
    },
  };
}

/** Posts a raw body (any bytes) to a listener without verifying it; returns status and JSON. */
function rawPost(
  endpoint: Endpoint,
  body: string | Buffer,
  identity?: AttestedCredentials,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...endpoint,
        method: 'POST',
        path: '/',
        rejectUnauthorized: false,
        agent: false,
        ...(identity === undefined ? {} : { key: identity.key, cert: identity.cert }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function readExample(path: string): unknown {
  return JSON.parse(readFileSync(join(EXAMPLES, path), 'utf8'));
}

/** An owner with a model key, and a user granted on MEASUREMENT_A with a request key. */
async function setUpModel(h: Harness) {
  const owner = randomBytes(16);
  const user = randomBytes(32);
  const ownerId = userIdOf(owner);
  const userId = userIdOf(user);
  const modelId = `${ownerId}-net`;
  const modelKey = randomBytes(16);
  const requestKey = randomBytes(16);
  const client = h.client();
  await client.register(owner);
  await client.register(user);
  await client.send(owner, { type: REQUEST_TYPES.UPSERT_MODEL_KEY, modelId, modelKey });
  await client.send(owner, {
    type: REQUEST_TYPES.GRANT_MODEL_ACCESS,
    modelId,
    measurement: MEASUREMENT_A,
    userId,
  });
  await client.send(user, {
    type: REQUEST_TYPES.ADD_REQUEST_KEY,
    modelId,
    measurement: MEASUREMENT_A,
    requestKey,
  });
  return { owner, user, ownerId, userId, modelId, modelKey, requestKey, client };
}

describe('KeyService over HTTPS', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness('main.db', false);
  });
  after(() => h.close());

  it('round-trips register, upsert, grant, add-request-key and releases both keys to the granted worker', async () => {
    const m = await setUpModel(h);
    const keys = await h.worker(workerA).fetchKeys(m.userId, m.modelId);
    assert.deepEqual(keys.modelKey, m.modelKey);
    assert.deepEqual(keys.inputKey, m.requestKey);
  });

  it('keeps serving a kept-alive worker connection across requests', async () => {
    const m = await setUpModel(h);
    const worker = h.worker(workerA);
    for (let i = 0; i < 5; i++) {
      assert.deepEqual((await worker.fetchKeys(m.userId, m.modelId)).modelKey, m.modelKey);
    }
  });

  it('verifies every new connection when keep-alive is off (no TLS session resumption)', async () => {
    const m = await setUpModel(h);
    const worker = new WorkerKeyClient({
      endpoint: h.workerEndpoint,
      credentials: workerA,
      ...keyServiceCheck,
      keepAlive: false,
    });
    try {
      for (let i = 0; i < 3; i++) {
        assert.deepEqual((await worker.fetchKeys(m.userId, m.modelId)).inputKey, m.requestKey);
      }
    } finally {
      worker.close();
    }
  });

  it('refuses a worker whose verified measurement is not granted', async () => {
    const m = await setUpModel(h);
    await assert.rejects(
      h.worker(workerB).fetchKeys(m.userId, m.modelId),
      (e) => isSemirtError(e, 'KEYSERVICE_DENIED') && /not in access list/.test(e.message),
    );
  });

  it('refuses a user who was not granted', async () => {
    const m = await setUpModel(h);
    const other = randomBytes(16);
    await m.client.register(other);
    await assert.rejects(h.worker(workerA).fetchKeys(userIdOf(other), m.modelId), (e) =>
      isSemirtError(e, 'KEYSERVICE_DENIED'),
    );
  });

  it('refuses a revoked grant, and a replay of the grant after the revoke', async () => {
    const m = await setUpModel(h);
    const grant = m.client.build(m.owner, {
      type: REQUEST_TYPES.GRANT_MODEL_ACCESS,
      modelId: m.modelId,
      measurement: MEASUREMENT_B,
      userId: m.userId,
    });
    await m.client.sendRaw(grant);
    await m.client.send(m.owner, {
      type: REQUEST_TYPES.REVOKE_MODEL_ACCESS,
      modelId: m.modelId,
      measurement: MEASUREMENT_A,
      userId: m.userId,
    });
    await assert.rejects(
      h.worker(workerA).fetchKeys(m.userId, m.modelId),
      (e) => isSemirtError(e, 'KEYSERVICE_DENIED') && /not in access list/.test(e.message),
    );
    // The revoke carried a later counter, so replaying the earlier grant is refused.
    await m.client.send(m.owner, {
      type: REQUEST_TYPES.REVOKE_MODEL_ACCESS,
      modelId: m.modelId,
      measurement: MEASUREMENT_B,
      userId: m.userId,
    });
    await assert.rejects(
      m.client.sendRaw(grant),
      (e) =>
        isSemirtError(e, 'KEYSERVICE_BAD_REQUEST') && /Replayed or stale request/.test(e.message),
    );
    assert.equal(h.store.hasGrant(m.modelId, MEASUREMENT_B, m.userId), false);
  });

  it('refuses an exact replay of an accepted request', async () => {
    const m = await setUpModel(h);
    const upsert = m.client.build(m.owner, {
      type: REQUEST_TYPES.UPSERT_MODEL_KEY,
      modelId: m.modelId,
      modelKey: randomBytes(16),
    });
    await m.client.sendRaw(upsert);
    await assert.rejects(m.client.sendRaw(upsert), (e) =>
      isSemirtError(e, 'KEYSERVICE_BAD_REQUEST'),
    );
  });

  it('refuses model keys and grants for a model id not prefixed by the owner id', async () => {
    const m = await setUpModel(h);
    const intruder = randomBytes(16);
    await m.client.register(intruder);
    for (const request of [
      { type: REQUEST_TYPES.UPSERT_MODEL_KEY, modelId: m.modelId, modelKey: randomBytes(16) },
      {
        type: REQUEST_TYPES.GRANT_MODEL_ACCESS,
        modelId: m.modelId,
        measurement: MEASUREMENT_A,
        userId: userIdOf(intruder),
      },
      {
        type: REQUEST_TYPES.REVOKE_MODEL_ACCESS,
        modelId: m.modelId,
        measurement: MEASUREMENT_A,
        userId: m.userId,
      },
    ] as const) {
      await assert.rejects(
        m.client.send(intruder, request),
        (e) => isSemirtError(e, 'KEYSERVICE_DENIED') && /not bound to the owner id/.test(e.message),
      );
    }
    assert.deepEqual((await h.worker(workerA).fetchKeys(m.userId, m.modelId)).modelKey, m.modelKey);
  });

  it('serves access lists of any length', async () => {
    const owner = randomBytes(16);
    const client = h.client();
    await client.register(owner);
    const modelId = `${userIdOf(owner)}-shared`;
    await client.send(owner, {
      type: REQUEST_TYPES.UPSERT_MODEL_KEY,
      modelId,
      modelKey: randomBytes(16),
    });
    const users = Array.from({ length: 40 }, () => randomBytes(16));
    for (const user of users) {
      await client.register(user);
      const userId = userIdOf(user);
      await client.send(owner, {
        type: REQUEST_TYPES.GRANT_MODEL_ACCESS,
        modelId,
        measurement: MEASUREMENT_A,
        userId,
      });
      await client.send(user, {
        type: REQUEST_TYPES.ADD_REQUEST_KEY,
        modelId,
        measurement: MEASUREMENT_A,
        requestKey: user,
      });
    }
    const worker = h.worker(workerA);
    for (const user of [users[0]!, users[19]!, users[39]!]) {
      assert.deepEqual((await worker.fetchKeys(userIdOf(user), modelId)).inputKey, user);
    }
  });

  it('answers bad input with {"success": false} and keeps serving', async () => {
    const registered = randomBytes(16);
    await h.client().register(registered);
    const id = userIdOf(registered);
    const validPayload = (key: Buffer) =>
      encryptEnvelope(
        key,
        Buffer.from(
          JSON.stringify({
            type: 2,
            counter: 1,
            model_id: `${id}-m`,
            decrypt_key: randomBytes(16).toString('base64'),
          }),
        ),
      ).toString('base64');
    const cases: [string, string | Buffer, number, RegExp][] = [
      ['malformed JSON', '{"type": 0,', 400, /not JSON/],
      ['a non-object', '[1, 2]', 400, /expected a JSON object/],
      ['unknown type', JSON.stringify({ type: 9, user_id: id, payload: '' }), 400, /unknown type/],
      [
        'absurd id length',
        JSON.stringify({ type: 2, user_id: 'a'.repeat(100_000), payload: 'AAAA' }),
        413,
        /exceeds/,
      ],
      [
        'long id',
        JSON.stringify({ type: 2, user_id: 'a'.repeat(5000), payload: 'AAAA' }),
        400,
        /64 hex digits .*got 5000 characters/,
      ],
      [
        'unregistered user',
        JSON.stringify({ type: 2, user_id: 'c'.repeat(64), payload: validPayload(registered) }),
        403,
        /not registered/,
      ],
      [
        'wrong key',
        JSON.stringify({ type: 2, user_id: id, payload: validPayload(randomBytes(16)) }),
        400,
        /Cannot decrypt payload/,
      ],
      [
        'truncated payload',
        JSON.stringify({ type: 2, user_id: id, payload: 'AAAA' }),
        400,
        /fewer than the 32-byte trailer/,
      ],
      ['bad base64', JSON.stringify({ type: 2, user_id: id, payload: '!!!!' }), 400, /base64/],
      [
        'duplicate registration',
        JSON.stringify({ type: 0, user_id: registered.toString('base64') }),
        403,
        /already taken/,
      ],
      [
        'register with a short key',
        JSON.stringify({ type: 0, user_id: 'AAAA' }),
        400,
        /16- or 32-byte/,
      ],
      ['oversized body', Buffer.alloc(200_000, 0x20), 413, /exceeds the limit of 65536 bytes/],
    ];
    for (const [what, body, status, pattern] of cases) {
      const { status: got, json } = await rawPost(h.clientEndpoint, body);
      assert.equal(json['success'], false, what);
      assert.equal(got, status, what);
      assert.match(json['reply'] as string, pattern, what);
      // The reply never echoes key material (a plain substring check: base64 has regex metacharacters).
      assert.ok(
        !(json['reply'] as string).includes(registered.toString('base64').slice(0, 12)),
        what,
      );
    }
    const fresh = randomBytes(16);
    assert.equal(await h.client().register(fresh), userIdOf(fresh));
  });

  it('refuses a worker without a certificate or whose quote chains to another root, naming the failed check', async () => {
    const noCert = await rawPost(
      h.workerEndpoint,
      JSON.stringify({ user_id: 'a'.repeat(64), model_id: 'm' }),
    );
    assert.equal(noCert.status, 403);
    assert.match(noCert.json['msg'] as string, /Cannot trust the worker: .*no certificate/);
    const elsewhere = await createSimAttestation(join(dir, 'other-authority'));
    const refused = await rawPost(
      h.workerEndpoint,
      '{',
      await elsewhere.credentials(MEASUREMENT_A),
    );
    assert.equal(refused.status, 403);
    assert.match(refused.json['msg'] as string, /Cannot trust the worker: .*root/i);
  });

  it('sends nothing to a KeyService whose certificate fails verification', async () => {
    const client = new KeyServiceClient({
      endpoint: h.clientEndpoint,
      // The KeyService's evidence names KEYSERVICE_MEASUREMENT, not this one.
      ...sim.check([MEASUREMENT_A]),
    });
    const idKey = randomBytes(16);
    try {
      await assert.rejects(client.register(idKey), (e) =>
        isSemirtError(e, 'KEYSERVICE_PEER_REJECTED'),
      );
    } finally {
      client.close();
    }
    assert.equal(h.store.getUser(userIdOf(idKey)), undefined);
  });

  it("refuses SeSeMI's counter-less, fixed-IV example requests outside compatibility mode", async () => {
    await h.client().sendRaw(readExample('register_req.json'));
    await assert.rejects(
      h.client().sendRaw(readExample('gen/up_model_key_req.json')),
      (e) => isSemirtError(e, 'KEYSERVICE_BAD_REQUEST') && /compatibility mode/.test(e.message),
    );
  });
});

describe('KeyService in SeSeMI compatibility mode', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness('compat.db', true);
  });
  after(() => h.close());

  it("accepts SeSeMI's example requests unchanged and releases their keys to the measurement they name", async () => {
    const client = h.client();
    for (const file of [
      'register_req.json',
      'gen/up_model_key_req.json',
      'gen/grant_model_access_req.json',
      'gen/add_request_key_req.json',
    ]) {
      assert.deepEqual(
        await client.sendRaw(readExample(file)),
        { success: true, reply: 'Request success' },
        file,
      );
    }
    // `stranger`'s sim-dcap evidence carries SeSeMI's example measurement.
    const keys = await h.worker(stranger).fetchKeys(SESEMI_USER, `${SESEMI_USER}-mobilenet1.0`);
    assert.deepEqual(keys.modelKey, SESEMI_KEY);
    assert.deepEqual(keys.inputKey, SESEMI_KEY);
    await assert.rejects(
      h.worker(workerA).fetchKeys(SESEMI_USER, `${SESEMI_USER}-mobilenet1.0`),
      (e) => isSemirtError(e, 'KEYSERVICE_DENIED'),
    );
  });

  it('refuses counter-less requests from a user once that user has sent a counter', async () => {
    const client = h.client();
    await client.send(SESEMI_KEY, {
      type: REQUEST_TYPES.REVOKE_MODEL_ACCESS,
      modelId: `${SESEMI_USER}-mobilenet1.0`,
      measurement: SESEMI_MEASUREMENT,
      userId: SESEMI_USER,
    });
    await assert.rejects(
      client.sendRaw(readExample('gen/grant_model_access_req.json')),
      (e) =>
        isSemirtError(e, 'KEYSERVICE_BAD_REQUEST') && /Replayed request refused/.test(e.message),
    );
    await assert.rejects(
      h.worker(stranger).fetchKeys(SESEMI_USER, `${SESEMI_USER}-mobilenet1.0`),
      (e) => isSemirtError(e, 'KEYSERVICE_DENIED'),
    );
  });
});

describe('KeyService restart', () => {
  it('keeps every acknowledged write across a restart, and refuses another sealing key', async () => {
    const first = await startHarness('restart.db', false);
    let m: Awaited<ReturnType<typeof setUpModel>>;
    try {
      m = await setUpModel(first);
    } finally {
      await first.close();
    }
    const second = await startHarness('restart.db', false);
    try {
      const keys = await second.worker(workerA).fetchKeys(m.userId, m.modelId);
      assert.deepEqual(keys.modelKey, m.modelKey);
      assert.deepEqual(keys.inputKey, m.requestKey);
    } finally {
      await second.close();
    }
    assert.throws(
      () => KeyStore.open(join(dir, 'restart.db'), new Sealer(randomBytes(32))),
      (e) => isSemirtError(e, 'SEALED_RECORD_INVALID'),
    );
  });
});

describe('KeyService logs', () => {
  it('name users, models and measurements but never keys, payloads or id keys', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const h = await startHarness('logs.db', false, pino({ level: 'trace' }, sink));
    let secrets: string[];
    try {
      const m = await setUpModel(h);
      await h.worker(workerA).fetchKeys(m.userId, m.modelId);
      await assert.rejects(h.worker(workerB).fetchKeys(m.userId, m.modelId));
      const bad = m.client.build(randomBytes(16), {
        type: REQUEST_TYPES.UPSERT_MODEL_KEY,
        modelId: m.modelId,
        modelKey: m.modelKey,
      });
      await assert.rejects(m.client.sendRaw({ ...bad, user_id: m.ownerId }));
      secrets = [m.owner, m.user, m.modelKey, m.requestKey].flatMap((k) => [
        k.toString('base64'),
        k.toString('hex'),
      ]);
      secrets.push(bad.payload.slice(0, 40));
    } finally {
      await h.close();
    }
    const log = lines.join('');
    assert.match(log, /keys released/);
    assert.match(log, /refused/);
    for (const secret of secrets) assert.equal(log.includes(secret), false);
  });
});
