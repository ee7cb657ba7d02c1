import { createHash, timingSafeEqual, webcrypto, type X509Certificate } from 'node:crypto';
import {
  Server as HttpServer,
  type IncomingMessage,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  connect as tlsConnect,
  createServer as createTlsServer,
  type ConnectionOptions,
  type TLSSocket,
  type TlsOptions,
} from 'node:tls';
import { Tag, decode, encode } from 'cbor2';
import { SemirtError, isSemirtError } from '../errors.js';
import { quoteTeeType } from './dcap.js';
import { applyPolicy } from './policy.js';
import type { Attester, Policy, VerifiedEvidence, Verifier } from './types.js';
import { ECDSA_SHA256, generateP256, privateKeyPem, randomSerial, x509 } from './x509.js';

/**
 * RA-TLS: each process makes an ephemeral key pair and a self-signed certificate whose extension
 * carries a quote whose report data binds the certificate's public key. Peers are checked by hand
 * after the handshake and before any application data, in both directions: with self-signed
 * certificates Node never calls checkServerIdentity, so nothing else would check them.
 *
 * Evidence formats:
 * - TCG tagged evidence (OID 2.23.133.5.4.9, written and read): CBOR tag 60000 (Intel TEE quote)
 *   around `[quote, claims]`, where claims is the CBOR map `{"pubkey-hash": [1, SHA-256(SPKI)]}`
 *   (1 = sha-256 in the IANA named-information registry) and the report data is
 *   SHA-256(claims) ‖ 32 zero bytes.
 * - Legacy (read only): the raw quote under 1.2.840.113741.1337.6 (sgx-ra-tls) or Gramine's
 *   malformed 0.6.9.42.840.113741.1337.6, report data SHA-256(SPKI) ‖ 32 zero bytes.
 */

export const TCG_TAGGED_EVIDENCE_OID = '2.23.133.5.4.9';
export const LEGACY_SGX_QUOTE_OID = '1.2.840.113741.1337.6';
export const GRAMINE_LEGACY_QUOTE_OID = '0.6.9.42.840.113741.1337.6';
const CBOR_TAG_INTEL_TEE_QUOTE = 60000;
const HASH_ALG_SHA256 = 1;
const CERT_VALIDITY_MS = 365 * 24 * 60 * 60 * 1000;

export interface AttestedCredentials {
  /** PKCS#8 PEM private key (ephemeral, never persisted). */
  key: string;
  /** PEM self-signed certificate carrying the evidence. */
  cert: string;
}

function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

function reportDataFor(digest: Buffer): Uint8Array {
  const out = new Uint8Array(64);
  out.set(digest, 0);
  return out;
}

