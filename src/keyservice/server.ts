import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AttestedHttpsServer,
  getPeerEvidence,
  type AttestedCredentials,
  type PeerCheck,
} from '../attestation/ra-tls.js';
import type { Logger } from '../log/logger.js';
import { BodyTooLargeError, readBody } from '../http-body.js';
import { SemirtError, isSemirtError } from '../errors.js';
import { checkMeasurement, quote } from './messages.js';
import type { KeyService } from './service.js';

/** Validated options of the KeyService's two HTTPS listeners. */
export interface KeyServiceServerOptions {
  readonly host: string;
  /** Owners and users (SeSeMI's 13570); 0 picks a free port. */
  readonly clientPort: number;
  /** Attested runtimes (SeSeMI's 13571); 0 picks a free port. */
  readonly workerPort: number;
  /** The KeyService's own RA-TLS credentials, presented on both listeners. */
  readonly credentials: AttestedCredentials;
  /**
   * How a worker's certificate is checked after the handshake; the measurement in its verified
   * evidence drives the access check. The policy normally names no measurement: grants decide.
   */
  readonly workerCheck: PeerCheck;
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
  const common = {
    credentials: options.credentials,
    maxConnections: options.maxConnections,
    http: {
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 60_000,
      maxHeadersCount: 64,
    },
  };
  const clientFailure: Failure = (message) => ({
    success: false,
    reply: `Request failed: ${message}`,
  });
  const workerFailure: Failure = (message) => ({ success: false, msg: message });

  const client = new AttestedHttpsServer({ ...common, requireClientCert: false }, (req, res) => {
    void (async () => {
      const json = await readJsonRequest(req, options.maxClientBodyBytes);
      const answer = service.handleClient(json);
      sendJson(res, answer.status, answer.body);
    })().catch((error: unknown) => {
      failRequest(req, res, error, clientFailure, logger);
    });
  });

  // The worker listener hands a connection to this handler only once the worker's evidence
  // verified; a refused worker gets a 403 naming the failed check, and nothing else.
  const worker = new AttestedHttpsServer(
    {
      ...common,
      requireClientCert: true,
      clientCheck: options.workerCheck,
      onRefused: (error) => {
        logger.warn(
          { code: isSemirtError(error) ? error.code : undefined, reason: (error as Error).message },
          'worker connection rejected',
        );
      },
      answerRefused: (error) => ({
        status: 403,
        body: JSON.stringify(workerFailure(`Cannot trust the worker: ${(error as Error).message}`)),
      }),
    },
    (req, res) => {
      void (async () => {
        const evidence = getPeerEvidence(req.socket);
        if (evidence === undefined) {
          // Unreachable by construction (the listener verifies first); fail closed regardless.
          throw new SemirtError(
            'KEYSERVICE_PEER_REJECTED',
            'Cannot trust the worker: not attested',
          );
        }
        const measurement = checkMeasurement(evidence.measurement, 'verified measurement');
        const json = await readJsonRequest(req, options.maxWorkerBodyBytes);
        const answer = service.handleWorker(json, measurement);
        sendJson(res, answer.status, answer.body);
      })().catch((error: unknown) => {
        failRequest(req, res, error, workerFailure, logger);
      });
    },
  );

  let clientPort: number;
  let workerPort: number;
  try {
    clientPort = (await client.listen(options.clientPort, options.host)).port;
    workerPort = (await worker.listen(options.workerPort, options.host)).port;
  } catch (error) {
    await Promise.all([client.close(), worker.close()]);
    throw error;
  }
  logger.info({ clientPort, workerPort }, 'KeyService listening');
  return {
    clientPort,
    workerPort,
    close: async () => {
      await Promise.all([client.close(), worker.close()]);
    },
  };
}

/** Reads a JSON body of at most `limit` bytes. */
async function readJsonRequest(req: IncomingMessage, limit: number): Promise<unknown> {
  if (req.method !== 'POST' || req.url !== '/') {
    throw new SemirtError(
      'KEYSERVICE_BAD_REQUEST',
      `Invalid request: expected POST /, got ${req.method ?? '?'} ${quote(req.url ?? '')}`,
    );
  }
  let body: Buffer;
  try {
    body = await readBody(req, limit);
  } catch (error) {
    throw error instanceof BodyTooLargeError ? tooLarge(limit) : error;
  }
  const text = body.toString('utf8');
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
