// Benchmark of the KeyService's worker key release, with a plain-TLS anchor measured in the same
// run. Prints, for a fresh connection per request (full TLS handshake: sessions are never resumed)
// and for a kept-alive connection, the latency of one release (p50/p99), then requests/s at
// concurrency 1 and 32 on kept-alive connections, each with its ratio to the anchor.
//
// The anchor is an HTTPS server with the same certificate that answers the same reply without
// client certificates, peer verification, database or sealing: the floor for any key release
// over TLS on this machine. Peers are verified either by the attestation layer (--verifier
// sim-dcap, the default: RA-TLS certificates carrying sim-dcap quotes, fully DCAP-verified on both
// sides of every new connection) or by certificate pinning (--verifier pinned, no attestation).
//
//   npx tsx bench/keyservice/key-release.ts [--verifier sim-dcap|pinned] [--requests 300] [--duration 3]
//   npm run build && node dist/bench/keyservice/key-release.js
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAttestedCredentials, verifyAttestedPeer } from '../../src/attestation/ra-tls.js';
import { SimDcapAuthority } from '../../src/attestation/sim-dcap.js';
import { userIdOf } from '../../src/crypto/id-key.js';
import { Sealer } from '../../src/crypto/seal.js';
import { silentLogger } from '../../src/log/logger.js';
import { WorkerKeyClient } from '../../src/keyservice/client.js';
import type { TlsCredentials, VerifyPeer } from '../../src/keyservice/peer.js';
import { pinnedVerifier } from '../../src/keyservice/pins.js';
import { startKeyServiceServer } from '../../src/keyservice/server.js';
import { KeyService } from '../../src/keyservice/service.js';
import { KeyStore } from '../../src/keyservice/store.js';
import { createTestIdentity } from '../../src/keyservice/testing.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    duration: { type: 'string', default: '3' },
    verifier: { type: 'string', default: 'sim-dcap' },
  },
});
if (values.verifier !== 'sim-dcap' && values.verifier !== 'pinned') {
  throw new Error(`--verifier must be sim-dcap or pinned, got "${values.verifier}"`);
}
const REQUESTS = Number(values.requests);
const DURATION_MS = Number(values.duration) * 1000;
const MEASUREMENT = 'cd'.repeat(32);
const KEYSERVICE_MEASUREMENT = 'ef'.repeat(32);

const dir = mkdtempSync(join(tmpdir(), 'semirt-bench-ks-'));
const logger = silentLogger();

/** Both parties' credentials and checks, attested (sim-dcap) or pinned. */
async function identities(): Promise<{
  ks: TlsCredentials;
  worker: TlsCredentials;
  verifyWorker: VerifyPeer;
  verifyServer: VerifyPeer;
}> {
  if (values.verifier === 'pinned') {
    const [ks, worker] = await Promise.all([
      createTestIdentity('keyservice'),
      createTestIdentity('worker'),
    ]);
    return {
      ks,
      worker,
      verifyWorker: pinnedVerifier(new Map([[worker.fingerprint, MEASUREMENT]])),
      verifyServer: pinnedVerifier(new Map([[ks.fingerprint, KEYSERVICE_MEASUREMENT]])),
    };
  }
  const authority = await SimDcapAuthority.create(join(dir, 'authority'));
  const check =
    (allowedMeasurements?: readonly string[]): VerifyPeer =>
    (cert) =>
      verifyAttestedPeer(cert, [authority.verifier()], {
        acceptedTcbStatuses: ['UpToDate'],
        allowDebug: false,
        ...(allowedMeasurements === undefined ? {} : { allowedMeasurements }),
      });
  return {
    ks: await createAttestedCredentials(
      authority.attester({ measurement: KEYSERVICE_MEASUREMENT }),
    ),
    worker: await createAttestedCredentials(authority.attester({ measurement: MEASUREMENT })),
    verifyWorker: check(),
    verifyServer: check([KEYSERVICE_MEASUREMENT]),
  };
}
const { ks: ksIdentity, worker: workerIdentity, verifyWorker, verifyServer } = await identities();

// The KeyService with one owner, one model, one granted user.
const store = KeyStore.open(join(dir, 'bench.db'), new Sealer(randomBytes(32)));
const service = new KeyService(store, { sesemiCompat: false, logger });
const owner = randomBytes(16);
const user = randomBytes(16);
const ownerId = userIdOf(owner);
const userId = userIdOf(user);
const modelId = `${ownerId}-bench`;
store.addUser(ownerId, owner);
store.addUser(userId, user);
store.putModelKey(modelId, randomBytes(16));
store.addGrant(modelId, MEASUREMENT, userId);
store.putRequestKey(modelId, MEASUREMENT, userId, randomBytes(16));
const keyService = await startKeyServiceServer(service, {
  host: '127.0.0.1',
  clientPort: 0,
  workerPort: 0,
  credentials: ksIdentity,
  verifyWorker,
  maxClientBodyBytes: 65536,
  maxWorkerBodyBytes: 4096,
  maxConnections: 1024,
  logger,
});

