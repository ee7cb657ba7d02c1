import assert from 'node:assert/strict';
import { X509Certificate, createHash, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent as HttpsAgent, request, type RequestOptions } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer, TLSSocket } from 'node:tls';
import { Tag, decode, encode } from 'cbor2';
import { isSemirtError, type ErrorCode } from '../errors.js';
import { SHARED_DATA } from '../../test/support/paths.js';
import {
  AttestedAgent,
  AttestedHttpsServer,
  GRAMINE_LEGACY_QUOTE_OID,
  TCG_TAGGED_EVIDENCE_OID,
  attestedConnect,
  attestedServerOptions,
  createAttestedCredentials,
  getPeerEvidence,
  verifyAttestedPeer,
  type AttestedCredentials,
  type PeerCheck,
} from './ra-tls.js';
import { SimDcapAuthority } from './sim-dcap.js';
import type { Policy } from './types.js';
import {
  EC_P256,
  ECDSA_SHA256,
  generateP256,
  importPrivateKeyPem,
  privateKeyPem,
  x509,
} from './x509.js';

const HOST = '127.0.0.1';
const RUNTIME = '11'.repeat(32);
const KEYSERVICE = '22'.repeat(32);
const DAY_MS = 24 * 60 * 60 * 1000;

function policyFor(measurement: string): Policy {
  return {
    allowedMeasurements: [measurement],
    acceptedTcbStatuses: ['UpToDate'],
    allowDebug: false,
  };
}

