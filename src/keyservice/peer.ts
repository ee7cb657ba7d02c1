import type { X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { SemirtError, isSemirtError } from '../errors.js';

/**
 * Checks a TLS peer's certificate after the handshake and returns the measurement its
 * attestation evidence proved. The attestation layer's `verifyAttestedPeer` (bound to its
 * verifiers and policy) has this shape; tests bind a certificate-fingerprint table instead.
 */
export type VerifyPeer = (cert: X509Certificate) => Promise<{ readonly measurement: string }>;

/** A private key and certificate (PEM) presented on TLS connections. */
export interface TlsCredentials {
  readonly key: string;
  readonly cert: string;
}

/** Wraps a verification failure in KEYSERVICE_PEER_REJECTED, keeping the cause. */
export function peerRejected(who: string, cause: unknown): SemirtError {
  if (isSemirtError(cause, 'KEYSERVICE_PEER_REJECTED')) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SemirtError('KEYSERVICE_PEER_REJECTED', `Cannot trust ${who}: ${reason}`, { cause });
}

/** Options of an AttestedAgent. */
export interface AttestedAgentOptions {
  readonly verifyServer: VerifyPeer;
  /** Presented to the server (the worker port requires a client certificate). */
  readonly credentials?: TlsCredentials;
  readonly keepAlive: boolean;
  readonly maxSockets?: number;
}

/**
 * An HTTPS agent that hands a connection to a request only after the server's certificate
 * passed `verifyServer`, so no request byte reaches an unverified server. (With self-signed
 * certificates Node never calls checkServerIdentity; the check has to be done by hand.) Kept-alive
 * connections are verified once, when opened. TLS sessions are never resumed: a resumed
 * session carries no certificate to verify, and Node caches a session before the verification of
 * the connection that created it has finished.
 */
export class AttestedAgent extends Agent {
  readonly #verifyServer: VerifyPeer;

  constructor(options: AttestedAgentOptions) {
    super({
      keepAlive: options.keepAlive,
      maxSockets: options.maxSockets ?? Infinity,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      maxCachedSessions: 0,
      ...(options.credentials === undefined
        ? {}
        : { key: options.credentials.key, cert: options.credentials.cert }),
    });
    this.#verifyServer = options.verifyServer;
  }

  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = super.createConnection(options) as TLSSocket;
    if (callback === undefined) {
      // Node's agents always pass a callback; without one the check could not gate the socket.
      socket.destroy();
      throw new SemirtError(
        'KEYSERVICE_PEER_REJECTED',
        'AttestedAgent needs the callback form of createConnection',
      );
    }
    const fail = (error: Error): void => {
      socket.destroy();
      callback(error, socket);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      if (cert === undefined) {
        fail(peerRejected('the KeyService', new Error('it presented no certificate')));
        return;
      }
      this.#verifyServer(cert).then(
        () => {
          socket.removeListener('error', fail);
          callback(null, socket);
        },
        (error: unknown) => {
          fail(peerRejected('the KeyService', error));
        },
      );
    });
    return undefined;
  }
}