// The anchor: same certificate, same reply bytes, nothing else.
const reply = JSON.stringify(
  service.handleWorker({ user_id: userId, model_id: modelId }, MEASUREMENT).body,
);
const anchor = createServer(
  { key: ksIdentity.key, cert: ksIdentity.cert, keepAliveTimeout: 60_000 },
  (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(reply),
      });
      res.end(reply);
    });
  },
);
await new Promise<void>((resolve) => anchor.listen(0, '127.0.0.1', resolve));
const anchorPort = (anchor.address() as AddressInfo).port;

// Plain TLS: the anchor's client accepts the certificate without looking at it.
const acceptAny: VerifyPeer = () => Promise.resolve({ measurement: KEYSERVICE_MEASUREMENT });

function client(port: number, keepAlive: boolean, maxSockets: number): WorkerKeyClient {
  return new WorkerKeyClient({
    endpoint: { host: '127.0.0.1', port },
    credentials: workerIdentity,
    verifyServer: port === anchorPort ? acceptAny : verifyServer,
    keepAlive,
    maxSockets,
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Times `count` sequential releases on one client (after a short warm-up). */
async function timeReleases(port: number, keepAlive: boolean, count: number): Promise<number[]> {
  const c = client(port, keepAlive, 1);
  try {
    for (let i = 0; i < 5; i++) await c.fetchKeys(userId, modelId);
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      await c.fetchKeys(userId, modelId);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return times;
  } finally {
    c.close();
  }
}

/**
 * Latency percentiles of the KeyService and the anchor, measured in alternating blocks so that
 * load from elsewhere on the machine and JIT warm-up weigh on both sides alike.
 */
async function latencies(keepAlive: boolean): Promise<{ ks: number[]; anchor: number[] }> {
  const ks: number[] = [];
  const anchorTimes: number[] = [];
  const blocks = 6;
  for (let block = 0; block < blocks; block++) {
    const count = Math.ceil(REQUESTS / blocks);
    const order = block % 2 === 0 ? [true, false] : [false, true];
    for (const isKs of order) {
      const times = await timeReleases(isKs ? keyService.workerPort : anchorPort, keepAlive, count);
      (isKs ? ks : anchorTimes).push(...times);
    }
  }
  const sort = (a: number[]): number[] => a.sort((x, y) => x - y);
  return { ks: sort(ks), anchor: sort(anchorTimes) };
}

async function throughput(
  port: number,
  concurrency: number,
  durationMs: number,
): Promise<{ count: number; seconds: number }> {
  const c = client(port, true, concurrency);
  try {
    for (let i = 0; i < concurrency; i++) await c.fetchKeys(userId, modelId);
    let count = 0;
    const end = Date.now() + durationMs;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) {
          await c.fetchKeys(userId, modelId);
          count++;
        }
      }),
    );
    return { count, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  } finally {
    c.close();
  }
}

const rows: string[][] = [['measure', 'KeyService', 'plain-TLS anchor', 'ratio']];
const fmt = (n: number, digits = 2): string => n.toFixed(digits);
try {
  for (const keepAlive of [false, true]) {
    const label = keepAlive ? 'kept-alive' : 'new connection';
    const { ks, anchor: base } = await latencies(keepAlive);
    for (const p of [50, 99]) {
      const [k, b] = [percentile(ks, p), percentile(base, p)];
      rows.push([`${label} p${p} ms`, fmt(k), fmt(b), fmt(k / b)]);
    }
  }
  for (const concurrency of [1, 32]) {
    // Two alternating halves per side, for the same reason as the latency blocks.
    const totals = { ks: { count: 0, seconds: 0 }, anchor: { count: 0, seconds: 0 } };
    for (const order of [
      ['ks', 'anchor'],
      ['anchor', 'ks'],
    ] as const) {
      for (const side of order) {
        const port = side === 'ks' ? keyService.workerPort : anchorPort;
        const { count, seconds } = await throughput(port, concurrency, DURATION_MS / 2);
        totals[side].count += count;
        totals[side].seconds += seconds;
      }
    }
    const ks = totals.ks.count / totals.ks.seconds;
    const base = totals.anchor.count / totals.anchor.seconds;
    rows.push([`req/s at concurrency ${concurrency}`, fmt(ks, 0), fmt(base, 0), fmt(ks / base)]);
  }
} finally {
  await keyService.close();
  await new Promise<void>((resolve) => {
    anchor.close(() => {
      resolve();
    });
    anchor.closeAllConnections();
  });
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
console.log(
  `\nverifier: ${values.verifier}; ${REQUESTS} sequential requests per latency row; ${DURATION_MS / 1000} s per throughput row; client and servers share this process.`,
);