function isCode(code: ErrorCode): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(isSemirtError(error), `expected a SemirtError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/** A self-signed certificate for a fresh key with one given extension (to forge peers). */
async function forgedCredentials(
  oid: string | undefined,
  value: Uint8Array,
): Promise<AttestedCredentials> {
  const keys = await generateP256();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=forged',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + DAY_MS),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: oid === undefined ? [] : [new x509.Extension(oid, false, value)],
  });
  return { key: await privateKeyPem(keys.privateKey), cert: cert.toString('pem') };
}

function evidenceOf(credentials: AttestedCredentials): Uint8Array {
  const ext = new x509.X509Certificate(credentials.cert).getExtension(TCG_TAGGED_EVIDENCE_OID);
  assert.ok(ext);
  return new Uint8Array(ext.value);
}

/** A plain TLS server presenting `credentials` (no client check); the client side does the checking. */
async function serve(
  credentials: AttestedCredentials,
): Promise<{ port: number; server: TlsServer }> {
  const server = createTlsServer(
    attestedServerOptions(credentials, { requireClientCert: false }),
    (socket) => {
      socket.end('hello');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

async function connectTo(credentials: AttestedCredentials, check: PeerCheck): Promise<void> {
  const { port, server } = await serve(credentials);
  try {
    const socket = await attestedConnect({ host: HOST, port, ...check });
    socket.destroy();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

function get(
  options: RequestOptions,
): Promise<{ status: number; body: string; serverMeasurement?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, path: '/', ...options }, (res) => {
      // Read now: a keep-alive socket leaves the response once it ends.
      const evidence = getPeerEvidence(res.socket);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          body,
          ...(evidence ? { serverMeasurement: evidence.measurement } : {}),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

let base: string;
let authority: SimDcapAuthority;
let runtimeCreds: AttestedCredentials;
let keyServiceCreds: AttestedCredentials;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'semirt-ratls-'));
  authority = await SimDcapAuthority.create(join(base, 'authority'));
  runtimeCreds = await createAttestedCredentials(authority.attester({ measurement: RUNTIME }));
  keyServiceCreds = await createAttestedCredentials(
    authority.attester({ measurement: KEYSERVICE }),
  );
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('mutually attested HTTPS on loopback', () => {
  test('accepts a sim-dcap peer with an allowed measurement in both directions', async () => {
    const server = new AttestedHttpsServer(
      {
        credentials: keyServiceCreds,
        requireClientCert: true,
        clientCheck: { verifiers: [authority.verifier()], policy: policyFor(RUNTIME) },
      },
      (req, res) => {
        res.end(getPeerEvidence(req.socket)?.measurement ?? 'none');
      },
    );
    const { port } = await server.listen(0, HOST);
    const agent = new AttestedAgent({
      credentials: runtimeCreds,
      verifiers: [authority.verifier()],
      policy: policyFor(KEYSERVICE),
      agent: { keepAlive: true },
    });
    try {
      const first = await get({ port, agent });
      const second = await get({ port, agent });
      assert.equal(first.body, RUNTIME, 'the server saw the client measurement');
      assert.equal(first.serverMeasurement, KEYSERVICE, 'the client saw the server measurement');
      assert.equal(second.body, RUNTIME);
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  test('the server refuses a client without certificate or with a wrong measurement before any request', async () => {
    let handled = 0;
    let refused: (error: unknown) => void = () => undefined;
    const server = new AttestedHttpsServer(
      {
        credentials: keyServiceCreds,
        requireClientCert: true,
        clientCheck: { verifiers: [authority.verifier()], policy: policyFor(RUNTIME) },
        onRefused: (error) => {
          refused(error);
        },
      },
      (_req, res) => {
        handled++;
        res.end('secret');
      },
    );
    const { port } = await server.listen(0, HOST);
    try {
      const anonymous = new Promise<unknown>((resolve) => (refused = resolve));
      await assert.rejects(get({ port, rejectUnauthorized: false }));
      assert.ok(isCode('RATLS_NO_PEER_CERT')(await anonymous));

      const impostor = await createAttestedCredentials(
        authority.attester({ measurement: '33'.repeat(32) }),
      );
      const wrong = new Promise<unknown>((resolve) => (refused = resolve));
      const agent = new AttestedAgent({
        credentials: impostor,
        verifiers: [authority.verifier()],
        policy: policyFor(KEYSERVICE),
      });
      await assert.rejects(get({ port, agent }));
      agent.destroy();
      assert.ok(isCode('POLICY_MEASUREMENT')(await wrong));
      assert.equal(handled, 0, 'no request reached the handler');
    } finally {
      await server.close();
    }
  });

  test('the client agent refuses a server with a wrong measurement; the request fails with the code', async () => {
    const server = new AttestedHttpsServer(
      { credentials: runtimeCreds, requireClientCert: false },
      (_req, res) => {
        res.end('ok');
      },
    );
    const { port } = await server.listen(0, HOST);
    const agent = new AttestedAgent({
      verifiers: [authority.verifier()],
      policy: policyFor(KEYSERVICE),
    });
    try {
      await assert.rejects(get({ port, agent }), isCode('POLICY_MEASUREMENT'));
    } finally {
      agent.destroy();
      await server.close();
    }
  });
});

describe('AttestedAgent and AttestedHttpsServer connections', () => {
  test('AttestedAgent never resumes a TLS session, where a plain agent does', async () => {
    const server = new AttestedHttpsServer(
      { credentials: keyServiceCreds, requireClientCert: false },
      (req, res) => {
        assert.ok(req.socket instanceof TLSSocket);
        res.end(String(req.socket.isSessionReused()));
      },
    );
    const { port } = await server.listen(0, HOST);
    const plain = new HttpsAgent({ keepAlive: false, rejectUnauthorized: false });
    const attested = new AttestedAgent({
      verifiers: [authority.verifier()],
      policy: policyFor(KEYSERVICE),
      agent: { keepAlive: false },
    });
    try {
      const reused = async (agent: HttpsAgent): Promise<string[]> => {
        const answers: string[] = [];
        for (let i = 0; i < 3; i++) answers.push((await get({ port, agent })).body);
        return answers;
      };
      // The anchor shows that this server resumes sessions for a client that offers one.
      assert.deepEqual(await reused(plain), ['false', 'true', 'true']);
      assert.deepEqual(await reused(attested), ['false', 'false', 'false']);
    } finally {
      plain.destroy();
      attested.destroy();
      await server.close();
    }
  });

  test('AttestedHttpsServer answers a refused client with answerRefused and never runs the handler', async () => {
    let handled = 0;
    const server = new AttestedHttpsServer(
      {
        credentials: keyServiceCreds,
        requireClientCert: true,
        clientCheck: { verifiers: [authority.verifier()], policy: policyFor(RUNTIME) },
        answerRefused: (error) => ({
          status: 403,
          body: JSON.stringify({ refused: isSemirtError(error) ? error.code : 'unknown' }),
        }),
      },
      (_req, res) => {
        handled++;
        res.end('secret');
      },
    );
    const { port } = await server.listen(0, HOST);
    const impostor = await createAttestedCredentials(
      authority.attester({ measurement: '33'.repeat(32) }),
    );
    const agent = new AttestedAgent({
      credentials: impostor,
      verifiers: [authority.verifier()],
      policy: policyFor(KEYSERVICE),
    });
    try {
      const answer = await get({ port, agent });
      assert.equal(answer.status, 403);
      assert.deepEqual(JSON.parse(answer.body), { refused: 'POLICY_MEASUREMENT' });
      assert.equal(handled, 0);
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  test('AttestedAgent fails a connection whose handshake does not finish within handshakeTimeoutMs', async () => {
    const held = new Set<Socket>();
    const silent = createNetServer((socket) => {
      held.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, HOST, resolve));
    const agent = new AttestedAgent({
      verifiers: [authority.verifier()],
      policy: policyFor(KEYSERVICE),
      handshakeTimeoutMs: 100,
    });
    try {
      await assert.rejects(
        get({ port: (silent.address() as AddressInfo).port, agent }),
        (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT',
      );
    } finally {
      agent.destroy();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('attestedConnect() refuses a server', () => {
  const check = (overrides: Partial<PeerCheck> = {}): PeerCheck => ({
    verifiers: [authority.verifier()],
    policy: policyFor(RUNTIME),
    ...overrides,
  });

  test('with a wrong measurement', async () => {
    await assert.rejects(connectTo(keyServiceCreds, check()), isCode('POLICY_MEASUREMENT'));
  });

  test('running a debug enclave', async () => {
    const debug = await createAttestedCredentials(
      authority.attester({ measurement: RUNTIME, debug: true }),
    );
    await assert.rejects(connectTo(debug, check()), isCode('POLICY_DEBUG'));
  });

  test('whose TCB status the policy does not accept', async () => {
    const outdated = await SimDcapAuthority.create(join(base, 'outdated'), {
      tcbStatus: 'OutOfDate',
    });
    const creds = await createAttestedCredentials(outdated.attester({ measurement: RUNTIME }));
    await assert.rejects(
      connectTo(creds, check({ verifiers: [outdated.verifier()] })),
      isCode('POLICY_TCB_STATUS'),
    );
    await connectTo(creds, {
      verifiers: [outdated.verifier()],
      policy: { ...policyFor(RUNTIME), acceptedTcbStatuses: ['UpToDate', 'OutOfDate'] },
    });
  });

  test('whose PCK certificate is revoked', async () => {
    const own = await SimDcapAuthority.create(join(base, 'revoked'));
    const creds = await createAttestedCredentials(own.attester({ measurement: RUNTIME }));
    const revoked = await own.revokePck();
    await assert.rejects(
      connectTo(creds, check({ verifiers: [revoked.verifier()] })),
      isCode('ATTESTATION_CERT_REVOKED'),
    );
  });

  test('when the collateral has expired', async () => {
    const old = await SimDcapAuthority.create(join(base, 'old'), {
      now: new Date(Date.now() - 100 * DAY_MS),
      collateralDays: 30,
    });
    const creds = await createAttestedCredentials(old.attester({ measurement: RUNTIME }));
    await assert.rejects(
      connectTo(creds, check({ verifiers: [old.verifier()] })),
      isCode('ATTESTATION_COLLATERAL_EXPIRED'),
    );
  });

  test('whose quote chains to another root', async () => {
    const other = await SimDcapAuthority.create(join(base, 'other'));
    const creds = await createAttestedCredentials(other.attester({ measurement: RUNTIME }));
    await assert.rejects(connectTo(creds, check()), isCode('ATTESTATION_UNTRUSTED_ROOT'));
  });

  test('presenting evidence copied from another certificate (key swap)', async () => {
    const swapped = await forgedCredentials(TCG_TAGGED_EVIDENCE_OID, evidenceOf(runtimeCreds));
    await assert.rejects(connectTo(swapped, check()), isCode('RATLS_KEY_BINDING'));
  });

  test('presenting evidence whose claims were rewritten for its own key', async () => {
    // The claims name the forger's key, but the quote's report data still binds the original claims.
    const forgerKeys = await generateP256();
    const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', forgerKeys.publicKey));
    const tagged = decode<Tag>(evidenceOf(runtimeCreds));
    const [quote] = tagged.contents as [Uint8Array, Uint8Array];
    const claims = encode({
      'pubkey-hash': [1, new Uint8Array(createHash('sha256').update(spki).digest())],
    });
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=forged',
      keys: forgerKeys,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.Extension(TCG_TAGGED_EVIDENCE_OID, false, encode(new Tag(60000, [quote, claims]))),
      ],
    });
    const creds = { key: await privateKeyPem(forgerKeys.privateKey), cert: cert.toString('pem') };
    await assert.rejects(connectTo(creds, check()), isCode('RATLS_KEY_BINDING'));
  });

  test('presenting tampered quote bytes', async () => {
    const tagged = decode<Tag>(evidenceOf(runtimeCreds));
    const [quote, claims] = tagged.contents as [Uint8Array, Uint8Array];
    const tampered = new Uint8Array(quote);
    tampered[48 + 64]! ^= 0x01; // MRENCLAVE
    // Re-issued with the genuine key and claims, so only the quote bytes differ.
    const keys = {
      privateKey: await importPrivateKeyPem(runtimeCreds.key),
      publicKey: await webcrypto.subtle.importKey(
        'spki',
        new X509Certificate(runtimeCreds.cert).publicKey.export({ type: 'spki', format: 'der' }),
        EC_P256,
        true,
        ['verify'],
      ),
    };
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=tampered',
      keys,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.Extension(
          TCG_TAGGED_EVIDENCE_OID,
          false,
          encode(new Tag(60000, [tampered, claims])),
        ),
      ],
    });
    await assert.rejects(
      connectTo({ key: runtimeCreds.key, cert: cert.toString('pem') }, check()),
      isCode('ATTESTATION_QUOTE_SIGNATURE'),
    );
    const legacy = await forgedCredentials(GRAMINE_LEGACY_QUOTE_OID, tampered);
    await assert.rejects(connectTo(legacy, check()), isCode('ATTESTATION_QUOTE_SIGNATURE'));
  });

  test('with garbage in the evidence extension', async () => {
    const garbage = await forgedCredentials(
      TCG_TAGGED_EVIDENCE_OID,
      Buffer.from('not cbor at all \xff\xff'),
    );
    await assert.rejects(connectTo(garbage, check()), isCode('RATLS_EVIDENCE_MALFORMED'));
  });

  test('with a certificate without evidence', async () => {
    const plain = await forgedCredentials(undefined, new Uint8Array());
    await assert.rejects(connectTo(plain, check()), isCode('RATLS_NO_EVIDENCE'));
  });
});

describe('verifyAttestedPeer()', () => {
  test("accepts Gramine's legacy extension when the report data is SHA-256 of the key", async () => {
    const keys = await generateP256();
    const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
    const reportData = new Uint8Array(64);
    reportData.set(createHash('sha256').update(spki).digest());
    const quote = await authority.attester({ measurement: RUNTIME }).attest(reportData);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=gramine',
      keys,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [new x509.Extension(GRAMINE_LEGACY_QUOTE_OID, false, quote)],
    });
    const evidence = await verifyAttestedPeer(
      new X509Certificate(cert.toString('pem')),
      [authority.verifier()],
      policyFor(RUNTIME),
    );
    assert.equal(evidence.measurement, RUNTIME);
  });

  test('refuses TDX evidence when only sim-dcap verifiers are configured', async () => {
    const tdxQuote = await readFile(
      join(SHARED_DATA, 'attestation', 'phala-dcap-qvl', 'tdx_quote'),
    );
    const forged = await forgedCredentials(GRAMINE_LEGACY_QUOTE_OID, tdxQuote);
    await assert.rejects(
      verifyAttestedPeer(
        new X509Certificate(forged.cert),
        [authority.verifier()],
        policyFor(RUNTIME),
      ),
      isCode('ATTESTATION_NO_VERIFIER'),
    );
  });
});
