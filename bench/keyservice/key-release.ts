// Benchmark of the KeyService's worker key release, with a plain-TLS anchor measured in the same
// run. Prints, for a fresh connection per request (full TLS handshake: sessions are never resumed)
// and for a kept-alive connection, the latency of one release (p50/p99), then requests/s at
// concurrency 1 and 32 on kept-alive connections, each with its ratio to the anchor.
//
// Both sides are attested as in deployment, with sim-dcap: RA-TLS certificates carrying sim-dcap
// quotes, fully DCAP-verified on both sides of every new connection (WorkerKeyClient and the
// KeyService's worker listener). The anchor is an HTTPS server with the same certificate that
// answers the same reply bytes, reached by a plain HTTPS client: no client certificate, no
// verification, no database or sealing — the floor for any key release over TLS on this machine.
//
//   npx tsx bench/keyservice/key-release.ts [--requests 300] [--duration 3]
//   npm run build && node dist/bench/keyservice/key-release.js
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent as HttpsAgent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSimAttestation } from '../../test/support/keyservice.js';
import { userIdOf } from '../../src/crypto/id-key.js';
import { Sealer } from '../../src/crypto/seal.js';
import { silentLogger } from '../../src/log/logger.js';
import { WorkerKeyClient } from '../../src/keyservice/client.js';
import { startKeyServiceServer } from '../../src/keyservice/server.js';
import { KeyService } from '../../src/keyservice/service.js';
import { KeyStore } from '../../src/keyservice/store.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    duration: { type: 'string', default: '3' },
  },
});
const REQUESTS = Number(values.requests);
const DURATION_MS = Number(values.duration) * 1000;
const MEASUREMENT = 'cd'.repeat(32);
const KEYSERVICE_MEASUREMENT = 'ef'.repeat(32);

const dir = mkdtempSync(join(tmpdir(), 'semirt-bench-ks-'));
const logger = silentLogger();
const sim = await createSimAttestation(dir);
const ksIdentity = await sim.credentials(KEYSERVICE_MEASUREMENT);
const workerIdentity = await sim.credentials(MEASUREMENT);

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
  workerCheck: sim.check(),
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

/** One way of fetching keys: the attested WorkerKeyClient, or the anchor's plain HTTPS client. */
interface Fetcher {
  fetch(): Promise<unknown>;
  close(): void;
}

function keyServiceFetcher(keepAlive: boolean): Fetcher {
  const c = new WorkerKeyClient({
    endpoint: { host: '127.0.0.1', port: keyService.workerPort },
    credentials: workerIdentity,
    ...sim.check([KEYSERVICE_MEASUREMENT]),
    keepAlive,
  });
  return {
    fetch: () => c.fetchKeys(userId, modelId),
    close: () => {
      c.close();
    },
  };
}

function anchorFetcher(keepAlive: boolean): Fetcher {
  const agent = new HttpsAgent({ keepAlive, rejectUnauthorized: false, maxCachedSessions: 0 });
  const body = JSON.stringify({ user_id: userId, model_id: modelId });
  const fetch = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: anchorPort, method: 'POST', path: '/', agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return {
    fetch,
    close: () => {
      agent.destroy();
    },
  };
}

function client(isKs: boolean, keepAlive: boolean): Fetcher {
  return isKs ? keyServiceFetcher(keepAlive) : anchorFetcher(keepAlive);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Times `count` sequential releases on one client (after a short warm-up). */
async function timeReleases(isKs: boolean, keepAlive: boolean, count: number): Promise<number[]> {
  const c = client(isKs, keepAlive);
  try {
    for (let i = 0; i < 5; i++) await c.fetch();
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      await c.fetch();
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
      const times = await timeReleases(isKs, keepAlive, count);
      (isKs ? ks : anchorTimes).push(...times);
    }
  }
  const sort = (a: number[]): number[] => a.sort((x, y) => x - y);
  return { ks: sort(ks), anchor: sort(anchorTimes) };
}

async function throughput(
  isKs: boolean,
  concurrency: number,
  durationMs: number,
): Promise<{ count: number; seconds: number }> {
  const c = client(isKs, true);
  try {
    for (let i = 0; i < concurrency; i++) await c.fetch();
    let count = 0;
    const end = Date.now() + durationMs;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) {
          await c.fetch();
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
        const { count, seconds } = await throughput(side === 'ks', concurrency, DURATION_MS / 2);
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
  `\nattestation: sim-dcap on both sides; ${REQUESTS} sequential requests per latency row; ${DURATION_MS / 1000} s per throughput row; client and servers share this process.`,
);
