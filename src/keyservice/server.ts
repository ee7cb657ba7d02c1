import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.js';
import { SemirtError, isSemirtError } from '../errors.js';
import { checkMeasurement, quote } from './messages.js';
import { peerRejected, type TlsCredentials, type VerifyPeer } from './peer.js';
import type { KeyService } from './service.js';

/** Validated options of the KeyService's two HTTPS listeners. */
export interface KeyServiceServerOptions {
  readonly host: string;
  /** Owners and users (SeSeMI's 13570); 0 picks a free port. */
  readonly clientPort: number;
  /** Attested runtimes (SeSeMI's 13571); 0 picks a free port. */
  readonly workerPort: number;
  /** The KeyService's own (attested) certificate, presented on both listeners. */
  readonly credentials: TlsCredentials;
  /** Verifies a worker's certificate after the handshake; its measurement drives access checks. */
  readonly verifyWorker: VerifyPeer;
  readonly maxClientBodyBytes: number;
  readonly maxWorkerBodyBytes: number;
  /** Connections accepted at once on each listener; more are closed on arrival. */
  readonly maxConnections: number;
  readonly logger: Logger;
}

/** A KeyService listening on its two ports. */
export interface RunningKeyService {
  readonly clientPort: number;
  readonly workerPort: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

type Failure = (message: string) => object;

/** Starts the client and worker listeners of a KeyService. */
export async function startKeyServiceServer(
  service: KeyService,
  options: KeyServiceServerOptions,
): Promise<RunningKeyService> {
  const { logger } = options;
  const tls = {
    key: options.credentials.key,
    cert: options.credentials.cert,
    minVersion: 'TLSv1.2' as const,
    headersTimeout: 10_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 60_000,
  };
  const clientFailure: Failure = (message) => ({
    success: false,
    reply: `Request failed: ${message}`,
  });
  const workerFailure: Failure = (message) => ({ success: false, msg: message });

  const client = createServer(tls, (req, res) => {
    void (async () => {
      const json = await readJsonRequest(req, options.maxClientBodyBytes);
      const answer = service.handleClient(json);
      sendJson(res, answer.status, answer.body);
    })().catch((error: unknown) => {
      failRequest(req, res, error, clientFailure, logger);
    });
  });

  // The worker port requires a client certificate, which cannot chain to a CA (it is an
  // attested self-signed certificate): accept any at the handshake, then verify it by hand.
  const worker = createServer(
    { ...tls, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      void (async () => {
        const verification = verified.get(req.socket);
        if (verification === undefined)
          throw peerRejected('the worker', new Error('no TLS session'));
        const measurement = await verification;
        const json = await readJsonRequest(req, options.maxWorkerBodyBytes);
        const answer = service.handleWorker(json, measurement);
        sendJson(res, answer.status, answer.body);
      })().catch((error: unknown) => {
        failRequest(req, res, error, workerFailure, logger);
      });
    },
  );
  const verified = new WeakMap<Socket, Promise<string>>();
  // Runs before any request on the connection is handled (the HTTP parser attaches in the same
  // event), and every request handler awaits the result before reading the body.
  worker.on('secureConnection', (socket: TLSSocket) => {
    const verification = verifyPeerSocket(socket, options.verifyWorker);
    verification.catch((error: unknown) => {
      logger.warn(
        { code: isSemirtError(error) ? error.code : undefined, reason: (error as Error).message },
        'worker connection rejected',
      );
    });
    verified.set(socket, verification);
  });

  for (const server of [client, worker]) {
    server.maxConnections = options.maxConnections;
    server.maxHeadersCount = 64;
  }
  try {
    await listen(client, options.host, options.clientPort);
    await listen(worker, options.host, options.workerPort);
  } catch (error) {
    await Promise.all([closeServer(client), closeServer(worker)]);
    throw error;
  }
  const clientPort = (client.address() as AddressInfo).port;
  const workerPort = (worker.address() as AddressInfo).port;
  logger.info({ clientPort, workerPort }, 'KeyService listening');
  return {
    clientPort,
    workerPort,
    close: async () => {
      await Promise.all([closeServer(client), closeServer(worker)]);
    },
  };
}

async function verifyPeerSocket(socket: TLSSocket, verify: VerifyPeer): Promise<string> {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) {
    throw peerRejected('the worker', new Error('it presented no client certificate'));
  }
  try {
    const { measurement } = await verify(cert);
    return checkMeasurement(measurement, 'verified measurement');
  } catch (error) {
    throw peerRejected('the worker', error);
  }
}

/** Reads a JSON body of at most `limit` bytes. */
async function readJsonRequest(req: IncomingMessage, limit: number): Promise<unknown> {
  if (req.method !== 'POST' || req.url !== '/') {
    throw new SemirtError(
      'KEYSERVICE_BAD_REQUEST',
      `Invalid request: expected POST /, got ${req.method ?? '?'} ${quote(req.url ?? '')}`,
    );
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SemirtError('KEYSERVICE_BAD_REQUEST', 'Invalid request: the body is not JSON');
  }
}

function tooLarge(limit: number): SemirtError {
  return new SemirtError(
    'KEYSERVICE_BODY_TOO_LARGE',
    `Invalid request: the body exceeds the limit of ${limit} bytes`,
  );
}

function sendJson(res: ServerResponse, status: number, body: object, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

function failRequest(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  failure: Failure,
  logger: Logger,
): void {
  const known = isSemirtError(error);
  if (!known) logger.error({ reason: (error as Error).message }, 'KeyService request failed');
  // Seen from the server, a peer that failed verification is refused (403), not a bad gateway.
  const status = !known ? 500 : error.code === 'KEYSERVICE_PEER_REJECTED' ? 403 : error.status;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A body left unread, or an unverified peer, makes the connection unusable: close it.
  const close = !req.complete || (known && error.code === 'KEYSERVICE_PEER_REJECTED');
  sendJson(res, status, failure(known ? error.message : 'internal error'), close);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}