/** Makes an ephemeral P-256 key and a self-signed certificate with TCG tagged evidence binding it. */
export async function createAttestedCredentials(attester: Attester): Promise<AttestedCredentials> {
  const keys = await generateP256();
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const claims = encode({ 'pubkey-hash': [HASH_ALG_SHA256, new Uint8Array(sha256(spki))] });
  const quote = await attester.attest(reportDataFor(sha256(claims)));
  const evidence = encode(new Tag(CBOR_TAG_INTEL_TEE_QUOTE, [new Uint8Array(quote), claims]));
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=semirt RA-TLS (${attester.scheme})`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CERT_VALIDITY_MS),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [new x509.Extension(TCG_TAGGED_EVIDENCE_OID, false, evidence)],
  });
  return { key: await privateKeyPem(keys.privateKey), cert: cert.toString('pem') };
}

interface ExtractedEvidence {
  quote: Uint8Array;
  /** The report data the quote must carry to bind this certificate's key. */
  expectedReportData: Uint8Array;
}

function malformed(detail: string, cause?: unknown): SemirtError {
  return new SemirtError(
    'RATLS_EVIDENCE_MALFORMED',
    `Peer refused: the evidence extension ${detail}`,
    { cause },
  );
}

function bytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function extractEvidence(cert: X509Certificate): ExtractedEvidence {
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(cert.raw);
  } catch (error) {
    throw malformed('cannot be read: the certificate does not parse', error);
  }
  const spkiHash = sha256(cert.publicKey.export({ type: 'spki', format: 'der' }));
  const tagged = parsed.getExtension(TCG_TAGGED_EVIDENCE_OID);
  if (tagged) {
    let top: unknown;
    try {
      top = decode(new Uint8Array(tagged.value));
    } catch (error) {
      throw malformed(`${TCG_TAGGED_EVIDENCE_OID} is not CBOR`, error);
    }
    if (
      !(top instanceof Tag) ||
      top.tag !== CBOR_TAG_INTEL_TEE_QUOTE ||
      !Array.isArray(top.contents)
    ) {
      throw malformed(
        `${TCG_TAGGED_EVIDENCE_OID} is not CBOR tag ${CBOR_TAG_INTEL_TEE_QUOTE} around an array`,
      );
    }
    const [quote, claimsBytes] = top.contents as unknown[];
    if (!bytes(quote) || !bytes(claimsBytes))
      throw malformed('does not hold [quote, claims] byte strings');
    let claims: unknown;
    try {
      claims = decode(claimsBytes);
    } catch (error) {
      throw malformed('claims are not CBOR', error);
    }
    const pubkeyHash = (claims as Record<string, unknown> | null)?.['pubkey-hash'];
    if (!Array.isArray(pubkeyHash) || pubkeyHash[0] !== HASH_ALG_SHA256 || !bytes(pubkeyHash[1])) {
      throw malformed('claims have no SHA-256 "pubkey-hash"');
    }
    if (pubkeyHash[1].length !== 32 || !timingSafeEqual(pubkeyHash[1], spkiHash)) {
      throw new SemirtError(
        'RATLS_KEY_BINDING',
        "Peer refused: the evidence claims name another public key than the certificate's",
      );
    }
    return { quote, expectedReportData: reportDataFor(sha256(claimsBytes)) };
  }
  for (const oid of [LEGACY_SGX_QUOTE_OID, GRAMINE_LEGACY_QUOTE_OID]) {
    const legacy = parsed.getExtension(oid);
    if (legacy)
      return { quote: new Uint8Array(legacy.value), expectedReportData: reportDataFor(spkiHash) };
  }
  throw new SemirtError(
    'RATLS_NO_EVIDENCE',
    `Peer refused: its certificate has no attestation evidence extension (${TCG_TAGGED_EVIDENCE_OID}, ${LEGACY_SGX_QUOTE_OID} or ${GRAMINE_LEGACY_QUOTE_OID})`,
  );
}

/** Verifies evidence with the first verifier of its kind that accepts it; fails closed. */
async function verifyWithAny(
  quote: Uint8Array,
  verifiers: readonly Verifier[],
  now: Date,
): Promise<VerifiedEvidence> {
  const teeType = quoteTeeType(quote);
  const candidates = verifiers.filter((v) => (v.scheme === 'tdx-dcap') === (teeType === 'tdx'));
  if (candidates.length === 0) {
    throw new SemirtError(
      'ATTESTATION_NO_VERIFIER',
      `Peer refused: no configured verifier takes ${teeType.toUpperCase()} quotes (configured: ${verifiers.map((v) => v.scheme).join(', ') || 'none'})`,
    );
  }
  const errors: unknown[] = [];
  for (const verifier of candidates) {
    try {
      return await verifier.verify(quote, { now });
    } catch (error) {
      errors.push(error);
    }
  }
  // With several roots configured, "not our root" from one verifier says less than any other failure.
  throw errors.find((e) => !isSemirtError(e, 'ATTESTATION_UNTRUSTED_ROOT')) ?? errors[0];
}

/** Checks a peer certificate: evidence extension, key binding, evidence and policy. */
export async function verifyAttestedPeer(
  cert: X509Certificate,
  verifiers: readonly Verifier[],
  policy: Policy,
  now: Date = new Date(),
): Promise<VerifiedEvidence> {
  const { quote, expectedReportData } = extractEvidence(cert);
  const evidence = await verifyWithAny(quote, verifiers, now);
  if (!timingSafeEqual(Buffer.from(evidence.reportData), Buffer.from(expectedReportData))) {
    throw new SemirtError(
      'RATLS_KEY_BINDING',
      "Peer refused: the evidence's report data does not bind the certificate's public key",
    );
  }
  return applyPolicy(evidence, policy);
}

/** What both sides of an attested connection check the peer against. */
export interface PeerCheck {
  verifiers: readonly Verifier[];
  policy: Policy;
  /** The verification clock; defaults to the current time. */
  now?: () => Date;
}

const evidenceBySocket = new WeakMap<Socket, VerifiedEvidence>();

/** The verified evidence of an attested connection's peer (undefined if it was not attested). */
export function getPeerEvidence(socket: Socket): VerifiedEvidence | undefined {
  return evidenceBySocket.get(socket);
}

/** Verifies the peer of an established TLS socket and records its evidence; leaves the socket open. */
async function checkTlsPeer(socket: TLSSocket, check: PeerCheck): Promise<VerifiedEvidence> {
  const cert = socket.getPeerX509Certificate();
  if (!cert)
    throw new SemirtError('RATLS_NO_PEER_CERT', 'Peer refused: it presented no certificate');
  const evidence = await verifyAttestedPeer(
    cert,
    check.verifiers,
    check.policy,
    check.now?.() ?? new Date(),
  );
  evidenceBySocket.set(socket, evidence);
  return evidence;
}

/** Verifies the peer of an established TLS socket and records its evidence; destroys the socket on failure. */
export async function attestTlsPeer(
  socket: TLSSocket,
  check: PeerCheck,
): Promise<VerifiedEvidence> {
  try {
    return await checkTlsPeer(socket, check);
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** TLS options for an attested server; the peer is checked after the handshake, not by OpenSSL. */
export function attestedServerOptions(
  credentials: AttestedCredentials,
  options: { requireClientCert: boolean },
): TlsOptions {
  return {
    key: credentials.key,
    cert: credentials.cert,
    requestCert: options.requireClientCert,
    // Self-signed RA-TLS certificates never chain to a CA; attestTlsPeer does the real check.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
  };
}

/** TLS options for an attested client (its own certificate when the server requires one). */
export function attestedClientOptions(credentials?: AttestedCredentials): ConnectionOptions {
  return {
    ...(credentials ? { key: credentials.key, cert: credentials.cert } : {}),
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
  };
}

/** An HTTP answer to a client whose attestation was refused. */
export interface RefusalAnswer {
  status: number;
  body: string;
}

/** Options of an attested server: its credentials, whether clients must attest, and how. */
export interface AttestedServerOptions {
  credentials: AttestedCredentials;
  /** Require and check a client certificate (mutual attestation); otherwise clients are anonymous. */
  requireClientCert: boolean;
  /** How client certificates are checked; required with requireClientCert. */
  clientCheck?: PeerCheck;
  /** Called when a connection is refused (for logging). */
  onRefused?: (error: unknown) => void;
  /**
   * Answers a refused client's first request with this (then closes the connection), so that it
   * learns why; the handler never sees it. Without it, a refused connection is destroyed at once.
   */
  answerRefused?: (error: unknown) => RefusalAnswer;
  /** Connections accepted at once; more are closed on arrival. */
  maxConnections?: number;
  /** Limits of the HTTP layer (slow clients, idle kept-alive connections, header count). */
  http?: Pick<
    ServerOptions,
    'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout' | 'maxHeaderSize'
  > & { maxHeadersCount?: number };
}

/**
 * An HTTPS server whose connections reach `handler` only once the client's evidence has been
 * verified: the TLS listener holds each socket until attestTlsPeer succeeds, then hands it to an
 * HTTP server. Handlers read the client's evidence with getPeerEvidence(req.socket).
 */
export class AttestedHttpsServer {
  readonly #tls;
  readonly #http: HttpServer;
  /** Serves refused connections only: answers each request with the refusal, never the handler. */
  readonly #refusals: HttpServer | undefined;
  readonly #sockets = new Set<TLSSocket>();

  constructor(
    options: AttestedServerOptions,
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ) {
    const check = options.clientCheck;
    if (options.requireClientCert && !check) {
      throw new SemirtError(
        'ATTESTATION_SETUP',
        'Cannot create an attested server: requireClientCert needs clientCheck (verifiers and policy)',
      );
    }
    const { maxHeadersCount, ...httpOptions } = options.http ?? {};
    this.#http = new HttpServer(httpOptions, handler);
    if (maxHeadersCount !== undefined) this.#http.maxHeadersCount = maxHeadersCount;
    const answerRefused = options.answerRefused;
    const refusedBySocket = new WeakMap<Socket, unknown>();
    if (answerRefused !== undefined) {
      this.#refusals = new HttpServer(httpOptions, (req, res) => {
        const answer = answerRefused(refusedBySocket.get(req.socket));
        req.resume();
        res.writeHead(answer.status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(answer.body),
          connection: 'close',
        });
        res.end(answer.body);
      });
      this.#refusals.maxHeadersCount = 64;
    }
    this.#tls = createTlsServer(
      attestedServerOptions(options.credentials, { requireClientCert: options.requireClientCert }),
    );
    if (options.maxConnections !== undefined) this.#tls.maxConnections = options.maxConnections;
    this.#tls.on('secureConnection', (socket: TLSSocket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      // Until the HTTP server takes the socket, a reset by the client must not crash the process.
      socket.on('error', () => undefined);
      if (!check) {
        this.#http.emit('connection', socket);
        return;
      }
      checkTlsPeer(socket, check).then(
        () => {
          this.#http.emit('connection', socket);
        },
        (error: unknown) => {
          options.onRefused?.(error);
          if (this.#refusals === undefined) {
            socket.destroy();
            return;
          }
          refusedBySocket.set(socket, error);
          this.#refusals.emit('connection', socket);
        },
      );
    });
    // A failed handshake is the client's problem; keep serving others.
    this.#tls.on('tlsClientError', () => undefined);
  }

  /** Listens on `port` (0 = any) of `host`; resolves with the bound address. */
  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#tls.once('error', reject);
      this.#tls.listen(port, host, () => {
        this.#tls.off('error', reject);
        // The HTTP servers never listen themselves (the TLS listener hands them sockets), so their
        // connection tracking, which enforces headersTimeout and requestTimeout, starts here.
        this.#http.emit('listening');
        this.#refusals?.emit('listening');
        resolve(this.#tls.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and closes every open connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#tls.close(() => {
        resolve();
      });
      for (const socket of this.#sockets) socket.destroy();
      this.#http.close();
      this.#refusals?.close();
    });
  }
}

/** Opens a TLS connection and resolves once the server's evidence has been verified. */
export function attestedConnect(
  options: { host: string; port: number; credentials?: AttestedCredentials } & PeerCheck,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: options.host,
      port: options.port,
      ...attestedClientOptions(options.credentials),
    });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      attestTlsPeer(socket, options).then((): void => {
        socket.off('error', reject);
        resolve(socket);
      }, reject);
    });
  });
}

/**
 * An HTTPS agent whose sockets are handed to requests only after the server attested; keep-alive
 * sockets are reused without re-checking. Requests see a refusal as an 'error' with its code.
 * TLS sessions are never resumed: a resumed session carries no certificate to verify, and Node
 * caches a session before the check of the connection that created it has finished.
 */
export class AttestedAgent extends HttpsAgent {
  readonly #check: PeerCheck;
  readonly #handshakeTimeoutMs: number | undefined;

  constructor(
    options: {
      credentials?: AttestedCredentials;
      agent?: AgentOptions;
      /** Fail a connection (code ETIMEDOUT) whose handshake and attestation take longer. */
      handshakeTimeoutMs?: number;
    } & PeerCheck,
  ) {
    super({
      ...options.agent,
      ...attestedClientOptions(options.credentials),
      maxCachedSessions: 0,
    });
    this.#check = options;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs;
  }

  /** Connects, then calls back only once the server's evidence verified (Node's async createConnection form). */
  override createConnection(
    connectOptions: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    if (!callback) {
      throw new SemirtError(
        'ATTESTATION_SETUP',
        'Cannot open an attested connection without a callback: the peer is checked asynchronously',
      );
    }
    // Node's https agent passes TLS connection options (host, port, servername, key, cert…); a
    // session named by the caller is dropped so that every connection does a full handshake.
    const fullHandshake: ConnectionOptions = { ...(connectOptions as ConnectionOptions) };
    delete fullHandshake.session;
    const socket = tlsConnect(fullHandshake);
    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.off('error', settle);
      if (error !== null) socket.destroy();
      callback(error, socket);
    };
    // A request's own timeout only starts once it has a socket, so the handshake needs its own.
    const deadline =
      this.#handshakeTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            settle(
              Object.assign(
                new Error(
                  `TLS handshake and attestation not done within ${this.#handshakeTimeoutMs} ms`,
                ),
                { code: 'ETIMEDOUT' },
              ),
            );
          }, this.#handshakeTimeoutMs);
    socket.once('error', settle);
    socket.once('secureConnect', () => {
      attestTlsPeer(socket, this.#check).then(
        () => {
          settle(null);
        },
        (error: unknown) => {
          settle(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
    return undefined;
  }
}
