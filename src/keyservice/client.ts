import { request } from 'node:https';
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
import { AttestedAgent, type TlsCredentials, type VerifyPeer } from './peer.js';

/** Where a KeyService listener is. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

const MAX_REPLY_BYTES = 64 * 1024;

/** Posts JSON through an agent and returns the status and parsed JSON reply. */
async function postJson(
  endpoint: Endpoint,
  agent: AttestedAgent,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; json: unknown }> {
  const text = JSON.stringify(body);
  const where = `${endpoint.host}:${endpoint.port}`;
  try {
    return await new Promise((resolve, reject) => {
      const req = request(
        {
          host: endpoint.host,
          port: endpoint.port,
          method: 'POST',
          path: '/',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
          },
          signal: AbortSignal.timeout(timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_REPLY_BYTES) {
              res.destroy(
                protocolError(`the reply from ${where} exceeds ${MAX_REPLY_BYTES} bytes`),
              );
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', reject);
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
      req.on('error', reject);
      req.end(text);
    });
  } catch (error) {
    if (isSemirtError(error)) throw error;
    const reason =
      error instanceof Error && error.name === 'AbortError'
        ? `no reply within ${timeoutMs} ms`
        : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    throw new SemirtError(
      'KEYSERVICE_UNAVAILABLE',
      `Cannot reach the KeyService at ${where}: ${reason}`,
      {
        cause: error,
      },
    );
  }
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
  /** Checks the KeyService's attested certificate before anything is sent. */
  readonly verifyServer: VerifyPeer;
  readonly timeoutMs?: number;
}

/**
 * The owners' and users' client of the KeyService's client port: builds SeSeMI-format requests
 * (payload encrypted under the sender's id key, with a replay counter) and sends them over TLS
 * to a verified KeyService. Requests are sent one at a time, so counters arrive in order.
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
      verifyServer: options.verifyServer,
      keepAlive: true,
      maxSockets: 1,
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
    const { status, json } = await postJson(this.#endpoint, this.#agent, body, this.#timeoutMs);
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
  /** The runtime's own attested certificate, presented as the TLS client certificate. */
  readonly credentials: TlsCredentials;
  readonly verifyServer: VerifyPeer;
  /** Keep connections open between requests (the default); off, each request attests anew. */
  readonly keepAlive?: boolean;
  readonly maxSockets?: number;
  readonly timeoutMs?: number;
}

/** The runtime's client of the KeyService's worker port (mutually attested TLS). */
export class WorkerKeyClient {
  readonly #endpoint: Endpoint;
  readonly #agent: AttestedAgent;
  readonly #timeoutMs: number;

  constructor(options: WorkerKeyClientOptions) {
    this.#endpoint = options.endpoint;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#agent = new AttestedAgent({
      verifyServer: options.verifyServer,
      credentials: options.credentials,
      keepAlive: options.keepAlive ?? true,
      ...(options.maxSockets === undefined ? {} : { maxSockets: options.maxSockets }),
    });
  }

  /** Fetches the request key and model key for (user, model); throws KEYSERVICE_DENIED when refused. */
  async fetchKeys(userId: string, modelId: string): Promise<ReleasedKeys> {
    const user = checkUserId(userId, 'user_id');
    const model = checkModelId(modelId);
    const { status, json } = await postJson(
      this.#endpoint,
      this.#agent,
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
