import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SemirtError } from '../errors.js';
import { BodyTooLargeError, readBody } from '../http-body.js';
import type { Logger } from '../log/logger.js';
import type { Proxy } from './proxy.js';
import { errorResponse, type ProxyResponse } from './responses.js';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
}

/** A listening runtime server. */
export interface RuntimeServer {
  readonly port: number;
  /** Stops listening and closes idle connections; resolves when the server is closed. */
  close(): Promise<void>;
}

/** Binds the proxy to an HTTP server: body limits, Content-Length on every answer, no timeouts on activations. */
export async function listen(
  proxy: Proxy,
  options: ServerOptions,
  logger: Logger,
): Promise<RuntimeServer> {
  const server = createServer(
    // Activations may legitimately run for the action's whole time limit (minutes): the invoker
    // owns that timeout, as with the Node.js runtime (server.timeout = 0).
    { requestTimeout: 0, keepAliveTimeout: 10_000 },
    (req, res) => {
      handleRequest(proxy, options.maxBodyBytes, req, res, logger);
    },
  );
  // Malformed HTTP (garbage bytes, half-closed sockets) never reaches the proxy; answer if possible.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') {
      const body = JSON.stringify({ error: 'Bad request: malformed HTTP' });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    } else {
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => closeServer(server),
  };
}

function handleRequest(
  proxy: Proxy,
  maxBodyBytes: number,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): void {
  readBody(req, maxBodyBytes).then(
    (body) =>
      proxy
        .handle({ method: req.method ?? 'GET', path: req.url ?? '/', body })
        .then((response) => {
          // While draining, clients must not reuse the connection: the server closes soon.
          send(res, proxy.draining ? { ...response, close: true } : response);
        })
        .catch((err: unknown) => {
          logger.error({ err }, 'request failed');
          send(res, errorResponse(err));
        }),
    (err: unknown) => {
      // Too large: answer and close; otherwise the client went away mid-body: nothing to answer.
      if (err instanceof BodyTooLargeError) send(res, tooLarge(maxBodyBytes));
    },
  );
}

function tooLarge(maxBodyBytes: number): ProxyResponse {
  return errorResponse(
    new SemirtError(
      'BODY_TOO_LARGE',
      `Bad request: the body exceeds the limit of ${maxBodyBytes / (1024 * 1024)} MB`,
    ),
  );
}

/** Sends a complete answer with Content-Length; the invoker treats chunked answers as failures. */
function send(res: ServerResponse, response: ProxyResponse): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': response.body.length,
  };
  if (response.close === true) headers['connection'] = 'close';
  res.writeHead(response.status, headers);
  res.end(response.body);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeIdleConnections();
  });
}
