import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import { AttestedAgent, type AttestedCredentials } from '../attestation/ra-tls.js';
import type { Policy, Verifier } from '../attestation/types.js';
import { SemirtError, isSemirtError } from '../errors.js';
import { decodeBase64 } from '../crypto/encoding.js';
import { encryptEnvelope, gcmAlgorithm } from '../crypto/envelope.js';
import { userIdOf } from '../crypto/id-key.js';
import {
  REQUEST_TYPES,
  checkModelId,
  checkUserId,
  payloadObject,
  type ClientReply,
  type UserRequest,
} from './messages.js';

/** Where a KeyService listener is. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

const MAX_REPLY_BYTES = 64 * 1024;

/** A failed post: the error, and whether it happened on a kept-alive connection reused for it. */
class PostFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly reusedSocket: boolean,
  ) {
    super('post failed', { cause: error });
  }
}

/** Posts JSON through an agent and returns the status and parsed JSON reply. */
function postOnce(
  endpoint: Endpoint,
  agent: AttestedAgent,
  body: string,
  timeoutMs: number,
): Promise<{ status: number; json: unknown }> {
  const where = `${endpoint.host}:${endpoint.port}`;
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(
      {
        host: endpoint.host,
        port: endpoint.port,
        method: 'POST',
        path: '/',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) {
            res.destroy(protocolError(`the reply from ${where} exceeds ${MAX_REPLY_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error) => {
          reject(new PostFailure(error, req.reusedSocket));
        });
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
            });
          } catch {
            reject(
              protocolError(`the reply from ${where} (HTTP ${res.statusCode ?? 0}) is not JSON`),
            );
          }
        });
      },
    );
    req.on('error', (error) => {
      reject(new PostFailure(error, req.reusedSocket));
    });
    req.end(body);
  });
}

/** A connection reset or closed under a request (Node reports a hang-up as ECONNRESET too). */
function isReset(failure: PostFailure): boolean {
  const code = (failure.error as NodeJS.ErrnoException | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * Posts JSON and returns the status and parsed reply. When `retry` is given and a kept-alive
 * connection turns out to be reset (the KeyService restarted, or closed it while idle), the
 * request is sent once more through `retry`, which opens a new connection.
 */
async function postJson(
  endpoint: Endpoint,
  agents: { main: AttestedAgent; retry?: AttestedAgent },
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; json: unknown }> {
  const text = JSON.stringify(body);
  try {
    return await postOnce(endpoint, agents.main, text, timeoutMs);
  } catch (first) {
    if (
      !(first instanceof PostFailure) ||
      !first.reusedSocket ||
      !isReset(first) ||
      agents.retry === undefined
    ) {
      throw connectionError(endpoint, first, timeoutMs);
    }
    try {
      return await postOnce(endpoint, agents.retry, text, timeoutMs);
    } catch (second) {
      const twice = second instanceof PostFailure && isReset(second);
      throw connectionError(endpoint, second, timeoutMs, twice ? ' (reset twice)' : '');
    }
  }
}

/** Names why a post failed: the KeyService's attestation, or it being unreachable. */
function connectionError(
  endpoint: Endpoint,
  failure: unknown,
  timeoutMs: number,
  suffix = '',
): SemirtError {
  const error = failure instanceof PostFailure ? failure.error : failure;
  const where = `${endpoint.host}:${endpoint.port}`;
  if (isSemirtError(error)) {
    if (error.code.startsWith('KEYSERVICE_')) return error;
    // Anything else the agent reports is the attestation check of the KeyService failing.
    return new SemirtError(
      'KEYSERVICE_PEER_REJECTED',
      `Cannot trust the KeyService at ${where}: ${error.message} (${error.code})`,
      { cause: error },
    );
  }
  const timedOut =
    error instanceof Error &&
    (error.name === 'AbortError' || (error as NodeJS.ErrnoException).code === 'ETIMEDOUT');
  const reason = timedOut
    ? `no reply within ${timeoutMs} ms`
    : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
  return new SemirtError(
    'KEYSERVICE_UNAVAILABLE',
    `Cannot reach the KeyService at ${where}: ${reason}${suffix}`,
    { cause: error },
  );
}

function protocolError(message: string): SemirtError {
  return new SemirtError('KEYSERVICE_PROTOCOL', `Invalid KeyService reply: ${message}`);
}

/** Turns a refusal status into the matching error code. */
function refusal(status: number, message: string): SemirtError {
  const code =
    status === 403
      ? 'KEYSERVICE_DENIED'
      : status === 400 || status === 413
        ? 'KEYSERVICE_BAD_REQUEST'
        : 'KEYSERVICE_UNAVAILABLE';
  return new SemirtError(code, `The KeyService refused the request (HTTP ${status}): ${message}`);
}

/** Options of a KeyServiceClient. */
export interface KeyServiceClientOptions {
  readonly endpoint: Endpoint;
  /** Check the KeyService's attested certificate before anything is sent. */
  readonly verifiers: readonly Verifier[];
  /** Names the KeyService's measurement (allowedMeasurements). */
  readonly policy: Policy;
  readonly timeoutMs?: number;
}

/**
 * The owners' and users' client of the KeyService's client port: builds SeSeMI-format requests
 * (payload encrypted under the sender's id key, with a replay counter) and sends them over TLS
 * to a KeyService whose attestation verified. Requests are sent one at a time, so counters
 * arrive in order.
 */
export class KeyServiceClient {
  readonly #endpoint: Endpoint;
  readonly #agent: AttestedAgent;
  readonly #timeoutMs: number;
  #lastCounter = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: KeyServiceClientOptions) {
    this.#endpoint = options.endpoint;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#agent = new AttestedAgent({
      verifiers: options.verifiers,
      policy: options.policy,
      agent: { keepAlive: true, maxSockets: 1 },
      handshakeTimeoutMs: this.#timeoutMs,
    });
  }

  /** Registers the id key (SeSeMI type 0); resolves to the user id. */
  async register(idKey: Uint8Array): Promise<string> {
    gcmAlgorithm(idKey, 'id key');
    await this.sendRaw({
      type: REQUEST_TYPES.REGISTER,
      user_id: Buffer.from(idKey).toString('base64'),
    });
    return userIdOf(idKey);
  }

  /** Sends one user request, encrypted under the sender's id key. */
  async send(idKey: Uint8Array, userRequest: UserRequest): Promise<ClientReply> {
    return this.sendRaw(this.build(idKey, userRequest));
  }

  /** Builds a request with this client's next replay counter, to send later or elsewhere. */
  build(
    idKey: Uint8Array,
    userRequest: UserRequest,
  ): { type: number; user_id: string; payload: string } {
    return buildClientRequest(idKey, userRequest, this.#nextCounter());
  }

  /** Sends an already built request object (e.g. a SeSeMI request file); throws on refusal. */
  sendRaw(body: unknown): Promise<ClientReply> {
    const run = this.#queue.then(() => this.#post(body));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  async #post(body: unknown): Promise<ClientReply> {
    // Client requests are not retried: a replayed counter would be refused anyway.
    const { status, json } = await postJson(
      this.#endpoint,
      { main: this.#agent },
      body,
      this.#timeoutMs,
    );
    const reply = json as Partial<ClientReply> | null;
    if (
      typeof reply !== 'object' ||
      reply === null ||
      typeof reply.success !== 'boolean' ||
      typeof reply.reply !== 'string'
    ) {
      throw protocolError(`expected {"success": boolean, "reply": string} (HTTP ${status})`);
    }
    if (!reply.success) throw refusal(status, reply.reply);
    return { success: true, reply: reply.reply };
  }

  // Microseconds since the epoch keep counters increasing across separate CLI runs; within a
  // process they also step past the previous one.
  #nextCounter(): number {
    this.#lastCounter = Math.max(Date.now() * 1000, this.#lastCounter + 1);
    return this.#lastCounter;
  }
}

/** Builds `{type, user_id, payload}` for a user request under a fresh random IV. */
export function buildClientRequest(
  idKey: Uint8Array,
  userRequest: UserRequest,
  counter: number,
): { type: number; user_id: string; payload: string } {
  const plain = Buffer.from(JSON.stringify(payloadObject(userRequest, counter)), 'utf8');
  const payload = encryptEnvelope(idKey, plain).toString('base64');
  plain.fill(0);
  return { type: userRequest.type, user_id: userIdOf(idKey), payload };
}

/** The keys the KeyService released for one (user, model). */
export interface ReleasedKeys {
  readonly inputKey: Buffer;
  readonly modelKey: Buffer;
}

/** Options of a WorkerKeyClient. */
export interface WorkerKeyClientOptions {
  readonly endpoint: Endpoint;
  /** The runtime's own RA-TLS credentials, presented as the TLS client certificate. */
  readonly credentials: AttestedCredentials;
  /** Check the KeyService's attested certificate before a request is sent. */
  readonly verifiers: readonly Verifier[];
  /** Names the KeyService's measurement (allowedMeasurements). */
  readonly policy: Policy;
  /** Keep connections open between requests (the default); off, each request attests anew. */
  readonly keepAlive?: boolean;
  readonly timeoutMs?: number;
}

/**
 * The runtime's client of the KeyService's worker port (mutually attested TLS). Errors:
 * KEYSERVICE_UNAVAILABLE (refused, timed out, or reset on a kept-alive connection and again on a
 * new one), KEYSERVICE_DENIED (no grant for this runtime's measurement and the user, or its
 * attestation refused), KEYSERVICE_PEER_REJECTED (the KeyService's attestation failed), and
 * KEYSERVICE_PROTOCOL (a malformed reply).
 */
export class WorkerKeyClient {
  readonly #endpoint: Endpoint;
  readonly #agent: AttestedAgent;
  /** Opens a new connection per request: the one retry after a kept-alive connection was reset. */
  readonly #retryAgent: AttestedAgent;
  readonly #timeoutMs: number;

  constructor(options: WorkerKeyClientOptions) {
    this.#endpoint = options.endpoint;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    const agent = (keepAlive: boolean): AttestedAgent =>
      new AttestedAgent({
        credentials: options.credentials,
        verifiers: options.verifiers,
        policy: options.policy,
        agent: { keepAlive },
        handshakeTimeoutMs: this.#timeoutMs,
      });
    this.#agent = agent(options.keepAlive ?? true);
    this.#retryAgent = agent(false);
  }

  /** Fetches the request key and model key for (user, model); throws KEYSERVICE_DENIED when refused. */
  async fetchKeys(userId: string, modelId: string): Promise<ReleasedKeys> {
    const user = checkUserId(userId, 'user_id');
    const model = checkModelId(modelId);
    const { status, json } = await postJson(
      this.#endpoint,
      { main: this.#agent, retry: this.#retryAgent },
      { user_id: user, model_id: model },
      this.#timeoutMs,
    );
    const reply = json as { success?: unknown; msg?: unknown } | null;
    if (
      typeof reply !== 'object' ||
      reply === null ||
      typeof reply.success !== 'boolean' ||
      typeof reply.msg !== 'string'
    ) {
      throw protocolError(`expected {"success": boolean, "msg": string} (HTTP ${status})`);
    }
    if (!reply.success) throw refusal(status, reply.msg);
    let keys: Record<string, unknown>;
    try {
      keys = JSON.parse(reply.msg) as Record<string, unknown>;
    } catch {
      throw protocolError('"msg" is not JSON');
    }
    if (keys['user_id'] !== user || keys['model_id'] !== model) {
      throw protocolError('the released keys name another user or model');
    }
    return {
      inputKey: releasedKey(keys['input_key'], 'input_key'),
      modelKey: releasedKey(keys['model_key'], 'model_key'),
    };
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#agent.destroy();
    this.#retryAgent.destroy();
  }
}

function releasedKey(value: unknown, field: string): Buffer {
  try {
    if (typeof value !== 'string') throw new Error('not a string');
    const key = decodeBase64(value, field);
    gcmAlgorithm(key, field);
    return key;
  } catch {
    throw protocolError(`"${field}" is not the base64 of a 16- or 32-byte key`);
  }
}
