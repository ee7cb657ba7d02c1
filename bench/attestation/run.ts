// Benchmark of the attestation layer, with anchors measured in the same run:
// 1. DCAP quote verifications per second (sim-dcap quotes, and Intel's real SGX quote at a time
//    inside its collateral window), against raw ECDSA P-256 verifications per second (one quote
//    verification performs about ten signature checks plus X.509 and JSON parsing).
// 2. The latency of a TLS handshake on 127.0.0.1 with RA-TLS peer verification (server only, and
//    mutual) against a plain TLS 1.3 handshake with the same certificates and no verification.
//
//   npx tsx bench/attestation/run.ts [--seconds 1] [--handshakes 200]
//   npm run build && node dist/bench/attestation/run.js
import { createSign, createVerify, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { parseCollateral, parseTcbInfo } from '../../src/attestation/collateral.js';
import { verifyDcapQuote } from '../../src/attestation/dcap.js';
import { INTEL_SGX_ROOT_CA_DER } from '../../src/attestation/intel-root.js';
import {
  attestTlsPeer,
  attestedClientOptions,
  attestedServerOptions,
  createAttestedCredentials,
  type PeerCheck,
} from '../../src/attestation/ra-tls.js';
import { SimDcapAuthority } from '../../src/attestation/sim-dcap.js';
import { SHARED_DATA } from '../../test/support/paths.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    handshakes: { type: 'string', default: '200' },
  },
});
const SECONDS = Number(values.seconds);
const HANDSHAKES = Number(values.handshakes);
const HOST = '127.0.0.1';

/** Runs `fn` repeatedly for about `seconds`; returns operations per second. */
function perSecond(fn: () => void, seconds: number): number {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    fn();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const dir = mkdtempSync(join(tmpdir(), 'semirt-bench-attest-'));
try {
  const authority = await SimDcapAuthority.create(join(dir, 'authority'));
  const measurement = 'ab'.repeat(32);

  // --- 1. Quote verification throughput ---
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const message = Buffer.alloc(432, 7);
  const signature = createSign('sha256').update(message).sign(privateKey);
  const ecdsaRate = perSecond(() => {
    createVerify('sha256').update(message).verify(publicKey, signature);
  }, SECONDS);

  const simQuote = await authority.attester({ measurement }).attest(new Uint8Array(64));
  const simRoot = new X509Certificate(authority.rootDer);
  const now = new Date();
  const simRate = perSecond(() => {
    verifyDcapQuote(simQuote, authority.collateral, { root: simRoot, now });
  }, SECONDS);

  // Quotes of distinct attesters (fresh attestation keys, so fresh QE reports): what a verifier
  // sees from new peers, with only the platform's collateral and PCK chain already checked.
  const freshQuotes = await Promise.all(
    Array.from({ length: 400 }, () =>
      authority.attester({ measurement }).attest(new Uint8Array(64)),
    ),
  );
  let next = 0;
  const freshStart = performance.now();
  for (const quote of freshQuotes) {
    verifyDcapQuote(quote, authority.collateral, { root: simRoot, now });
    next++;
  }
  const freshRate = next / ((performance.now() - freshStart) / 1000);

  const vectors = join(SHARED_DATA, 'attestation', 'phala-dcap-qvl');
  const realQuote = readFileSync(join(vectors, 'sgx_quote'));
  const realCollateral = parseCollateral(
    JSON.parse(readFileSync(join(vectors, 'sgx_quote_collateral.json'), 'utf8')),
  );
  const info = parseTcbInfo(realCollateral.tcb_info);
  const pinned = new Date((info.issueDate.getTime() + info.nextUpdate.getTime()) / 2);
  const intelRoot = new X509Certificate(INTEL_SGX_ROOT_CA_DER);
  const realRate = perSecond(() => {
    verifyDcapQuote(realQuote, realCollateral, { root: intelRoot, now: pinned });
  }, SECONDS);

  console.log('Quote verification (single thread)');
  console.log(`  anchor: ECDSA P-256 verify       ${ecdsaRate.toFixed(0).padStart(8)} /s`);
  console.log(
    `  sim-dcap, the same quote again   ${simRate.toFixed(0).padStart(8)} /s  (${(ecdsaRate / simRate).toFixed(1)} ECDSA verifies each)`,
  );
  console.log(
    `  sim-dcap, a new attester each     ${freshRate.toFixed(0).padStart(8)} /s  (${(ecdsaRate / freshRate).toFixed(1)} ECDSA verifies each)`,
  );
  console.log(
    `  Intel SGX quote (real vector)    ${realRate.toFixed(0).padStart(8)} /s  (${(ecdsaRate / realRate).toFixed(1)} ECDSA verifies each)`,
  );

  // --- 2. Handshake latency ---
  const serverCreds = await createAttestedCredentials(authority.attester({ measurement }));
  const clientCreds = await createAttestedCredentials(authority.attester({ measurement }));
  const check: PeerCheck = {
    verifiers: [authority.verifier()],
    policy: {
      allowedMeasurements: [measurement],
      acceptedTcbStatuses: ['UpToDate'],
      allowDebug: false,
    },
  };

  async function handshakes(mode: 'plain' | 'server' | 'mutual'): Promise<number[]> {
    const server = createServer(
      attestedServerOptions(serverCreds, { requireClientCert: mode === 'mutual' }),
      (socket) => {
        const reply = (): void => {
          socket.end('ok');
        };
        if (mode === 'mutual') attestTlsPeer(socket, check).then(reply, () => undefined);
        else reply();
      },
    );
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const { port } = server.address() as AddressInfo;
    const times: number[] = [];
    try {
      for (let i = 0; i < HANDSHAKES + 10; i++) {
        const start = performance.now();
        await new Promise<void>((resolve, reject) => {
          const socket: TLSSocket = connect({
            host: HOST,
            port,
            ...attestedClientOptions(mode === 'mutual' ? clientCreds : undefined),
          });
          socket.once('error', reject);
          socket.once('secureConnect', () => {
            const done = (): void => {
              socket.once('data', () => {
                socket.destroy();
                resolve();
              });
            };
            if (mode === 'plain') done();
            else attestTlsPeer(socket, check).then(done, reject);
          });
        });
        if (i >= 10) times.push(performance.now() - start);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    return times.sort((a, b) => a - b);
  }

  const plain = await handshakes('plain');
  const server = await handshakes('server');
  const mutual = await handshakes('mutual');
  const row = (name: string, t: number[]): void => {
    const p50 = percentile(t, 50);
    console.log(
      `  ${name.padEnd(32)} p50 ${p50.toFixed(2).padStart(6)} ms  p99 ${percentile(t, 99).toFixed(2).padStart(6)} ms  ` +
        `(+${(p50 - percentile(plain, 50)).toFixed(2)} ms, ${(p50 / percentile(plain, 50)).toFixed(2)}x plain)`,
    );
  };
  console.log(
    `\nTLS 1.3 connection to first byte on ${HOST}, ${HANDSHAKES} sequential connections`,
  );
  row('anchor: plain TLS (no check)', plain);
  row('RA-TLS, server attested', server);
  row('RA-TLS, mutual', mutual);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
